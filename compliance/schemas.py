"""Request and result models of the compliance checker."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from core.schemas import MAX_TEXT_CHARS, Channel, Locale

RuleCode = Literal[
    "external_link",
    "email_address",
    "phone_number",
    "promotion",
    "review_manipulation",
    "off_platform",
    "emoji",
    "sensitive_data",
    "unfilled_placeholder",
]
RULE_CODES: tuple[RuleCode, ...] = get_args(RuleCode)
Severity = Literal["low", "medium", "high", "critical"]


class ComplianceBase(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Violation(ComplianceBase):
    """One rule broken by one span of the checked text (``text[start:end] == violation.text``)."""

    rule: RuleCode
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str
    explanation: str
    severity: Severity
    blocking: bool
    fixable: bool


class ComplianceResult(ComplianceBase):
    """Outcome of checking one text against one channel's rule set.

    ``remaining_violations`` are spans of ``fixed_text``, not of the original text.
    """

    channel: Channel
    ruleset_version: str
    locale: str
    passed: bool
    blocking: bool
    violations: list[Violation]
    fixed_text: str
    remaining_violations: list[Violation]


class ComplianceCheckCreate(ComplianceBase):
    """Body of ``POST /v1/compliance/check``."""

    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)]
    channel: Channel
    locale: Locale | None = None

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must contain something other than whitespace")
        return value
