"""IMAP and SMTP connections of a mailbox, with failures named by stage (connect, TLS, auth, folder).

IMAP is IMAPClient (IDLE, UID fetches, literal handling); SMTP is the standard library's smtplib, driven
step by step so a failure before the message data was handed over (safe to retry) is told apart from one
during or after it (the server may have accepted the message).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from channels.models import Mailbox

Stage = Literal["connect", "tls", "auth", "folder", "send"]
TIMEOUT_SECONDS = 60.0


class MailboxError(Exception):
    """A mailbox server could not be used; `stage` says at which step, `message` what the server said."""

    def __init__(self, protocol: str, stage: Stage, message: str) -> None:
        super().__init__(f"{protocol} {stage}: {message}")
        self.protocol = protocol
        self.stage = stage
        self.message = message


class SmtpRejected(Exception):
    """The SMTP server answered with an error before it took the message: safe to try again
    (temporary, 4xx) or final (permanent, 5xx)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class SmtpOutcomeUnknown(Exception):
    """The connection broke while or after the message data was sent: it may have been accepted."""


def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:500]


def open_imap(mailbox: Mailbox, password: str, *, timeout: float = TIMEOUT_SECONDS) -> IMAPClient:
    """A logged-in IMAP connection; MailboxError names the failing stage."""
    use_ssl = mailbox.imap_security == "ssl"
    try:
        client = IMAPClient(
            mailbox.imap_host,
            port=mailbox.imap_port,
            ssl=use_ssl,
            ssl_context=_tls_context() if use_ssl else None,
            timeout=timeout,
        )
    except ssl.SSLError as exc:
        raise MailboxError("imap", "tls", _describe(exc)) from exc
    except (OSError, IMAPClientError) as exc:
        raise MailboxError("imap", "connect", _describe(exc)) from exc
    try:
        if mailbox.imap_security == "starttls":
            try:
                client.starttls(_tls_context())
            except (ssl.SSLError, IMAPClientError, OSError) as exc:
                raise MailboxError("imap", "tls", _describe(exc)) from exc
        try:
            client.login(mailbox.username, password)
        except LoginError as exc:
            raise MailboxError("imap", "auth", _describe(exc)) from exc
        except (IMAPClientError, OSError) as exc:
            raise MailboxError("imap", "connect", _describe(exc)) from exc
    except MailboxError:
        close_imap(client)
        raise
    return client


def select(client: IMAPClient, folder: str) -> int:
    """Opens the folder read-only (the seller's flags stay as they are); returns its UIDVALIDITY."""
    try:
        info = client.select_folder(folder, readonly=True)
    except (IMAPClientError, OSError) as exc:
        raise MailboxError("imap", "folder", f"{folder!r}: {_describe(exc)}") from exc
    return int(info[b"UIDVALIDITY"])


def close_imap(client: IMAPClient) -> None:
    try:
        client.logout()
    except (IMAPClientError, OSError):
        try:
            client.shutdown()
        except (IMAPClientError, OSError):
            pass


@contextmanager
def imap_session(mailbox: Mailbox, password: str) -> Iterator[IMAPClient]:
    client = open_imap(mailbox, password)
    try:
        yield client
    finally:
        close_imap(client)


def new_uids(client: IMAPClient, after_uid: int) -> list[int]:
    """UIDs above `after_uid`, oldest first (`UID n:*` also returns the newest message when it is below n)."""
    found = client.search(["UID", f"{after_uid + 1}:*"])
    return sorted(int(uid) for uid in found if int(uid) > after_uid)


def sizes(client: IMAPClient, uids: list[int]) -> dict[int, int]:
    if not uids:
        return {}
    return {int(uid): int(data[b"RFC822.SIZE"]) for uid, data in client.fetch(uids, ["RFC822.SIZE"]).items()}


def fetch_raw(client: IMAPClient, uids: list[int]) -> dict[int, bytes]:
    """The full messages, without setting \\Seen."""
    if not uids:
        return {}
    out: dict[int, bytes] = {}
    for uid, data in client.fetch(uids, ["BODY.PEEK[]"]).items():
        raw = data.get(b"BODY[]")
        if isinstance(raw, bytes):
            out[int(uid)] = raw
    return out


def has_message(client: IMAPClient, folders: list[str], message_id: str) -> bool:
    """Whether a message with this Message-ID is in any of the folders (missing folders are skipped)."""
    for folder in folders:
        try:
            client.select_folder(folder, readonly=True)
        except IMAPClientError:
            continue
        if client.search(["HEADER", "Message-ID", message_id]):
            return True
    return False


def supports_idle(client: IMAPClient) -> bool:
    return bool(client.has_capability("IDLE"))


def idle_wait(client: IMAPClient, seconds: float) -> bool:
    """Waits in IMAP IDLE until the server reports a change or `seconds` pass; True on a change."""
    client.idle()
    try:
        responses: list[Any] = client.idle_check(timeout=seconds)
    finally:
        client.idle_done()
    return bool(responses)


# -- SMTP -----------------------------------------------------------------------------------


def open_smtp(mailbox: Mailbox, password: str, *, timeout: float = TIMEOUT_SECONDS) -> smtplib.SMTP:
    """A connected, authenticated SMTP session; MailboxError names the failing stage."""
    try:
        if mailbox.smtp_security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                mailbox.smtp_host, mailbox.smtp_port, timeout=timeout, context=_tls_context()
            )
        else:
            smtp = smtplib.SMTP(mailbox.smtp_host, mailbox.smtp_port, timeout=timeout)
    except ssl.SSLError as exc:
        raise MailboxError("smtp", "tls", _describe(exc)) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise MailboxError("smtp", "connect", _describe(exc)) from exc
    try:
        smtp.ehlo()
        if mailbox.smtp_security == "starttls":
            try:
                smtp.starttls(context=_tls_context())
                smtp.ehlo()
            except (ssl.SSLError, smtplib.SMTPException, OSError) as exc:
                raise MailboxError("smtp", "tls", _describe(exc)) from exc
        if smtp.has_extn("auth"):
            try:
                smtp.login(mailbox.smtp_username or mailbox.username, password)
            except smtplib.SMTPAuthenticationError as exc:
                raise MailboxError("smtp", "auth", _describe(exc)) from exc
        elif mailbox.smtp_security != "none":
            raise MailboxError("smtp", "auth", "the server offers no AUTH after TLS")
    except MailboxError:
        _quit(smtp)
        raise
    except (OSError, smtplib.SMTPException) as exc:
        _quit(smtp)
        raise MailboxError("smtp", "connect", _describe(exc)) from exc
    return smtp


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipients: list[str]
    data: bytes


def send(mailbox: Mailbox, password: str, envelope: Envelope) -> None:
    """Hands one message to the mailbox's SMTP server.

    Raises MailboxError (connection, TLS or login failed: nothing was sent), SmtpRejected (the server
    refused the sender, a recipient or the data) or SmtpOutcomeUnknown (the connection broke once the
    data was on its way: it may have been accepted).
    """
    smtp = open_smtp(mailbox, password)
    data_started = False
    try:
        code, reply = smtp.mail(envelope.sender)
        if code != 250:
            raise SmtpRejected(f"MAIL FROM refused: {code} {reply!r}", permanent=code >= 500)
        for recipient in envelope.recipients:
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                raise SmtpRejected(f"RCPT TO {recipient} refused: {code} {reply!r}", permanent=code >= 500)
        data_started = True
        code, reply = smtp.data(envelope.data)
        if code != 250:
            raise SmtpRejected(f"DATA refused: {code} {reply!r}", permanent=code >= 500)
    except smtplib.SMTPResponseException as exc:
        # A response code means the server answered: whatever it refused, it did not take the message.
        raise SmtpRejected(f"{exc.smtp_code} {exc.smtp_error!r}", permanent=exc.smtp_code >= 500) from exc
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        if data_started:
            raise SmtpOutcomeUnknown(_describe(exc)) from exc
        raise MailboxError("smtp", "send", _describe(exc)) from exc
    finally:
        _quit(smtp)
