"""Real mail servers on 127.0.0.1 for the channel tests.

`dovecot`: Debian's Dovecot IMAP server (package dovecot-imapd, installed by scripts/test.sh), configured
in a temp dir with a passwd-file of throwaway users and Maildirs; tests that need it are skipped, saying
why, only when the binary is absent. `SmtpRelay`: aiosmtpd as a real SMTP listener that records what it
accepted and delivers mail for local users into their Dovecot INBOX, as a provider would.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from imapclient import IMAPClient

DOVECOT = Path(os.environ.get("DEFLECT_TEST_DOVECOT", "/usr/sbin/dovecot"))
# Every user of the throwaway server has this password (a static passdb): users are just Maildirs.
PASSWORD = "s3cret-pass"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"dovecot exited with {process.returncode}: {log.read_text(errors='replace')[-2000:]}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"dovecot did not listen on {port}")


@dataclass
class Dovecot:
    port: int
    root: Path
    password: str = PASSWORD
    host: str = "127.0.0.1"

    def add_user(self) -> str:
        """A fresh user (its own empty Maildir), so tests never see each other's mail."""
        return f"support-{uuid.uuid4().hex[:10]}@shop.test"

    def client(self, user: str) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        client.login(user, self.password)
        return client

    def append(self, user: str, messages: list[bytes], folder: str = "INBOX") -> None:
        client = self.client(user)
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for raw in messages:
                client.append(folder, raw)
        finally:
            client.logout()

    def count(self, user: str, folder: str = "INBOX") -> int:
        client = self.client(user)
        try:
            client.select_folder(folder, readonly=True)
            return len(client.search(["ALL"]))
        finally:
            client.logout()


def _config(root: Path, port: int, owner: str) -> str:
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# Dovecot delays a failed login (brute-force damping; 1.5 s measured); the tests fail logins on purpose.
auth_failure_delay = 0
default_login_user = {"dovenull" if owner == "dovecot" else owner}
default_internal_user = {owner}
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={owner} gid={owner} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
  # The auth penalty slowed the next good login from 127.0.0.1 after a failed one: 4.0 s -> 0.04 s.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth {{
  chroot =
}}
"""


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    if not DOVECOT.exists():
        pytest.skip(
            "Dovecot not found: apt-get install dovecot-imapd (scripts/test.sh does) "
            "or set DEFLECT_TEST_DOVECOT"
        )
    root = Path(tempfile.mkdtemp(prefix="deflect-imap-"))
    os.chmod(root, 0o755)
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    if os.geteuid() == 0:
        owner = "dovecot"
        shutil.chown(root / "mail", owner, owner)
    else:
        owner = pwd.getpwuid(os.geteuid()).pw_name
    port = free_port()
    (root / "dovecot.conf").write_text(_config(root, port, owner))
    log = root / "dovecot.log"
    process = subprocess.Popen(
        [str(DOVECOT), "-F", "-c", str(root / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_port(port, process, log)
        yield Dovecot(port=port, root=root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(root, ignore_errors=True)


# -- SMTP -------------------------------------------------------------------------------------------


@dataclass
class Accepted:
    sender: str
    recipients: list[str]
    data: bytes


class _Handler:
    def __init__(self, relay: SmtpRelay) -> None:
        self.relay = relay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
        data = bytes(envelope.original_content or envelope.content)
        accepted = Accepted(sender=envelope.mail_from, recipients=list(envelope.rcpt_tos), data=data)
        if self.relay.before_accept is not None:
            answer = self.relay.before_accept(accepted)
            if answer is not None:
                return answer
        self.relay.accepted.append(accepted)
        for recipient in accepted.recipients:
            if recipient in self.relay.local:
                self.relay.dovecot.append(recipient, [data])
        if self.relay.after_accept is not None:
            self.relay.after_accept(accepted)
        return "250 Message accepted for delivery"


class SmtpRelay:
    """aiosmtpd on 127.0.0.1: records every accepted message; mail to `local` users lands in Dovecot.

    `before_accept` may answer instead of accepting (a 4xx/5xx string); `after_accept` runs once the
    message is stored and delivered, before the 250 goes back to the client.
    """

    def __init__(self, dovecot: Dovecot) -> None:
        self.dovecot = dovecot
        self.port = free_port()
        self.accepted: list[Accepted] = []
        self.local: set[str] = set()
        self.before_accept: Callable[[Accepted], str | None] | None = None
        self.after_accept: Callable[[Accepted], None] | None = None
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def to(self, address: str) -> list[Accepted]:
        return [a for a in self.accepted if address in a.recipients]

    def start(self) -> SmtpRelay:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def smtp_relay(dovecot: Dovecot) -> Iterator[SmtpRelay]:
    relay = SmtpRelay(dovecot).start()
    try:
        yield relay
    finally:
        relay.stop()
