"""`deflect channels ...`: connect mailboxes and Shopify, run the mail worker, see quarantine and outbox."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, NoReturn

import typer
from pydantic import SecretStr, ValidationError
from rich.console import Console
from rich.table import Table

from channels import inbound, outbound, secrets, shopify
from channels import service as channel_service
from channels.schemas import MailboxCreate, Security, ShopifyStoreCreate
from cli.context import make_runtime
from core import keys as key_service
from core.errors import DeflectError
from core.jsonl import validation_reason
from runtime import Runtime

app = typer.Typer(
    help="Real channels: support mailboxes (IMAP in, SMTP out) and Shopify order webhooks.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)
TenantOption = Annotated[str, typer.Option(help="Tenant id")]
ACTOR = "cli"


def _fail(message: str) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


def _runtime() -> Runtime:
    runtime = make_runtime()
    runtime.migrate()
    return runtime


def _print_json(payload: object) -> None:
    console.print_json(json.dumps(payload, default=str, ensure_ascii=False))


def _secret_from_stdin(what: str) -> SecretStr:
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        _fail(f"no {what} on standard input")
    return SecretStr(value)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def _handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    return stop


@app.command("new-key")
def new_key() -> None:
    """Prints a fresh key for DEFLECT_SECRET_KEY (it encrypts stored mailbox passwords and shop secrets)."""
    console.print(secrets.new_key())


@app.command("add-mailbox")
def add_mailbox(
    name: Annotated[str, typer.Argument(help="A short name, e.g. support")],
    address: Annotated[str, typer.Option(help="The support address replies come from")],
    imap_host: Annotated[str, typer.Option(help="IMAP server")],
    username: Annotated[str, typer.Option(help="Login (IMAP and, unless --smtp-username, SMTP)")],
    tenant: TenantOption = "demo",
    password_env: Annotated[
        str | None, typer.Option(help="Read the password from this environment variable of the worker")
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(help="Read the password from standard input; stored encrypted (DEFLECT_SECRET_KEY)"),
    ] = False,
    imap_port: Annotated[int | None, typer.Option(help="Default 993 (ssl) or 143")] = None,
    imap_security: Annotated[str, typer.Option(help="ssl | starttls | none")] = "ssl",
    folder: Annotated[str, typer.Option(help="Folder to read")] = "INBOX",
    sent_folder: Annotated[str | None, typer.Option(help="Where the provider files sent mail")] = None,
    smtp_host: Annotated[str | None, typer.Option(help="SMTP server (default: the IMAP host)")] = None,
    smtp_port: Annotated[int | None, typer.Option(help="Default 465 (ssl) or 587 (starttls)")] = None,
    smtp_security: Annotated[str, typer.Option(help="ssl | starttls | none")] = "starttls",
    smtp_username: Annotated[str | None, typer.Option(help="SMTP login if it differs")] = None,
    test: Annotated[bool, typer.Option(help="Test the connection after adding")] = True,
) -> None:
    """Connects a support mailbox; the password is never printed or logged."""
    if password_stdin == (password_env is not None):
        _fail("give exactly one of --password-env NAME and --password-stdin")
    try:
        mailbox_in = MailboxCreate(
            name=name,
            address=address,
            imap_host=imap_host,
            imap_port=imap_port,
            imap_security=_security(imap_security),
            username=username,
            password=_secret_from_stdin("password") if password_stdin else None,
            password_env=password_env,
            folder=folder,
            sent_folder=sent_folder,
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            smtp_security=_security(smtp_security),
            smtp_username=smtp_username,
        )
    except ValidationError as exc:
        _fail(validation_reason(exc))
    runtime = _runtime()
    try:
        with runtime.session() as session:
            key_service.get_or_create_tenant(session, tenant_id=tenant)
            mailbox = channel_service.create_mailbox(
                session, runtime.settings, tenant_id=tenant, mailbox_in=mailbox_in, actor=ACTOR
            )
            read = channel_service.to_read(mailbox)
    except DeflectError as exc:
        _fail(exc.message)
    console.print(f"mailbox {read.name} ({read.address}) added for tenant {tenant}; password {read.secret}")
    if test:
        _test(runtime, tenant, name)


def _security(value: str) -> Security:
    if value not in ("ssl", "starttls", "none"):
        _fail(f"security must be ssl, starttls or none, not {value!r}")
    return value  # type: ignore[return-value]


def _test(runtime: Runtime, tenant: str, name: str) -> None:
    with runtime.session() as session:
        result = channel_service.test_connection(
            runtime.settings, channel_service.get_mailbox(session, tenant_id=tenant, name=name)
        )
    for check in result.checks:
        mark = "[green]ok[/]" if check.ok else f"[bold red]failed at {check.stage}[/]"
        console.print(f"{check.protocol}: {mark} {check.message}")
    if not result.ok:
        raise typer.Exit(1)


@app.command("test-mailbox")
def test_mailbox(name: str, tenant: TenantOption = "demo") -> None:
    """Logs in over IMAP and SMTP, opens the folder; says which step failed (connect, tls, auth, folder)."""
    runtime = _runtime()
    try:
        _test(runtime, tenant, name)
    except DeflectError as exc:
        _fail(exc.message)


@app.command("mailboxes")
def mailboxes(tenant: TenantOption = "demo") -> None:
    """The tenant's mailboxes and how their last poll went."""
    runtime = _runtime()
    with runtime.session() as session:
        rows = [channel_service.to_read(m) for m in channel_service.list_mailboxes(session, tenant_id=tenant)]
    table = Table("name", "address", "imap", "smtp", "password", "last uid", "last poll", "last error")
    for row in rows:
        table.add_row(
            row.name,
            row.address,
            f"{row.imap_host}:{row.imap_port} {row.imap_security}",
            f"{row.smtp_host}:{row.smtp_port} {row.smtp_security}",
            row.secret,
            str(row.last_uid),
            str(row.last_polled_at or "never"),
            row.last_error or "",
        )
    console.print(table)


@app.command("remove-mailbox")
def remove_mailbox(name: str, tenant: TenantOption = "demo") -> None:
    """Disconnects a mailbox; its tickets stay."""
    runtime = _runtime()
    try:
        with runtime.session() as session:
            channel_service.delete_mailbox(session, tenant_id=tenant, name=name)
    except DeflectError as exc:
        _fail(exc.message)
    console.print(f"mailbox {name} removed")


@app.command("poll")
def poll(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's mailboxes")] = None,
    once: Annotated[bool, typer.Option(help="Poll each mailbox once and exit")] = False,
) -> None:
    """Takes new mail in as tickets: once, or watching every mailbox (IMAP IDLE where offered)."""
    runtime = _runtime()
    if once:
        reports = inbound.poll_all(
            runtime.session_factory, runtime.search, runtime.settings, tenant_id=tenant
        )
        _print_json([r.model_dump() for r in reports])
        return
    stop = _stop_on_signals()
    inbound.run_watchers(
        runtime.session_factory, runtime.search, runtime.settings, stop=stop, tenant_id=tenant
    )


@app.command("send")
def send(
    once: Annotated[bool, typer.Option(help="Send what is due once and exit")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between passes")] = 5.0,
) -> None:
    """Sends approved replies and courtesy notes from the outbox (compliance checked again at send time)."""
    runtime = _runtime()
    if once:
        _print_json(outbound.deliver_due(runtime.session_factory, runtime.settings).model_dump())
        return
    stop = _stop_on_signals()
    _send_loop(runtime, stop, interval)


def _send_loop(runtime: Runtime, stop: threading.Event, interval: float) -> None:
    while not stop.is_set():
        try:
            report = outbound.deliver_due(runtime.session_factory, runtime.settings)
            if any(report.model_dump().values()):
                console.print(report.model_dump())
        except Exception as exc:  # noqa: BLE001 - the worker outlives a failed pass; the next one retries
            err_console.print(f"[bold red]send pass failed:[/] {exc}")
        stop.wait(interval)


@app.command("run")
def run(interval: Annotated[float, typer.Option(help="Seconds between outbox passes")] = 5.0) -> None:
    """The mail worker: watches every mailbox and sends the outbox until stopped (SIGTERM, Ctrl-C)."""
    runtime = _runtime()
    stop = _stop_on_signals()
    watcher = threading.Thread(
        target=inbound.run_watchers,
        args=(runtime.session_factory, runtime.search, runtime.settings),
        kwargs={"stop": stop},
        name="mail-watchers",
        daemon=True,
    )
    watcher.start()
    _send_loop(runtime, stop, interval)
    watcher.join(timeout=15)


@app.command("quarantine")
def quarantine(tenant: TenantOption = "demo", limit: int = 50) -> None:
    """Mail that could not become a ticket, with the reason (the message itself is kept)."""
    runtime = _runtime()
    with runtime.session() as session:
        rows = channel_service.list_quarantine(session, tenant_id=tenant, limit=limit)
    table = Table("id", "mailbox", "uid", "message id", "size", "reason")
    for row in rows:
        table.add_row(str(row.id), row.mailbox, str(row.uid), row.message_id or "", str(row.size), row.reason)
    console.print(table)


@app.command("outbox")
def outbox(
    tenant: TenantOption = "demo",
    status: Annotated[str | None, typer.Option(help="pending|sending|sent|blocked|failed|cancelled")] = None,
) -> None:
    """Outgoing mail and where each one stands."""
    runtime = _runtime()
    with runtime.session() as session:
        rows = [outbound.to_read(r) for r in outbound.list_outbox(session, tenant_id=tenant, status=status)]
    table = Table("id", "kind", "ticket", "to", "status", "tries", "note")
    for row in rows:
        table.add_row(
            str(row.id),
            row.kind,
            row.ticket_id,
            row.to_address,
            row.status,
            str(row.attempts),
            row.last_error or "",
        )
    console.print(table)


@app.command("approve")
def approve(
    draft_id: int,
    tenant: TenantOption = "demo",
    text_file: Annotated[
        Path | None, typer.Option(help="Send this edited text instead of the draft's")
    ] = None,
) -> None:
    """Approves a draft for sending into its ticket's mail thread."""
    runtime = _runtime()
    text = text_file.read_text(encoding="utf-8") if text_file else None
    try:
        with runtime.session() as session:
            row = outbound.approve_draft(session, tenant_id=tenant, draft_id=draft_id, text=text, actor=ACTOR)
            read = outbound.to_read(row)
    except DeflectError as exc:
        _fail(exc.message)
    console.print(f"queued as outbox {read.id} to {read.to_address} ({read.message_id})")


@app.command("add-shopify")
def add_shopify(
    shop: Annotated[str, typer.Option(help="The shop's myshopify.com domain")],
    tenant: TenantOption = "demo",
    secret_env: Annotated[
        str | None, typer.Option(help="Read the webhook secret from this env variable")
    ] = None,
    secret_stdin: Annotated[bool, typer.Option(help="Read it from standard input; stored encrypted")] = False,
) -> None:
    """Connects a Shopify shop: webhooks signed with its secret are accepted for this tenant."""
    if secret_stdin == (secret_env is not None):
        _fail("give exactly one of --secret-env NAME and --secret-stdin")
    try:
        store_in = ShopifyStoreCreate(
            shop_domain=shop.strip().lower(),
            secret=_secret_from_stdin("secret") if secret_stdin else None,
            secret_env=secret_env,
        )
    except ValidationError as exc:
        _fail(validation_reason(exc))
    runtime = _runtime()
    try:
        with runtime.session() as session:
            key_service.get_or_create_tenant(session, tenant_id=tenant)
            store = shopify.connect_store(
                session, runtime.settings, tenant_id=tenant, store_in=store_in, actor=ACTOR
            )
            read = shopify.store_read(store)
    except DeflectError as exc:
        _fail(exc.message)
    console.print(
        f"shop {read.shop_domain} connected to tenant {tenant}; point its order, fulfillment and refund "
        f"webhooks at {read.webhook_path}"
    )


@app.command("shopify-import")
def shopify_import(
    path: Annotated[Path, typer.Argument(help="Shopify orders JSON ({'orders': [...]}, a list, or JSONL)")],
    tenant: TenantOption = "demo",
) -> None:
    """Backfills orders from a Shopify export (with fulfillments and refunds); idempotent."""
    runtime = _runtime()
    try:
        orders = shopify.read_export(path)
        with runtime.session() as session:
            key_service.get_or_create_tenant(session, tenant_id=tenant)
            report = shopify.backfill(session, tenant_id=tenant, orders=orders, file=str(path))
    except DeflectError as exc:
        _fail(exc.message)
    console.print(f"{path}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged")
