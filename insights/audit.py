"""Marketplace compliance of the help centre: audit every marketplace-scoped article, gate API publishing.

An article scoped to Amazon, eBay or Walmart is shown to that marketplace's buyers, so it must follow the
marketplace's messaging rules (Amazon: strictly factual, no promotion, no outside links). The audit runs the
same compliance engine as replies over title and body, once per marketplace channel of the article.
Publishing through the API is refused for an Amazon-scoped article with a blocking violation, unless an
admin gives an override reason, which is recorded with who and when. File imports (`deflect import
articles`, the demo) are not gated: the audit is how their content is reviewed.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance import service as compliance
from compliance.schemas import Violation
from core.errors import InvalidInputError
from core.schemas import MARKETPLACES
from kb.models import Article, PublishOverride
from kb.schemas import ArticleCreate

# Channels where a blocking violation stops publishing; the others are reported by the audit only.
GATED_CHANNELS: tuple[str, ...] = ("amazon",)
MAX_REASON_CHARS = 2000


class ViolationRead(BaseModel):
    rule: str
    text: str
    start: int
    end: int
    severity: str
    blocking: bool
    explanation: str


class OverrideRead(BaseModel):
    channel: str
    reason: str
    actor: str
    at: datetime


class ArticleAudit(BaseModel):
    article_id: str
    title: str
    locale: str
    channel: str
    passed: bool
    blocking: bool
    ruleset_version: str
    violations: list[ViolationRead]
    override: OverrideRead | None = Field(None, description="The latest recorded publishing override, if any")


class KbAuditReport(BaseModel):
    articles_checked: int = Field(description="Articles scoped to at least one marketplace channel")
    checks: int = Field(description="Article × marketplace channel pairs checked")
    failing: int = Field(description="Checks with at least one violation")
    blocking: int = Field(description="Checks with a blocking violation")
    results: list[ArticleAudit] = Field(description="Failing checks first (blocking, then most violations)")


def article_text(title: str, body: str) -> str:
    """What a buyer reads: the title, then the body."""
    return f"{title}\n\n{body}"


def _violations(violations: list[Violation]) -> list[ViolationRead]:
    return [
        ViolationRead(
            rule=v.rule,
            text=v.text,
            start=v.start,
            end=v.end,
            severity=v.severity,
            blocking=v.blocking,
            explanation=v.explanation,
        )
        for v in violations
    ]


def _latest_overrides(session: Session, *, tenant_id: str) -> dict[tuple[str, str], PublishOverride]:
    latest: dict[tuple[str, str], PublishOverride] = {}
    for row in session.scalars(
        select(PublishOverride).where(PublishOverride.tenant_id == tenant_id).order_by(PublishOverride.id)
    ):
        latest[(row.article_id, row.channel)] = row
    return latest


def audit(session: Session, *, tenant_id: str, only_failing: bool = False) -> KbAuditReport:
    """Checks every marketplace-scoped article against each of its marketplace channels."""
    overrides = _latest_overrides(session, tenant_id=tenant_id)
    results: list[ArticleAudit] = []
    articles = 0
    for article in session.scalars(
        select(Article).where(Article.tenant_id == tenant_id).order_by(Article.external_id)
    ):
        channels = [c for c in article.channels if c in MARKETPLACES]
        articles += bool(channels)
        for channel in channels:
            result = compliance.check(
                article_text(article.title, article.body), channel=channel, locale=article.locale
            )
            override = overrides.get((article.external_id, channel))
            results.append(
                ArticleAudit(
                    article_id=article.external_id,
                    title=article.title,
                    locale=article.locale,
                    channel=channel,
                    passed=result.passed,
                    blocking=any(v.blocking for v in result.violations),
                    ruleset_version=result.ruleset_version,
                    violations=_violations(result.violations),
                    override=OverrideRead(
                        channel=channel, reason=override.reason, actor=override.actor, at=override.at
                    )
                    if override
                    else None,
                )
            )
    failing = [r for r in results if not r.passed]
    shown = failing if only_failing else results
    shown.sort(key=lambda r: (not r.blocking, r.passed, -len(r.violations), r.article_id, r.channel))
    return KbAuditReport(
        articles_checked=articles,
        checks=len(results),
        failing=len(failing),
        blocking=sum(r.blocking for r in results),
        results=shown,
    )


def check_publish(
    session: Session, *, tenant_id: str, article_in: ArticleCreate, actor: str, override_reason: str | None
) -> None:
    """Refuses (InvalidInputError, violations in details) an article gated by a blocking violation, unless an
    override reason is given; a used override is recorded. Callers own the transaction."""
    reason = (override_reason or "").strip()
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidInputError(f"override reason is over {MAX_REASON_CHARS} characters")
    for channel in (c for c in article_in.channels if c in GATED_CHANNELS):
        result = compliance.check(
            article_text(article_in.title, article_in.body), channel=channel, locale=article_in.locale
        )
        blocking = [v for v in result.violations if v.blocking]
        if not blocking:
            continue
        if not reason:
            raise InvalidInputError(
                f"article {article_in.id!r} breaks {channel} messaging rules "
                f"({', '.join(sorted({v.rule for v in blocking}))}); fix it or give an override reason",
                details=[
                    v.model_dump(include={"rule", "text", "start", "end", "explanation"}) for v in blocking
                ],
            )
        session.add(
            PublishOverride(
                tenant_id=tenant_id,
                article_id=article_in.id,
                channel=channel,
                reason=reason,
                violations=[{"rule": v.rule, "text": v.text} for v in blocking],
                actor=actor,
            )
        )
    session.flush()
