"""Knowledge-base services: create, update, delete, import. Callers own the transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from core.changes import record_changes
from core.clock import utcnow
from core.errors import ImportFileError, LineError, NotFoundError
from core.jsonl import read_jsonl, validation_reason
from core.schemas import ImportReport, serves_channel
from kb.chunking import chunk_article
from kb.models import Article, ArticleChunk
from kb.schemas import ArticleCreate, ArticleRead, ArticleUpdate

COLLECTION = "articles"


def _content_hash(article_in: ArticleCreate) -> str:
    payload = json.dumps(
        [
            article_in.title,
            article_in.body,
            article_in.locale,
            sorted(article_in.channels),
            sorted(article_in.tags),
            article_in.url,
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def to_read(article: Article) -> ArticleRead:
    return ArticleRead(
        id=article.external_id,
        title=article.title,
        body=article.body,
        locale=article.locale,
        channels=list(article.channels),
        tags=list(article.tags),
        url=article.url,
        updated_at=article.source_updated_at or article.updated_at,
    )


def get_by_external_id(session: Session, *, tenant_id: str, external_id: str) -> Article | None:
    """One article of this tenant by its external id, or None."""
    return session.scalar(
        select(Article)
        .where(Article.tenant_id == tenant_id, Article.external_id == external_id)
        .options(selectinload(Article.chunks))
    )


def get(session: Session, *, tenant_id: str, external_id: str) -> Article:
    """One article, or NotFoundError."""
    article = get_by_external_id(session, tenant_id=tenant_id, external_id=external_id)
    if article is None:
        raise NotFoundError(f"article {external_id!r} not found")
    return article


def list_(
    session: Session,
    *,
    tenant_id: str,
    offset: int = 0,
    limit: int = 50,
    tag: str | None = None,
    channel: str | None = None,
    locale: str | None = None,
) -> tuple[list[Article], int]:
    """A page of articles ordered by their external id (a string sort), with the count after filtering."""
    query = select(Article).where(Article.tenant_id == tenant_id)
    if locale:
        query = query.where(Article.locale == locale)
    articles = list(session.scalars(query.order_by(Article.external_id)))
    if tag:
        articles = [a for a in articles if tag in a.tags]
    if channel:
        articles = [a for a in articles if serves_channel(a.channels, channel)]
    return articles[offset : offset + limit], len(articles)


def _sync_chunks(session: Session, article: Article) -> None:
    """Keeps chunks whose text did not change (and their vectors); only new text is re-embedded."""
    old_by_hash: dict[str, list[ArticleChunk]] = {}
    for chunk in article.chunks:
        old_by_hash.setdefault(chunk.content_hash, []).append(chunk)
    kept: list[ArticleChunk] = []
    created: list[ArticleChunk] = []
    for piece in chunk_article(article.title, article.body):
        reusable = old_by_hash.get(piece.content_hash)
        if reusable:
            row = reusable.pop()
            row.position, row.heading = piece.position, piece.heading
            kept.append(row)
        else:
            row = ArticleChunk(
                tenant_id=article.tenant_id,
                position=piece.position,
                heading=piece.heading,
                text=piece.text,
                content_hash=piece.content_hash,
            )
            created.append(row)
    removed = [c for rows in old_by_hash.values() for c in rows]
    article.chunks = kept + created
    session.flush()
    record_changes(
        session,
        tenant_id=article.tenant_id,
        collection=COLLECTION,
        item_ids=[c.id for c in removed],
        op="delete",
    )
    # Kept chunks are re-announced too: their channels/locale/tags may have changed.
    record_changes(
        session,
        tenant_id=article.tenant_id,
        collection=COLLECTION,
        item_ids=[c.id for c in kept + created],
        op="upsert",
    )


def upsert(session: Session, *, tenant_id: str, article_in: ArticleCreate) -> tuple[Article, str]:
    """Creates or updates by external id; returns the article and 'created', 'updated' or 'unchanged'."""
    content_hash = _content_hash(article_in)
    article = get_by_external_id(session, tenant_id=tenant_id, external_id=article_in.id)
    if article is not None and article.content_hash == content_hash:
        return article, "unchanged"
    outcome = "updated"
    if article is None:
        article = Article(tenant_id=tenant_id, external_id=article_in.id, chunks=[])
        session.add(article)
        outcome = "created"
    article.title = article_in.title
    article.body = article_in.body
    article.locale = article_in.locale
    article.channels = list(article_in.channels)
    article.tags = list(article_in.tags)
    article.url = article_in.url
    article.source_updated_at = article_in.updated_at or utcnow()
    article.content_hash = content_hash
    session.flush()
    _sync_chunks(session, article)
    return article, outcome


def merged(session: Session, *, tenant_id: str, external_id: str, article_up: ArticleUpdate) -> ArticleCreate:
    """The article as a partial update would leave it (checked before it is written)."""
    article = get(session, tenant_id=tenant_id, external_id=external_id)
    current = to_read(article).model_dump()
    current.update(article_up.model_dump(exclude_unset=True))
    current["updated_at"] = utcnow()
    return ArticleCreate.model_validate(current)


def update(session: Session, *, tenant_id: str, external_id: str, article_up: ArticleUpdate) -> Article:
    """Partial update; only changed chunks are re-embedded."""
    article_in = merged(session, tenant_id=tenant_id, external_id=external_id, article_up=article_up)
    updated, _ = upsert(session, tenant_id=tenant_id, article_in=article_in)
    return updated


def delete(session: Session, *, tenant_id: str, external_id: str) -> None:
    """Deletes the article and removes its chunks from every index."""
    article = get(session, tenant_id=tenant_id, external_id=external_id)
    record_changes(
        session,
        tenant_id=tenant_id,
        collection=COLLECTION,
        item_ids=[c.id for c in article.chunks],
        op="delete",
    )
    session.delete(article)
    session.flush()


def count(session: Session, *, tenant_id: str) -> int:
    """Number of articles of the tenant."""
    return int(
        session.scalar(select(func.count()).select_from(Article).where(Article.tenant_id == tenant_id)) or 0
    )


# -- import -----------------------------------------------------------------------


def parse_articles_jsonl(path: Path) -> list[ArticleCreate]:
    """Every line or none: raises ImportFileError listing each bad line (file, line, reason)."""
    articles = read_jsonl(path, ArticleCreate.model_validate, key=lambda a: a.id)
    if not articles:
        raise ImportFileError([LineError(str(path), 0, "no articles in file")])
    return articles


def _split_front_matter(text: str) -> tuple[dict[str, Any], str, int]:
    """Returns (front matter, body, line number where the body starts)."""
    if not text.startswith("---"):
        return {}, text, 1
    lines = text.splitlines()
    for end in range(1, len(lines)):
        if lines[end].strip() == "---":
            meta = yaml.safe_load("\n".join(lines[1:end])) or {}
            if not isinstance(meta, dict):
                raise ValueError("front matter must be a mapping")
            return meta, "\n".join(lines[end + 1 :]), end + 2
    raise ValueError("front matter opened with --- is never closed")


def parse_markdown_folder(folder: Path) -> list[ArticleCreate]:
    """Each *.md file is an article; front matter gives id, title, locale, channels, tags, url."""
    errors: list[LineError] = []
    articles: list[ArticleCreate] = []
    files = sorted(folder.rglob("*.md"))
    if not files:
        raise ImportFileError([LineError(str(folder), 0, "no .md files found")])
    for file in files:
        try:
            meta, body, _ = _split_front_matter(file.read_text(encoding="utf-8"))
        except (ValueError, yaml.YAMLError, UnicodeDecodeError) as exc:
            errors.append(LineError(str(file), 1, f"bad front matter: {exc}"))
            continue
        if "title" not in meta:
            for line in body.splitlines():
                if line.startswith("# "):
                    meta["title"] = line[2:].strip()
                    body = body.replace(line, "", 1)
                    break
        meta.setdefault("id", file.stem)
        try:
            articles.append(ArticleCreate.model_validate({**meta, "body": body.strip()}))
        except ValidationError as exc:
            errors.append(LineError(str(file), 1, validation_reason(exc)))
    if errors:
        raise ImportFileError(errors)
    return articles


def import_articles(
    session: Session, *, tenant_id: str, articles: Iterable[ArticleCreate], file: str
) -> ImportReport:
    """Upserts a parsed file; idempotent: re-importing the same content changes nothing.

    An id twice in one import is refused (nothing written): which copy should win is not the importer's
    guess to make, and keeping one silently loses the other.
    """
    articles = list(articles)
    first_seen: dict[str, int] = {}
    repeated: list[LineError] = []
    for number, article_in in enumerate(articles, start=1):
        if article_in.id in first_seen:
            repeated.append(
                LineError(
                    file, number, f"duplicate id {article_in.id!r} (first at {first_seen[article_in.id]})"
                )
            )
        first_seen.setdefault(article_in.id, number)
    if repeated:
        raise ImportFileError(repeated)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for article_in in articles:
        _, outcome = upsert(session, tenant_id=tenant_id, article_in=article_in)
        counts[outcome] += 1
    return ImportReport(file=file, **counts)


def import_path(session: Session, *, tenant_id: str, path: Path) -> ImportReport:
    """A .jsonl file or a folder of markdown files."""
    if path.is_dir():
        parsed = parse_markdown_folder(path)
    elif path.exists():
        parsed = parse_articles_jsonl(path)
    else:
        raise ImportFileError([LineError(str(path), 0, "no such file or folder")])
    return import_articles(session, tenant_id=tenant_id, articles=parsed, file=str(path))
