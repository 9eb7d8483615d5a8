"""JSONL readers for evaluation files (formats in DATA_FORMATS.md).

Every reader checks the whole file and raises `ImportFileError` listing each bad line as
(file, line, reason); nothing is returned from a file with a bad line. Extra keys are ignored.
Articles reuse the importer's parser so evaluation and import accept exactly the same files.
Tickets are read leniently on tags: public sets (BANKING77, CLINC150) use their own intent
labels as tags, which the importer's reason-code vocabulary would reject.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from core.errors import ImportFileError, LineError
from core.jsonl import read_jsonl
from kb.schemas import ArticleCreate
from kb.service import parse_articles_jsonl


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_HasId)


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    locale: str = "en"
    channel: str | None = None
    relevant: tuple[str, ...] = ()
    label: str | None = None

    @property
    def out_of_scope(self) -> bool:
        """Neither an answering article nor a label: the right behaviour is to abstain."""
        return not self.relevant and not self.label


@dataclass(frozen=True)
class Ticket:
    id: str
    text: str
    channel: str | None
    locale: str
    tags: tuple[str, ...]
    created_at: str | None = None
    resolved_by_article: str | None = None  # the article the agent's answer rested on


def _str_list(raw: Any, field: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ValueError(f"{field} must be a list of strings")
    return tuple(raw)


def _opt_str(raw: dict[str, Any], field: str, default: str | None = None) -> str | None:
    value = raw.get(field, default)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{field} must be a string")
    return value


def _req_str(raw: dict[str, Any], field: str) -> str:
    value = raw.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field} is required and must be a non-empty string")
    return value


def _read(path: Path, parse: Callable[[dict[str, Any]], T], what: str) -> list[T]:
    rows = read_jsonl(path, parse, key=lambda row: row.id)
    if not rows:
        raise ImportFileError([LineError(str(path), 0, f"no {what} in file")])
    return rows


def _parse_query(raw: dict[str, Any]) -> Query:
    text = _req_str(raw, "text")
    label = _opt_str(raw, "label")
    return Query(
        id=_req_str(raw, "id"),
        text=text,
        locale=(_opt_str(raw, "locale", "en") or "en").lower(),
        channel=_opt_str(raw, "channel"),
        relevant=_str_list(raw.get("relevant"), "relevant"),
        label=label or None,
    )


def _parse_ticket(raw: dict[str, Any]) -> Ticket:
    subject = _opt_str(raw, "subject", "") or ""
    body = raw.get("body")
    if not isinstance(body, str):
        raise ValueError("body is required and must be a string")
    text = f"{subject}\n{body}".strip() if subject else body.strip()
    if not text:
        raise ValueError("subject and body are both empty")
    return Ticket(
        id=_req_str(raw, "id"),
        text=text,
        channel=_opt_str(raw, "channel"),
        locale=(_opt_str(raw, "locale", "en") or "en").lower(),
        tags=_str_list(raw.get("tags"), "tags"),
        created_at=_opt_str(raw, "created_at"),
        resolved_by_article=_opt_str(raw, "resolved_by_article") or None,
    )


def read_queries(path: Path) -> list[Query]:
    """queries.jsonl: id, text, optional locale/channel, `relevant` article ids and/or `label`."""
    return _read(path, _parse_query, "queries")


def read_tickets(path: Path) -> list[Ticket]:
    """tickets.jsonl as past tickets to index: subject + body as text, tags as labels."""
    return _read(path, _parse_ticket, "tickets")


def read_articles(path: Path) -> list[ArticleCreate]:
    """articles.jsonl through the importer's own parser."""
    return parse_articles_jsonl(path)
