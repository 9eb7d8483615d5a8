"""Feeds article chunks to the search engine."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from embeddings.collection import IndexedItem
from kb.models import Article, ArticleChunk


class ArticleChunkSource:
    def load(
        self, session: Session, *, tenant_id: str, item_ids: Sequence[int] | None, with_vectors: bool
    ) -> list[IndexedItem]:
        columns = [
            ArticleChunk.id,
            ArticleChunk.text,
            ArticleChunk.heading,
            Article.external_id,
            Article.title,
            Article.url,
            Article.channels,
            Article.locale,
            Article.tags,
        ]
        if with_vectors:
            columns += [ArticleChunk.embedding, ArticleChunk.embedding_model]
        query = (
            select(*columns)
            .join(Article, Article.id == ArticleChunk.article_id)
            .where(ArticleChunk.tenant_id == tenant_id)
        )
        if item_ids is not None:
            query = query.where(ArticleChunk.id.in_(list(item_ids)))
        items = []
        for row in session.execute(query.order_by(ArticleChunk.id)):
            items.append(
                IndexedItem(
                    item_id=row.id,
                    key=row.external_id,
                    text=row.text,
                    vector=row.embedding if with_vectors else None,
                    encoder=row.embedding_model if with_vectors else None,
                    channels=tuple(row.channels or ()),
                    locale=row.locale,
                    labels=tuple(row.tags or ()),
                    # Title and URL ride along so a suggestion is answered from memory, with no
                    # database round trip; any article change re-announces all its chunks.
                    extra={"heading": row.heading, "title": row.title, "url": row.url},
                )
            )
        return items

    def store_vectors(
        self, session: Session, *, tenant_id: str, vectors: dict[int, bytes], encoder: str
    ) -> None:
        for chunk_id, vector in vectors.items():
            session.execute(
                update(ArticleChunk)
                .where(ArticleChunk.id == chunk_id, ArticleChunk.tenant_id == tenant_id)
                .values(embedding=vector, embedding_model=encoder)
            )

    def ids(self, session: Session, *, tenant_id: str) -> list[int]:
        return list(
            session.scalars(
                select(ArticleChunk.id).where(ArticleChunk.tenant_id == tenant_id).order_by(ArticleChunk.id)
            )
        )
