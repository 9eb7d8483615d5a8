"""Per-tenant channel configuration: mailboxes (with a connection test) and the quarantine list."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels import secrets, transport
from channels.models import Mailbox, QuarantinedMail
from channels.schemas import (
    DEFAULT_PORTS,
    ConnectionCheck,
    ConnectionTestRead,
    MailboxCreate,
    MailboxRead,
    QuarantineRead,
)
from core.errors import ConflictError, InvalidInputError, NotFoundError
from core.settings import Settings

MAX_PAGE = 200


def create_mailbox(
    session: Session, settings: Settings, *, tenant_id: str, mailbox_in: MailboxCreate, actor: str
) -> Mailbox:
    """Stores a mailbox; the password is encrypted first (or only its environment variable name kept)."""
    if get_mailbox_by_name(session, tenant_id=tenant_id, name=mailbox_in.name) is not None:
        raise ConflictError(f"mailbox {mailbox_in.name!r} already exists")
    ciphertext = env = None
    if mailbox_in.password is not None:
        ciphertext = secrets.encrypt(settings, mailbox_in.password.get_secret_value())
    elif mailbox_in.password_env is not None:
        env = secrets.check_env_name(mailbox_in.password_env)
    mailbox = Mailbox(
        tenant_id=tenant_id,
        name=mailbox_in.name,
        address=mailbox_in.address,
        imap_host=mailbox_in.imap_host,
        imap_port=mailbox_in.imap_port or DEFAULT_PORTS["imap"][mailbox_in.imap_security],
        imap_security=mailbox_in.imap_security,
        username=mailbox_in.username,
        folder=mailbox_in.folder,
        sent_folder=mailbox_in.sent_folder,
        secret_ciphertext=ciphertext,
        secret_env=env,
        smtp_host=mailbox_in.smtp_host or mailbox_in.imap_host,
        smtp_port=mailbox_in.smtp_port or DEFAULT_PORTS["smtp"][mailbox_in.smtp_security],
        smtp_security=mailbox_in.smtp_security,
        smtp_username=mailbox_in.smtp_username,
        enabled=True,
        last_uid=0,
        created_by=actor,
    )
    session.add(mailbox)
    session.flush()
    return mailbox


def get_mailbox_by_name(session: Session, *, tenant_id: str, name: str) -> Mailbox | None:
    return session.scalar(select(Mailbox).where(Mailbox.tenant_id == tenant_id, Mailbox.name == name))


def get_mailbox(session: Session, *, tenant_id: str, name: str) -> Mailbox:
    mailbox = get_mailbox_by_name(session, tenant_id=tenant_id, name=name)
    if mailbox is None:
        raise NotFoundError(f"mailbox {name!r} not found")
    return mailbox


def list_mailboxes(
    session: Session, *, tenant_id: str | None = None, enabled_only: bool = False
) -> list[Mailbox]:
    """Mailboxes of one tenant, or of every tenant (the poller)."""
    query = select(Mailbox).order_by(Mailbox.tenant_id, Mailbox.name)
    if tenant_id is not None:
        query = query.where(Mailbox.tenant_id == tenant_id)
    if enabled_only:
        query = query.where(Mailbox.enabled.is_(True))
    return list(session.scalars(query))


def delete_mailbox(session: Session, *, tenant_id: str, name: str) -> None:
    """Removes the mailbox with what was received through it and its unsent outbox; tickets stay."""
    session.delete(get_mailbox(session, tenant_id=tenant_id, name=name))
    session.flush()


def password_of(settings: Settings, mailbox: Mailbox) -> str:
    return secrets.reveal(
        settings,
        ciphertext=mailbox.secret_ciphertext,
        env=mailbox.secret_env,
        what=f"password of mailbox {mailbox.name!r}",
    )


def to_read(mailbox: Mailbox) -> MailboxRead:
    return MailboxRead(
        id=mailbox.id,
        name=mailbox.name,
        address=mailbox.address,
        imap_host=mailbox.imap_host,
        imap_port=mailbox.imap_port,
        imap_security=mailbox.imap_security,
        username=mailbox.username,
        folder=mailbox.folder,
        sent_folder=mailbox.sent_folder,
        smtp_host=mailbox.smtp_host,
        smtp_port=mailbox.smtp_port,
        smtp_security=mailbox.smtp_security,
        smtp_username=mailbox.smtp_username,
        secret=f"env:{mailbox.secret_env}" if mailbox.secret_env else "encrypted",
        enabled=mailbox.enabled,
        last_uid=mailbox.last_uid,
        last_polled_at=mailbox.last_polled_at,
        last_error=mailbox.last_error,
    )


def test_connection(settings: Settings, mailbox: Mailbox) -> ConnectionTestRead:
    """Logs in over IMAP, opens the folder, logs in over SMTP; each failure says at which step."""
    checks: list[ConnectionCheck] = []
    try:
        password = password_of(settings, mailbox)
    except InvalidInputError as exc:
        checks.append(ConnectionCheck(protocol="imap", ok=False, stage="auth", message=exc.message))
        return ConnectionTestRead(mailbox=mailbox.name, ok=False, checks=checks)
    try:
        with transport.imap_session(mailbox, password) as client:
            transport.select(client, mailbox.folder)
            idle = "IDLE" if transport.supports_idle(client) else "polling (no IDLE)"
        checks.append(
            ConnectionCheck(
                protocol="imap", ok=True, stage=None, message=f"logged in, {mailbox.folder!r} opened; {idle}"
            )
        )
    except transport.MailboxError as exc:
        checks.append(ConnectionCheck(protocol="imap", ok=False, stage=exc.stage, message=exc.message))
    try:
        smtp = transport.open_smtp(mailbox, password)
        smtp.quit()
        checks.append(
            ConnectionCheck(protocol="smtp", ok=True, stage=None, message="connected and ready to send")
        )
    except transport.MailboxError as exc:
        checks.append(ConnectionCheck(protocol="smtp", ok=False, stage=exc.stage, message=exc.message))
    return ConnectionTestRead(mailbox=mailbox.name, ok=all(c.ok for c in checks), checks=checks)


def list_quarantine(session: Session, *, tenant_id: str, limit: int = 50) -> list[QuarantineRead]:
    """Mail that could not become a ticket, newest first, with the reason."""
    limit = max(1, min(limit, MAX_PAGE))
    rows = session.execute(
        select(QuarantinedMail, Mailbox.name)
        .join(Mailbox, Mailbox.id == QuarantinedMail.mailbox_id)
        .where(QuarantinedMail.tenant_id == tenant_id)
        .order_by(QuarantinedMail.id.desc())
        .limit(limit)
    )
    return [
        QuarantineRead(
            id=row.id,
            mailbox=name,
            uid=row.uid,
            message_id=row.message_id,
            reason=row.reason,
            headers=row.headers,
            size=row.size,
            kept_raw=row.raw is not None,
            created_at=row.created_at,
        )
        for row, name in rows
    ]
