"""Closed vocabularies shared by every domain (DATA_FORMATS.md)."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, BeforeValidator, StringConstraints

Channel = Literal["amazon", "ebay", "walmart", "shopify", "email", "web"]
CHANNELS: tuple[str, ...] = get_args(Channel)
MARKETPLACES: tuple[str, ...] = ("amazon", "ebay", "walmart")
Tag = Literal[
    "tracking",
    "return_label",
    "refund_status",
    "product_question",
    "damaged_in_transit",
    "cancellation",
    "wrong_item",
    "missing_item",
    "invoice",
    "delivery_change",
    "other",
]
TAGS: tuple[str, ...] = get_args(Tag)

# Size limits of the API contract (fixed, not per deployment: clients and the OpenAPI schema rely on them).
MAX_QUERY_CHARS = 2000
MAX_TEXT_CHARS = 20_000


def _lower_case(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


# BCP-47 language tag, compared case-insensitively ("FR-ca" is stored as "fr-ca").
Locale = Annotated[
    str,
    BeforeValidator(_lower_case),
    StringConstraints(pattern=r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$", max_length=20),
]


class ImportReport(BaseModel):
    """What an import did to one file: every line is one of created, updated or unchanged."""

    file: str
    created: int
    updated: int
    unchanged: int


def clean_text(value: str, *, max_chars: int, field: str = "text") -> str:
    """Rejects empty, oversized and binary-looking text with a message a caller can act on."""
    if len(value) > max_chars:
        raise ValueError(f"{field} is {len(value)} characters; the limit is {max_chars}")
    stripped = value.strip()
    if not stripped:
        raise ValueError(f"{field} must not be empty")
    control = sum(1 for ch in stripped if (ord(ch) < 32 and ch not in "\t\n\r") or ch == "\ufffd")
    if "\x00" in stripped or control > max(2, len(stripped) // 20):
        raise ValueError(f"{field} looks like binary data, not text")
    return stripped
