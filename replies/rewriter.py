"""Optional polish through any OpenAI-compatible chat endpoint; kept only if every fact survives and it
complies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from compliance import service as compliance
from compliance.schemas import ComplianceResult
from core.settings import Settings
from replies.factcheck import check_facts, kept_facts

_LANGUAGES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian"}
_SYSTEM = (
    "You polish customer-service replies. Rewrite the reply so it reads naturally and warmly in {language}. "
    "Keep every order number, tracking number, refund id, amount, date and carrier exactly as written. "
    "Add no new facts, numbers, links, e-mail addresses, phone numbers, promotions or requests for reviews. "
    "Return only the rewritten reply."
)


@dataclass(frozen=True)
class RewriteOutcome:
    text: str
    accepted: bool
    reason: str
    compliance: ComplianceResult | None = None


def _complete(draft: str, *, locale: str, settings: Settings) -> str:
    if not settings.rewriter_url:
        raise ValueError("DEFLECT_REWRITER_URL is not set")
    headers = {"Authorization": f"Bearer {settings.rewriter_api_key}"} if settings.rewriter_api_key else {}
    payload = {
        "model": settings.rewriter_model,
        "temperature": 0.2,
        "messages": [
            {"role": "system", "content": _SYSTEM.format(language=_LANGUAGES.get(locale, "English"))},
            {"role": "user", "content": draft},
        ],
    }
    url = settings.rewriter_url.rstrip("/") + "/chat/completions"
    response = httpx.post(url, json=payload, headers=headers, timeout=settings.rewriter_timeout_seconds)
    response.raise_for_status()
    content = response.json()["choices"][0]["message"]["content"]
    if not isinstance(content, str):
        raise ValueError("the endpoint returned no text content")
    return content.strip()


def rewrite(
    draft: str, *, channel: str, locale: str, sources: Sequence[str], settings: Settings
) -> RewriteOutcome:
    """The rewritten text when it is safe to use, otherwise the draft unchanged and why."""
    try:
        text = _complete(draft, locale=locale, settings=settings)
    except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
        return RewriteOutcome(draft, False, f"rewriter unavailable: {type(exc).__name__}: {exc}")
    if not text:
        return RewriteOutcome(draft, False, "rewriter returned an empty reply")
    dropped = kept_facts(draft, text)
    if dropped:
        return RewriteOutcome(draft, False, f"rewrite dropped facts: {', '.join(dropped)}")
    invented = check_facts(text, [*sources, draft])
    if not invented.passed:
        return RewriteOutcome(
            draft, False, f"rewrite added unsupported facts: {', '.join(invented.unsupported)}"
        )
    result = compliance.check(text, channel=channel, locale=locale)
    if not result.passed:
        rules = sorted({v.rule for v in result.violations})
        return RewriteOutcome(draft, False, f"rewrite breaks {channel} rules: {', '.join(rules)}")
    return RewriteOutcome(text, True, "rewrite kept every fact and passed the compliance check", result)
