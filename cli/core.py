"""The `deflect` command line: every command calls the same services as the HTTP routes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.app import create_app
from cli.context import make_runtime, wiring
from cli.demo import load_demo_deflection, load_demo_history, load_demo_macros
from core import keys as key_service
from core.errors import DeflectError
from core.settings import ROOT, get_settings
from history import shipments
from kb import service
from kb import service as kb_service
from kb.schemas import SuggestRequest
from kb.suggest import article_cutoff, suggest, tune_ranker
from runtime import Runtime
from runtime.jobs import Worker, enqueue

app = typer.Typer(help="Deflect: answer customers with fewer, better contacts.", no_args_is_help=True)
import_app = typer.Typer(
    help="Import articles, orders and tickets (JSONL; a bad line rejects the whole file)."
)
index_app = typer.Typer(help="Search index maintenance.")
keys_app = typer.Typer(help="API keys: shown once at creation, stored hashed.")
app.add_typer(import_app, name="import")
app.add_typer(index_app, name="index")
app.add_typer(keys_app, name="keys")

console = Console()
err_console = Console(stderr=True)
DEMO_DIR = ROOT / "demo"


def _runtime() -> Runtime:
    return make_runtime()


def fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )


# -- import ------------------------------------------------------------------------


@import_app.command("articles")
def import_articles(
    path: Annotated[
        Path, typer.Argument(help="articles.jsonl or a folder of markdown files with front matter")
    ],
    tenant: Annotated[str, typer.Option(help="Tenant id")] = "demo",
) -> None:
    """Imports articles; idempotent by id; only changed chunks are re-embedded."""

    runtime = _runtime()
    runtime.migrate()
    try:
        with runtime.session() as session:
            key_service.get_or_create_tenant(session, tenant_id=tenant)
            report = service.import_path(session, tenant_id=tenant, path=path)
    except DeflectError as exc:
        fail(exc.message)
    console.print(f"{path}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged")
    _sync_index(runtime, tenant, "articles")


def _sync_index(runtime: Runtime, tenant: str, collection: str) -> None:
    with progress_bar() as bar:
        task = bar.add_task(f"indexing {collection}", total=None)
        search = runtime.search
        search.collection(tenant, collection)
        search.catch_up(tenant, collection)
        search.save(tenant, collection)
        bar.update(task, total=1, completed=1)
    console.print(f"index {tenant}/{collection}: {len(search.collection(tenant, collection))} items")


@index_app.command("rebuild")
def index_rebuild(
    tenant: Annotated[str, typer.Option()] = "demo",
    collection: Annotated[str, typer.Option(help="articles or tickets")] = "articles",
) -> None:
    """Rebuilds an index from the database (re-encodes only vectors of another model)."""
    runtime = _runtime()
    runtime.migrate()
    with progress_bar() as bar:
        task = bar.add_task(f"encoding {collection}", total=None)
        built = runtime.search.rebuild(tenant, collection, progress=lambda n: bar.advance(task, n))
    console.print(f"rebuilt {tenant}/{collection}: {len(built)} items with {runtime.search.encoder.name}")


# -- suggest ------------------------------------------------------------------------


@app.command("suggest")
def suggest_cmd(
    text: Annotated[str, typer.Argument(help="What the customer typed")],
    tenant: Annotated[str, typer.Option()] = "demo",
    channel: Annotated[str | None, typer.Option()] = None,
    locale: Annotated[str | None, typer.Option()] = None,
    top_k: Annotated[int, typer.Option(min=1, max=20)] = 5,
) -> None:
    """Prints the articles the widget would suggest."""

    try:
        request = SuggestRequest(query=text, channel=channel, locale=locale, top_k=top_k)  # type: ignore[arg-type]
    except ValueError as exc:
        fail(str(exc))
    runtime = _runtime()
    runtime.migrate()
    with runtime.session() as session:
        threshold = article_cutoff(session, runtime.search, tenant_id=tenant)
        result = suggest(
            session,
            runtime.search,
            tenant_id=tenant,
            query=request.query,
            channel=request.channel,
            locale=request.locale,
            top_k=request.top_k,
            threshold=threshold,
        )
    if result.abstained:
        console.print(
            f"[yellow]abstained[/]: nothing passes the {result.language} cut-off {result.threshold:.3f}"
        )
        return
    table = Table("id", "title", "confidence", "snippet")
    for s in result.suggestions:
        table.add_row(s.id, s.title, f"{s.confidence:.3f}", s.snippet[:90])
    console.print(table)


@app.command("tune")
def tune_cmd(
    tenant: Annotated[str, typer.Option(help="The tenant whose ranker to train")],
    holdout: Annotated[
        float, typer.Option(min=0.05, max=0.5, help="Newest share of examples held back for the replay")
    ] = 0.2,
) -> None:
    """Trains the tenant's article ranker on its resolved tickets and widget feedback, replays the most
    recent examples (never trained on) before and after, and stores it: suggestions use it at once."""
    runtime = _runtime()
    runtime.migrate()
    try:
        with runtime.session() as session:
            report = tune_ranker(session, runtime.search, tenant_id=tenant, holdout=holdout)
    except DeflectError as exc:
        fail(exc.message)
    trained, held = report.trained_on, report.held_back
    console.print(
        f"tenant {tenant}: ranker v{report.version} stored (was serving: {report.previous_source}); "
        f"trained on {trained['tickets']} tickets + {trained['feedback_sessions']} feedback sessions "
        f"({trained['rows']} rows)"
    )
    table = Table(
        title=f"replay: {held['tickets']} tickets + {held['feedback_sessions']} sessions since "
        f"{report.held_since:%Y-%m-%d %H:%M} (held back, never trained on)"
    )
    for column in ("ranking", "examples", "r@1", "r@3", "MRR@10"):
        table.add_column(column, justify="left" if column == "ranking" else "right")
    for name, replay in report.replay.items():
        table.add_row(
            name,
            str(replay.examples),
            f"{replay.recall_at_1:.3f}",
            f"{replay.recall_at_3:.3f}",
            f"{replay.mrr_at_10:.3f}",
        )
    console.print(table)
    for note in report.notes:
        console.print(f"[dim]{note}[/]")


# -- keys ---------------------------------------------------------------------------


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="public, agent or admin")],
    label: Annotated[str, typer.Option()] = "",
    origin: Annotated[list[str] | None, typer.Option(help="Allowed browser origin (public keys)")] = None,
) -> None:
    """Creates a key and prints it once; only its hash is stored."""
    runtime = _runtime()
    runtime.migrate()
    try:
        with runtime.session() as session:
            key_service.get_or_create_tenant(session, tenant_id=tenant, allowed_origins=origin)
            key, raw = key_service.create_key(session, tenant_id=tenant, role=role, label=label)
            key_id = key.id
    except DeflectError as exc:
        fail(exc.message)
    console.print(f"key id {key_id} ({role}, tenant {tenant}). Store it now, it is not shown again:")
    print(raw)


@keys_app.command("list")
def keys_list(tenant: Annotated[str, typer.Option()]) -> None:
    """Lists keys (prefix, role, last used, revoked)."""
    runtime = _runtime()
    runtime.migrate()
    with runtime.session() as session:
        rows = key_service.list_keys(session, tenant_id=tenant)
        table = Table("id", "prefix", "role", "label", "last used", "revoked")
        for k in rows:
            table.add_row(
                str(k.id), k.prefix, k.role, k.label, str(k.last_used_at or "-"), str(k.revoked_at or "-")
            )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: int, tenant: Annotated[str | None, typer.Option()] = None) -> None:
    """Revokes a key; it stops working at once."""
    runtime = _runtime()
    try:
        with runtime.session() as session:
            key_service.revoke(session, key_id=key_id, tenant_id=tenant)
    except DeflectError as exc:
        fail(exc.message)
    console.print(f"revoked key {key_id}")


@keys_app.command("webhook-secret")
def keys_webhook_secret(tenant: Annotated[str, typer.Option()]) -> None:
    """Creates or rotates the tenant's carrier-webhook secret (signs POST /v1/shipments/events) and prints
    it."""

    runtime = _runtime()
    runtime.migrate()
    try:
        with runtime.session() as session:
            created = shipments.rotate_secret(session, tenant_id=tenant, actor="cli")
    except DeflectError as exc:
        fail(exc.message)
    console.print(
        f"webhook secret for tenant {tenant}; the previous one no longer verifies. Sign each body with "
        f"HMAC-SHA256 and send {shipments.SIGNATURE_HEADER}: sha256=<hex> and {shipments.TENANT_HEADER}:"
    )
    print(created.secret)


# -- serve / demo ---------------------------------------------------------------------


@app.command("migrate")
def migrate() -> None:
    """Applies the database migrations (SQLite or PostgreSQL)."""
    _runtime().migrate()
    console.print("schema is at the newest revision")


@app.command("worker")
def worker(
    once: Annotated[bool, typer.Option(help="Run the jobs waiting now, then exit.")] = False,
) -> None:
    """Runs background jobs (index maintenance, mailbox polls, outbox passes) once across replicas;
    start one or more per deployment."""
    import signal
    import threading

    runtime = _runtime()
    runtime.migrate()
    job_worker = Worker(runtime)
    if once:
        job_worker.schedule()
        ran = 0
        while job_worker.run_once():
            ran += 1
        console.print(f"{ran} jobs run")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print(f"worker {job_worker.name} started")
    try:
        job_worker.run_forever(stop)
    except KeyboardInterrupt:
        stop.set()


@index_app.command("enqueue")
def index_enqueue(
    tenant: Annotated[str, typer.Option()] = "demo",
    collection: Annotated[str, typer.Option(help="articles or tickets")] = "articles",
    force: Annotated[bool, typer.Option(help="Rewrite every row, not only missing ones.")] = False,
    batch: Annotated[int, typer.Option(min=1, help="Items per checkpointed batch.")] = 500,
) -> None:
    """Queues index maintenance for `deflect worker` (resumable; runs once across workers)."""
    runtime = _runtime()
    runtime.migrate()
    with runtime.session() as session:
        enqueue(
            session,
            kind="index.reconcile",
            tenant_id=tenant,
            args={"collection": collection, "force": force, "batch": batch},
        )
    console.print(f"queued index.reconcile for {tenant}/{collection}")


# Math libraries that size their thread pools from the environment when first loaded.
THREAD_POOL_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def share_cores(workers: int) -> None:
    """Gives each of `workers` processes its share of the cores, unless the operator set thread counts.

    Every worker's encoder, BLAS and OpenMP would otherwise each start a thread per core: N workers
    on N cores then run N x N busy threads that wait on each other (eval/bench.py measures both).
    The workers inherit this environment.
    """
    share = str(max(1, (os.cpu_count() or 1) // workers))
    os.environ.setdefault("DEFLECT_ENCODER_THREADS", share)
    for name in THREAD_POOL_VARIABLES:
        os.environ.setdefault(name, share)
    get_settings.cache_clear()


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes; each loads the models and the indexes (see README: Several workers).",
        ),
    ] = 1,
) -> None:
    """Serves the HTTP API (and the help centre pages)."""
    import uvicorn

    if workers > 1 and wiring().injected:
        fail("--workers > 1 builds each worker from the environment alone; injected encoders need one worker")
    if workers > 1:
        share_cores(workers)
    settings = get_settings()
    # One process: the app object. Several: uvicorn's supervisor imports the factory in each worker,
    # which reads the same DEFLECT_* environment.
    target: Any = (
        create_app(settings, runtime=make_runtime(settings)) if workers == 1 else "api.app:create_app"
    )
    options: dict[str, Any] = {
        "host": host or settings.host,
        "port": port or settings.port,
        "log_level": settings.log_level.lower(),
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
        # uvicorn's 5 s default equals httpx's pool expiry: under load a client reused a connection the
        # server was closing that instant, and an agent's draft failed with a ReadError.
        "timeout_keep_alive": settings.keep_alive_seconds,
        # The security middleware reads X-Forwarded-For, and only from DEFLECT_TRUSTED_PROXIES;
        # uvicorn's own handling would believe any local peer.
        "proxy_headers": False,
    }
    if workers == 1:
        uvicorn.run(target, **options)
        return
    from cli.serving import serve_workers

    serve_workers(target, workers, options)


def load_demo(runtime: Runtime, tenant: str) -> dict[str, str]:
    """Demo tenant, keys (kept in the data dir for the next run) and every demo file that exists."""

    runtime.migrate()
    keys_file = runtime.settings.data_dir / "demo_keys.json"
    stored: dict[str, str] = json.loads(keys_file.read_text()) if keys_file.exists() else {}
    with runtime.session() as session:
        key_service.get_or_create_tenant(
            session,
            tenant_id=tenant,
            name="Hearth & Harbor (demo)",
            allowed_origins=[f"http://{runtime.settings.host}:{runtime.settings.port}"],
        )
        for role in key_service.ROLES:
            raw = stored.get(role)
            try:
                if raw:
                    key_service.authenticate(session, raw_key=raw)
                    continue
            except DeflectError:
                pass
            _, stored[role] = key_service.create_key(session, tenant_id=tenant, role=role, label="demo")
        kb_service.import_path(session, tenant_id=tenant, path=DEMO_DIR / "articles.jsonl")
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    keys_file.write_text(json.dumps(stored, indent=2))
    os.chmod(keys_file, 0o600)
    load_demo_history(runtime, tenant)
    load_demo_macros(runtime, tenant)
    load_demo_deflection(runtime, tenant)
    return stored


@app.command("demo")
def demo(
    serve_api: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the server afterwards")] = True,
) -> None:
    """Creates ./var, loads the demo shop, builds the index, serves the API and prints the URLs."""
    settings = get_settings()
    runtime = make_runtime(settings)
    with progress_bar() as bar:
        task = bar.add_task("loading demo data", total=None)
        demo_keys = load_demo(runtime, settings.demo_tenant)
        bar.update(task, total=1, completed=1)
    _sync_index(runtime, settings.demo_tenant, "articles")
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"\n[bold]Deflect demo[/] (tenant {settings.demo_tenant}, data in {settings.data_dir})")
    console.print(f"  API docs      {base}/docs")
    console.print(f"  Help centre   {base}/help")
    console.print(f"  Contact form  {base}/contact")
    console.print(f"  Agent console {base}/console")
    console.print(f"  Reports       {base}/reports")
    for role, raw in demo_keys.items():
        console.print(f"  {role:<7} key   {raw}")
    # Plain print: rich would wrap the command and break copy-paste.
    print(
        f"\n  curl -s {base}/v1/suggest -H 'X-API-Key: {demo_keys['public']}' "
        '-H \'Content-Type: application/json\' -d \'{"query": "where is my parcel", "channel": "amazon"}\'\n',
        flush=True,
    )
    runtime.close()
    if serve_api:
        serve(None, None)
