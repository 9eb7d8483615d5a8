"""Per-channel rule sets, kept as data in compliance/rules/<channel>.yaml."""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from compliance.schemas import RuleCode, Severity
from core.errors import InvalidInputError
from core.schemas import CHANNELS, Channel

RULES_DIR = Path(__file__).parent / "rules"


class RuleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: Severity
    blocking: bool
    explanation: str


class RuleSet(BaseModel):
    """One channel's enabled rules and the domains it allows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: Channel
    version: str
    rules: dict[RuleCode, RuleConfig]
    contact_wording: dict[str, str] = Field(default_factory=dict)
    allowed_domains: tuple[str, ...] = ()
    carrier_domains: tuple[str, ...] = ()

    def is_allowed_domain(self, host: str) -> bool:
        return _matches_any(host, self.allowed_domains)

    def is_carrier_domain(self, host: str) -> bool:
        return _matches_any(host, self.carrier_domains)

    def wording_for(self, locale: str) -> str:
        """Channel-appropriate replacement for removed contact details, in the reply's language."""
        return self.contact_wording.get(locale, self.contact_wording.get("en", ""))


def _matches_any(host: str, domains: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == domain or host.endswith("." + domain) for domain in domains)


@cache
def get_ruleset(channel: str) -> RuleSet:
    """Load and validate the rule set of ``channel``."""
    if channel not in CHANNELS:
        raise InvalidInputError(
            f"unknown channel {channel!r}; use one of: {', '.join(CHANNELS)}",
            details={"channel": channel},
        )
    path = RULES_DIR / f"{channel}.yaml"
    try:
        modified = path.stat().st_mtime_ns
    except OSError as exc:
        raise RuntimeError(f"rule set {path} is missing or invalid: {exc}") from exc
    return _load_ruleset(channel, path, modified)


@lru_cache(maxsize=64)
def _load_ruleset(channel: str, path: Path, modified: int) -> RuleSet:
    """The parsed rule file, read again when it changes (``modified``): a draft checks its passages and its
    reply against the rules several times, and parsing the YAML each time cost ~1 ms a check."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        ruleset = RuleSet.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        # A broken rule file is a deployment error: fail loudly rather than check nothing.
        raise RuntimeError(f"rule set {path} is missing or invalid: {exc}") from exc
    if ruleset.channel != channel:
        raise RuntimeError(f"rule set {path} declares channel {ruleset.channel!r}, expected {channel!r}")
    return ruleset
