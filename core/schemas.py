"""Closed vocabularies and bounded value types shared by every domain (DATA_FORMATS.md)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, StringConstraints

Channel = Literal["amazon", "ebay", "walmart", "shopify", "email", "web"]
CHANNELS: tuple[str, ...] = get_args(Channel)
MARKETPLACES: tuple[str, ...] = ("amazon", "ebay", "walmart")
# The seller's own direct channels: a customer who writes an e-mail and one who uses the web form reach
# the same shop under the same policies, so an article a seller scoped to one of them serves both (sellers
# write "web" and forget "email": one development shop's invoice and delivery articles never reached its
# e-mails).
DIRECT_CHANNELS: tuple[str, ...] = ("email", "web")


def channels_served(channel: str) -> tuple[str, ...]:
    """The article scopes that serve a contact on ``channel``: its own, and for a direct channel both."""
    return DIRECT_CHANNELS if channel in DIRECT_CHANNELS else (channel,)


def scoped_to_channel(scoped_to: Iterable[str], channel: str | None) -> bool:
    """Whether an article is scoped to ``channel`` itself (not merely open to every channel)."""
    scopes = tuple(scoped_to)
    return channel is not None and any(c in scopes for c in channels_served(channel))


def serves_channel(scoped_to: Iterable[str], channel: str | None) -> bool:
    """Whether an article scoped to ``scoped_to`` (empty: every channel) is shown on ``channel``."""
    scopes = tuple(scoped_to)
    return channel is None or not scopes or scoped_to_channel(scopes, channel)


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


def tag_key(tag: str) -> str:
    """A seller's tag in its comparable form: sellers write "Wrong Item", "wrong-item" and "wrong_item"."""
    return "_".join(re.findall(r"[^\W_]+", tag.casefold()))


# Sellers tag articles in their own words (the formats' own example tags a returns article "returns"): the
# common names of each contact reason, after tag_key. Broad words ("shipping", "delivery", "orders") name
# no single reason and stay plain tags.
TAG_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(("track", "order_tracking", "where_is_my_order"), "tracking"),
    **dict.fromkeys(("returns", "return", "returns_and_exchanges", "exchange", "exchanges"), "return_label"),
    **dict.fromkeys(("refund", "refunds"), "refund_status"),
    **dict.fromkeys(("damaged", "damage", "transport_damage", "shipping_damage"), "damaged_in_transit"),
    **dict.fromkeys(("cancel", "cancellations", "cancel_order"), "cancellation"),
    **dict.fromkeys(("wrong_items", "wrong_product"), "wrong_item"),
    **dict.fromkeys(("missing", "missing_items", "missing_parts"), "missing_item"),
    **dict.fromkeys(("invoices", "vat", "receipt", "receipts"), "invoice"),
    **dict.fromkeys(("address", "address_change", "change_address", "redirect"), "delivery_change"),
}


def reason_tags(tags: Iterable[str]) -> frozenset[str]:
    """The contact reasons (TAGS) among a seller's free-form tags, however they are spelled or named."""
    keys = (TAG_SYNONYMS.get(key, key) for key in map(tag_key, tags))
    return frozenset(key for key in keys if key in TAGS)


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


# -- bounded values ----------------------------------------------------------------------
# Inputs reach SQL drivers and date arithmetic, which fail with a 500 on values Python itself accepts:
# 2**70 as an id, or 9999-12-31T23:59-05:00 (its UTC form does not exist). These types refuse them at
# the edge with a 422 naming the field.

# Integer keys are 32-bit on PostgreSQL (64-bit on SQLite): anything larger cannot name a row.
MAX_ROW_ID = 2**31 - 1
RowIdInt = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]

EARLIEST_DATE = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_DATE = datetime(2200, 1, 1, tzinfo=UTC)


def _midnight_if_date(value: object) -> object:
    if isinstance(value, str) and len(value) == 10:
        try:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
        except ValueError:
            return value
    return value


def to_utc_in_range(value: datetime) -> datetime:
    """The instant in UTC, between 1970 and 2200 (room for every window's arithmetic); ValueError else."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except OverflowError as exc:  # e.g. year 1 with a positive offset: no such UTC instant
        raise ValueError(f"must lie between {EARLIEST_DATE:%Y} and {LATEST_DATE:%Y}, as UTC") from exc
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"must lie between {EARLIEST_DATE:%Y} and {LATEST_DATE:%Y}")
    return value


# A date alone ('2026-11-25') means midnight UTC; a time without a zone is UTC.
UtcDateTime = Annotated[datetime, BeforeValidator(_midnight_if_date), AfterValidator(to_utc_in_range)]
# Prices, amounts and durations: JSON parsers accept Infinity and NaN, which no sum survives.
Amount = Annotated[float, Field(ge=-1e12, le=1e12, allow_inf_nan=False)]
Seconds = Annotated[float, Field(ge=0, le=10 * 365 * 86400, allow_inf_nan=False)]


def text_problem(value: object) -> str | None:
    """What makes a parsed JSON value unstorable as text, or None: a NUL character (PostgreSQL refuses
    it, and no field of ours means one) or a lone UTF-16 surrogate (it cannot be encoded as UTF-8).

    Checked where input enters: every HTTP body (api/security.py) and every JSONL line (core/jsonl.py).
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "text holds a NUL character (\\u0000)"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "text holds a lone UTF-16 surrogate escape (\\ud800-\\udfff), which is not a character"
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None
