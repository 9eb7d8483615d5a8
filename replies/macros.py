"""Locked macros: one bounded Jinja2 sandbox (replies/sandbox.py), immutable versions, admin-only changes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

import yaml
from jinja2 import TemplateSyntaxError, meta
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError, NotFoundError
from core.schemas import CHANNELS
from replies import sandbox
from replies.models import Macro, MacroVersion
from replies.schemas import MacroDetail, MacroRead, MacroVersionRead

TEMPLATES_DIR = Path(__file__).parent / "templates"
SEED_AUTHOR = "seed"
MAX_BODY_CHARS = 5000
MAX_OUTPUT_CHARS = sandbox.MAX_OUTPUT_CHARS

# The only names a macro may use; all come from the unified history or a cited article.
ALLOWED_VARIABLES: frozenset[str] = frozenset(
    {
        "customer_name",
        "order_id",
        "order_state",
        "order_status",
        "placed_at",
        "items",
        "item_title",
        "carrier",
        "tracking_number",
        "shipment_state",
        "shipment_status",
        "shipment_location",
        "eta",
        "refund_id",
        "refund_state",
        "refund_status",
        "refund_amount",
        "channel_name",
        "article_title",
        "article_excerpt",
        # The language of the quoted excerpt where it is not the reply's (an English page quoted).
        "article_language",
        "article_url",
        "tracking_url",
        "delayed",
        "fulfilled_by_amazon",
        "refund_date",
        "refund_partial",
        "order_total",
        # The reason tag of the question a holding line ("we are checking ...") acknowledges; not a fact.
        "topic",
    }
)
# Every macro key that answers a reason tag carries that tag; the rest are building blocks.
TOPIC_KEYS: frozenset[str] = frozenset(
    {
        "tracking",
        "return_label",
        "refund_status",
        "damaged_in_transit",
        "cancellation",
        "missing_item",
        "wrong_item",
        "product_question",
        "invoice",
        "delivery_change",
    }
)

_LEFTOVER = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}|\[\s*[A-Z][A-Z _]{2,40}\s*\]")

Scalar = str | int | float | bool | Decimal | date | datetime


class MacroRenderError(InvalidInputError):
    """A macro that cannot be rendered safely; its text must never reach a customer."""

    code = "macro_render_error"

    def __init__(self, message: str, *, missing: str | None = None) -> None:
        super().__init__(message, details={"missing": missing} if missing else None)
        self.missing = missing


@dataclass(frozen=True)
class RenderedMacro:
    text: str
    key: str
    channel: str
    locale: str
    version: int
    macro_version_id: int


def _scalar_variables(variables: dict[str, object]) -> dict[str, Scalar]:
    """Only plain values enter the sandbox (no ORM objects with methods to reach through); None = absent."""
    clean: dict[str, Scalar] = {}
    for name, value in variables.items():
        if value is None:
            continue
        if not isinstance(value, (str, int, float, bool, Decimal, date, datetime)):
            raise MacroRenderError(f"variable {name!r} must be a plain value, not {type(value).__name__}")
        clean[name] = value
    return clean


def render_body(body: str, variables: dict[str, object]) -> str:
    """Renders one template body in the bounded sandbox (replies/sandbox.py: a worker process with time,
    memory, number and output limits); raises MacroRenderError rather than return a partial text."""
    try:
        status, text, missing = sandbox.render(body, dict(_scalar_variables(variables)))
    except (sandbox.RenderTimeout, sandbox.RenderCrashed) as exc:
        raise MacroRenderError(str(exc)) from exc
    if status == "undefined":
        raise MacroRenderError(f"macro needs {missing or 'a value'} which is not available", missing=missing)
    if status == "forbidden":
        raise MacroRenderError(f"macro tried something the sandbox forbids: {text}")
    if status != "ok":
        # An admin-written template is untrusted code: any failure (too long, bad filter) means no reply.
        raise MacroRenderError(f"macro failed to render: {text}")
    leftover = _LEFTOVER.search(text)
    if leftover:
        raise MacroRenderError(f"rendered macro still contains a placeholder: {leftover.group(0)!r}")
    return text.strip()


_SAMPLE = {
    "customer_name": "Sample",
    "order_id": "000-0000000-0000000",
    "order_state": "shipped",
    "order_status": "shipped",
    "placed_at": "1 January 2026",
    "items": "Sample item",
    "item_title": "Sample item",
    "carrier": "DHL",
    "tracking_number": "00000000",
    "shipment_state": "in_transit",
    "shipment_status": "in transit",
    "shipment_location": "Leeds",
    "eta": "2 January 2026",
    "refund_id": "R-0",
    "refund_state": "pending",
    "refund_status": "pending",
    "refund_amount": "1.00 EUR",
    "channel_name": "Amazon",
    "article_title": "Sample",
    "article_excerpt": "Sample.",
    "tracking_url": "https://www.dhl.de/track?piececode=00000000",
    "refund_date": "1 January 2026",
    "order_total": "2.00 EUR",
    "topic": "tracking",
}


def validate_body(body: str) -> None:
    """Rejects a body that does not parse, uses unknown variables, or breaks the sandbox on a trial render."""
    if not body.strip():
        raise InvalidInputError("macro body must not be empty")
    if len(body) > MAX_BODY_CHARS:
        raise InvalidInputError(f"macro body is {len(body)} characters; the limit is {MAX_BODY_CHARS}")
    try:
        parsed = sandbox.environment().parse(body)
    except TemplateSyntaxError as exc:
        raise InvalidInputError(f"macro body line {exc.lineno}: {exc.message}") from exc
    unknown = sorted(meta.find_undeclared_variables(parsed) - ALLOWED_VARIABLES)
    if unknown:
        raise InvalidInputError(
            f"macro uses unknown variables {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(ALLOWED_VARIABLES))}",
            details={"unknown": unknown},
        )
    render_body(body, dict(_SAMPLE))


@cache
def seed_macros() -> dict[tuple[str, str, str], str]:
    """(key, channel, locale) -> body from replies/templates/<locale>.yaml."""
    seeds: dict[tuple[str, str, str], str] = {}
    for path in sorted(TEMPLATES_DIR.glob("*.yaml")):
        locale = path.stem
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for key, per_channel in data.items():
            for channel, body in per_channel.items():
                seeds[(key, channel, locale)] = body.strip()
    return seeds


def ensure_seeded(session: Session, *, tenant_id: str) -> int:
    """Adds every seed macro the tenant does not have yet (never overwrites an admin's version)."""
    existing = set(
        session.execute(
            select(Macro.key, Macro.channel, Macro.locale).where(Macro.tenant_id == tenant_id)
        ).tuples()
    )
    added = 0
    for (key, channel, locale), body in seed_macros().items():
        if (key, channel, locale) in existing:
            continue
        _create(
            session,
            tenant_id=tenant_id,
            key=key,
            channel=channel,
            locale=locale,
            body=body,
            created_by=SEED_AUTHOR,
            note="seed",
        )
        added += 1
    if added:
        session.flush()
    return added


def _create(
    session: Session,
    *,
    tenant_id: str,
    key: str,
    channel: str,
    locale: str,
    body: str,
    created_by: str,
    note: str,
) -> MacroVersion:
    macro = Macro(
        tenant_id=tenant_id,
        key=key,
        channel=channel,
        locale=locale,
        tags=[key] if key in TOPIC_KEYS else [],
        current_version=1,
    )
    version = MacroVersion(
        tenant_id=tenant_id, macro=macro, version=1, body=body, created_by=created_by, note=note
    )
    session.add_all([macro, version])
    return version


def save_version(
    session: Session,
    *,
    tenant_id: str,
    key: str,
    channel: str,
    locale: str,
    body: str,
    created_by: str,
    note: str = "",
) -> MacroVersion:
    """A new version of a macro (or its first); earlier versions stay untouched for the drafts that used
    them."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,63}", key):
        raise InvalidInputError("macro key must be lower-case letters, digits and underscores")
    if channel != "*" and channel not in CHANNELS:
        raise InvalidInputError(f"channel must be '*' or one of {', '.join(CHANNELS)}")
    if not re.fullmatch(r"[a-z]{2,3}", locale):
        raise InvalidInputError("locale must be a language code such as en, fr, de")
    validate_body(body)
    ensure_seeded(session, tenant_id=tenant_id)
    macro = session.scalar(
        select(Macro).where(
            Macro.tenant_id == tenant_id, Macro.key == key, Macro.channel == channel, Macro.locale == locale
        )
    )
    if macro is None:
        version = _create(
            session,
            tenant_id=tenant_id,
            key=key,
            channel=channel,
            locale=locale,
            body=body,
            created_by=created_by,
            note=note,
        )
    else:
        macro.current_version += 1
        version = MacroVersion(
            tenant_id=tenant_id,
            macro_id=macro.id,
            version=macro.current_version,
            body=body,
            created_by=created_by,
            note=note,
        )
        session.add(version)
    session.flush()
    return version


def list_(
    session: Session,
    *,
    tenant_id: str,
    key: str | None = None,
    channel: str | None = None,
    locale: str | None = None,
) -> list[tuple[Macro, MacroVersion]]:
    """Every macro with its current version."""
    ensure_seeded(session, tenant_id=tenant_id)
    query = (
        select(Macro, MacroVersion)
        .join(
            MacroVersion,
            (MacroVersion.macro_id == Macro.id) & (MacroVersion.version == Macro.current_version),
        )
        .where(Macro.tenant_id == tenant_id)
        .order_by(Macro.key, Macro.channel, Macro.locale)
    )
    if key:
        query = query.where(Macro.key == key)
    if channel:
        query = query.where(Macro.channel == channel)
    if locale:
        query = query.where(Macro.locale == locale)
    return [(m, v) for m, v in session.execute(query).tuples()]


def get(session: Session, *, tenant_id: str, key: str, channel: str, locale: str) -> Macro:
    ensure_seeded(session, tenant_id=tenant_id)
    macro = session.scalar(
        select(Macro).where(
            Macro.tenant_id == tenant_id, Macro.key == key, Macro.channel == channel, Macro.locale == locale
        )
    )
    if macro is None:
        raise NotFoundError(f"no macro {key!r} for channel {channel!r} and locale {locale!r}")
    return macro


def resolve(
    session: Session, *, tenant_id: str, key: str, channel: str, locale: str
) -> tuple[Macro, MacroVersion]:
    """The most specific macro: this channel and locale, then any channel, then English."""
    primary = (locale or "en").split("-")[0].lower()
    rows = (
        session.execute(
            select(Macro, MacroVersion)
            .join(
                MacroVersion,
                (MacroVersion.macro_id == Macro.id) & (MacroVersion.version == Macro.current_version),
            )
            .where(
                Macro.tenant_id == tenant_id,
                Macro.key == key,
                Macro.channel.in_([channel, "*"]),
                Macro.locale.in_([primary, "en"]),
            )
        )
        .tuples()
        .all()
    )
    preference = [(channel, primary), ("*", primary), (channel, "en"), ("*", "en")]
    by_slot = {(m.channel, m.locale): (m, v) for m, v in rows}
    for slot in preference:
        if slot in by_slot:
            return by_slot[slot]
    raise NotFoundError(f"no macro {key!r} for channel {channel!r} in {primary!r} or English")


def render_macro(
    session: Session, *, tenant_id: str, key: str, channel: str, locale: str, variables: dict[str, object]
) -> RenderedMacro:
    """Renders the tenant's current version of a macro; raises MacroRenderError instead of leaving a gap."""
    try:
        macro, version = resolve(session, tenant_id=tenant_id, key=key, channel=channel, locale=locale)
    except NotFoundError:
        # Seeding on first use keeps the common path to one query per macro.
        if not ensure_seeded(session, tenant_id=tenant_id):
            raise
        macro, version = resolve(session, tenant_id=tenant_id, key=key, channel=channel, locale=locale)
    text = render_body(version.body, variables)
    return RenderedMacro(
        text=text,
        key=macro.key,
        channel=macro.channel,
        locale=macro.locale,
        version=version.version,
        macro_version_id=version.id,
    )


def to_read(macro: Macro, version: MacroVersion) -> MacroRead:
    return MacroRead(
        key=macro.key,
        channel=macro.channel,
        locale=macro.locale,
        tags=list(macro.tags),
        version=version.version,
        body=version.body,
        created_by=version.created_by,
        created_at=version.created_at,
    )


def to_detail(macro: Macro) -> MacroDetail:
    current = next(v for v in macro.versions if v.version == macro.current_version)
    return MacroDetail(
        **to_read(macro, current).model_dump(),
        versions=[
            MacroVersionRead(
                version=v.version, body=v.body, created_by=v.created_by, note=v.note, created_at=v.created_at
            )
            for v in macro.versions
        ],
    )
