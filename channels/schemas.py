"""Request and response shapes of the channels: mailboxes, quarantine, outbox, Shopify."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from core.schemas import MAX_TEXT_CHARS, clean_text

Security = Literal["ssl", "starttls", "none"]
OutboxStatus = Literal["pending", "sending", "sent", "blocked", "failed", "cancelled"]
DEFAULT_PORTS = {
    "imap": {"ssl": 993, "starttls": 143, "none": 143},
    "smtp": {"ssl": 465, "starttls": 587, "none": 25},
}


class MailboxCreate(BaseModel):
    """A support mailbox: IMAP to read it, SMTP to answer from it; one password for both.

    Give the password (stored encrypted under DEFLECT_SECRET_KEY) or the name of an environment
    variable of the worker that holds it.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    address: str = Field(min_length=3, max_length=320, description="The support address replies come from")
    imap_host: str = Field(min_length=1, max_length=255)
    imap_port: int | None = Field(None, ge=1, le=65535, description="Default: 993 for ssl, else 143")
    imap_security: Security = "ssl"
    username: str = Field(min_length=1, max_length=320)
    password: SecretStr | None = Field(None, description="Stored encrypted; never returned or logged")
    password_env: str | None = Field(None, max_length=100, description="Or: environment variable holding it")
    folder: str = Field("INBOX", min_length=1, max_length=255)
    sent_folder: str | None = Field(
        None, max_length=255, description="Where the provider files sent mail (checked after a crash)"
    )
    smtp_host: str | None = Field(None, max_length=255, description="Default: the IMAP host")
    smtp_port: int | None = Field(None, ge=1, le=65535, description="Default: 465 for ssl, 587 starttls")
    smtp_security: Security = "starttls"
    smtp_username: str | None = Field(None, max_length=320, description="Default: the IMAP username")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        value = value.strip().lower()
        local, _, domain = value.rpartition("@")
        if not local or "." not in domain or " " in value:
            raise ValueError("address must be an e-mail address")
        return value

    @model_validator(mode="after")
    def _one_secret(self) -> MailboxCreate:
        if (self.password is None) == (self.password_env is None):
            raise ValueError("give exactly one of password and password_env")
        return self


class MailboxRead(BaseModel):
    id: int
    name: str
    address: str
    imap_host: str
    imap_port: int
    imap_security: str
    username: str
    folder: str
    sent_folder: str | None
    smtp_host: str
    smtp_port: int
    smtp_security: str
    smtp_username: str | None
    secret: str = Field(description="'encrypted' or 'env:NAME'; the password itself is never returned")
    enabled: bool
    last_uid: int
    last_polled_at: datetime | None
    last_error: str | None


class ConnectionCheck(BaseModel):
    protocol: Literal["imap", "smtp"]
    ok: bool
    stage: str | None = Field(description="connect | tls | auth | folder, where it failed")
    message: str


class ConnectionTestRead(BaseModel):
    mailbox: str
    ok: bool
    checks: list[ConnectionCheck]


class QuarantineRead(BaseModel):
    id: int
    mailbox: str
    uid: int
    message_id: str | None
    reason: str
    headers: str
    size: int
    kept_raw: bool = Field(description="false when the message was too large to keep; it stays on the server")
    created_at: datetime


class PollReport(BaseModel):
    mailbox: str
    fetched: int = 0
    created: int = 0
    seen_before: int = 0
    own_copies: int = 0
    quarantined: int = 0
    seconds: float = 0.0


class SendApproval(BaseModel):
    """The agent's go: the draft's text as it stands, or the agent's edited version."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, max_length=MAX_TEXT_CHARS)

    @field_validator("text")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        return None if value is None else clean_text(value, max_chars=MAX_TEXT_CHARS, field="text")


class OutboxRead(BaseModel):
    id: int
    kind: str
    ticket_id: str
    thread_id: str
    channel: str
    to_address: str
    subject: str
    body: str
    message_id: str
    in_reply_to: str | None
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    compliance: dict[str, Any]
    approved_by: str
    created_at: datetime
    sent_at: datetime | None


class OutboxPage(BaseModel):
    items: list[OutboxRead]


class SendReport(BaseModel):
    sent: int = 0
    blocked: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    confirmed: int = 0
    requeued: int = 0


class ShopifyStoreCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop_domain: str = Field(min_length=4, max_length=255, pattern=r"^[a-z0-9][a-z0-9.-]*\.[a-z]{2,}$")
    secret: SecretStr | None = Field(None, description="The app's client secret that signs its webhooks")
    secret_env: str | None = Field(None, max_length=100, description="Or: environment variable holding it")

    @model_validator(mode="after")
    def _one_secret(self) -> ShopifyStoreCreate:
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError("give exactly one of secret and secret_env")
        return self


class ShopifyStoreRead(BaseModel):
    shop_domain: str
    secret: str
    created_at: datetime
    webhook_path: str = "/v1/channels/shopify/webhooks"


class ShopifyWebhookResult(BaseModel):
    topic: str
    webhook_id: str
    outcome: str = Field(
        description="applied | duplicate (this webhook id was seen) | stored (order not yet known)"
    )
    order_id: str | None = Field(description="the order's name in the unified history, e.g. #1001")
