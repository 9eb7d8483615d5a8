"""Channel fixtures: settings with a secret key, the real Dovecot and SMTP servers, a tenant's mailbox."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from channels import secrets
from channels import service as channel_service
from channels.schemas import MailboxCreate
from core import keys
from core.settings import Settings
from runtime import Runtime
from tests.channels import servers
from tests.channels.servers import Dovecot, SmtpRelay

TENANT = "acme"
# The real servers, as fixtures of every test in this folder.
dovecot = servers.dovecot
smtp_relay = servers.smtp_relay


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        index_sync_seconds=0.2,
        default_abstain_threshold=0.1,
        secret_key=SecretStr(secrets.new_key()),
        mail_batch_size=10,
        outbox_backoff_seconds=0.01,
        outbox_reconcile_seconds=0,
    )


@dataclass
class Box:
    tenant_id: str
    name: str
    user: str
    mailbox_id: int


def make_mailbox(
    runtime: Runtime, dovecot: Dovecot, *, smtp_port: int = 25, tenant_id: str = TENANT, name: str = "support"
) -> Box:
    user = dovecot.add_user()
    with runtime.session() as session:
        keys.get_or_create_tenant(session, tenant_id=tenant_id)
        mailbox = channel_service.create_mailbox(
            session,
            runtime.settings,
            tenant_id=tenant_id,
            mailbox_in=MailboxCreate(
                name=name,
                address=user,
                imap_host=dovecot.host,
                imap_port=dovecot.port,
                imap_security="none",
                username=user,
                password=SecretStr(dovecot.password),
                smtp_host="127.0.0.1",
                smtp_port=smtp_port,
                smtp_security="none",
            ),
            actor="test",
        )
        return Box(tenant_id=tenant_id, name=name, user=user, mailbox_id=mailbox.id)


@pytest.fixture
def box(runtime: Runtime, dovecot: Dovecot, smtp_relay: SmtpRelay) -> Box:
    made = make_mailbox(runtime, dovecot, smtp_port=smtp_relay.port)
    smtp_relay.local.add(made.user)
    return made
