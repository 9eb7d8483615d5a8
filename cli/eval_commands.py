"""`deflect eval retrieval | calibrate | run | loso | replay` and `deflect bench`: registered on
cli/eval.py's app."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.app import create_app
from cli.context import make_runtime, wiring
from core import keys
from core.calibration import calibrated_threshold
from core.errors import DeflectError, ImportFileError
from core.settings import ROOT, get_settings
from eval import calibrate as calibration
from eval import mixed_load
from eval.bench import markdown, run_bench, serve_in_thread
from eval.datasets import read_articles, read_queries, read_tickets
from eval.engines import make_engine
from eval.loso import PARTS, Setting, held_out_markdown, run_loso, score_held_out, write_results
from eval.replay import replay
from eval.retrieval import Corpus, build_corpus, evaluate
from eval.run import load_config, run
from kb import service as kb_service
from kb.suggest import abstain_model, params_from_settings
from kb.tuning import global_model

if TYPE_CHECKING:
    pass

console = Console()
err_console = Console(stderr=True)


def fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


def fail_on(exc: DeflectError) -> None:
    if isinstance(exc, ImportFileError):
        more = f"\n… {len(exc.errors) - 20} more" if len(exc.errors) > 20 else ""
        fail("\n".join(str(e) for e in exc.errors[:20]) + more)
    fail(exc.message)


class Bars:
    """Rich progress bars keyed by step description (one bar per step, created on first report)."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<32}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> Bars:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def __call__(self, label: str, done: int, total: int) -> None:
        if label not in self.tasks:
            self.tasks[label] = self.progress.add_task(label, total=total)
        self.progress.update(self.tasks[label], completed=done, total=total)


def stored_threshold(tenant: str, encoder: str, collection: str) -> float:
    """The tenant's calibrated threshold for this encoder (what the API uses), else the default."""

    runtime = make_runtime()
    try:
        runtime.migrate()
        with runtime.session() as session:
            return calibrated_threshold(
                session,
                tenant_id=tenant,
                collection=collection,
                encoder=encoder,
                default=runtime.settings.default_abstain_threshold,
            )
    finally:
        runtime.close()


def print_systems(payload: dict[str, Any], title: str) -> None:
    columns = {
        "recall@1": "r@1",
        "recall@3": "r@3",
        "recall@5": "r@5",
        "mrr@10": "mrr@10",
        "ndcg@10": "ndcg@10",
        "abstention_precision": "abst P",
        "abstention_recall": "abst R",
        "in_scope_kept": "kept",
        "threshold": "thr",
    }
    table = Table(title=title)
    table.add_column("system", no_wrap=True)
    for header in columns.values():
        table.add_column(header, justify="right", no_wrap=True)
    for name, metrics in payload.items():
        table.add_row(
            name,
            *[
                f"{metrics[c]:.3f}" if isinstance(metrics.get(c), float) else str(metrics.get(c) or "-")
                for c in columns
            ],
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("bench")(bench_command)
    app.command("replay")(replay_command)
    app.command("loso")(loso_command)

    @app.command("retrieval")
    def retrieval(
        queries: Annotated[Path, typer.Option(help="queries.jsonl to score")],
        json_out: Annotated[Path, typer.Option("--json", help="Write the metrics here")],
        articles: Annotated[Path | None, typer.Option(help="articles.jsonl to index")] = None,
        tickets: Annotated[Path | None, typer.Option(help="tickets.jsonl to index as past tickets")] = None,
        calibrate_on: Annotated[
            Path | None,
            typer.Option(
                help="Labelled queries (with out-of-scope ones) to choose each system's abstain threshold on"
            ),
        ] = None,
        encoder: Annotated[str | None, typer.Option(help="Encoder (default: DEFLECT_ENCODER)")] = None,
        tenant: Annotated[
            str, typer.Option(help="Tenant whose stored threshold applies without --calibrate-on")
        ] = "demo",
    ) -> None:
        """Recall@1/3/5, MRR@10, abstention for hybrid, dense and BM25 in the same run, with slices."""

        if articles is None and tickets is None:
            fail("give --articles and/or --tickets to index")
        try:
            query_rows = read_queries(queries)
            article_rows = read_articles(articles) if articles else []
            ticket_rows = read_tickets(tickets) if tickets else []
            calib_rows = read_queries(calibrate_on) if calibrate_on else None
        except DeflectError as exc:
            fail_on(exc)
        if calibrate_on is not None and calibrate_on.resolve() == queries.resolve():
            fail("--calibrate-on must not be the file being scored")
        engine = make_engine(
            encoder, articles=bool(article_rows) and not ticket_rows, encoders=wiring().encoders
        )
        threshold = (
            None
            if calib_rows
            else stored_threshold(tenant, engine.encoder.name, "articles" if article_rows else "tickets")
        )
        with Bars() as bars:
            run = evaluate(
                engine,
                queries=query_rows,
                articles=article_rows,
                tickets=ticket_rows,
                calibrate_on=calib_rows,
                stored_threshold=threshold,
                progress=bars,
            )
        payload = run.to_json()
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        print_systems(payload["systems"], f"{queries.name} ({engine.encoder.name})")
        console.print(f"wrote {json_out}")

    @app.command("calibrate")
    def calibrate(
        queries: Annotated[
            Path, typer.Option(help="Labelled queries incl. out-of-scope ones (e.g. a validation split)")
        ],
        tenant: Annotated[str, typer.Option(help="Tenant whose threshold is stored")] = "demo",
        articles: Annotated[
            Path | None, typer.Option(help="Index these articles instead of the tenant's live articles index")
        ] = None,
        tickets: Annotated[
            Path | None, typer.Option(help="Index these past tickets (label-only query sets)")
        ] = None,
        min_in_scope: Annotated[
            float, typer.Option(min=0.0, max=1.0, help="In-scope quality to keep")
        ] = 0.95,
        constraint: Annotated[
            str,
            typer.Option(
                help="recall: in-scope recall@3 after abstention >= min; kept: in-scope answered >= min"
            ),
        ] = "recall",
        dry_run: Annotated[bool, typer.Option(help="Print the threshold without storing it")] = False,
    ) -> None:
        """Chooses the abstain threshold on labelled data and stores it for the tenant and the service's
        encoder."""

        if constraint not in ("recall", "kept"):
            fail("--constraint must be recall or kept")
        try:
            query_rows = read_queries(queries)
            article_rows = read_articles(articles) if articles else []
            ticket_rows = read_tickets(tickets) if tickets else []
        except DeflectError as exc:
            fail_on(exc)
        runtime = make_runtime()
        runtime.migrate()
        engine = runtime.search
        collection_name = "tickets" if ticket_rows and not article_rows else "articles"
        if article_rows or ticket_rows:
            with Bars() as bars:
                corpus = build_corpus(engine, articles=article_rows, tickets=ticket_rows, progress=bars)
        else:
            live = engine.memory_collection(tenant, "articles")
            if not len(live):
                fail(f"tenant {tenant!r} has no indexed articles; import some or pass --articles")
            corpus = Corpus(collection=live, head=None, has_articles=True)
        try:
            point, evidence = calibration.choose_threshold(
                engine, corpus, query_rows, min_in_scope=min_in_scope, constraint=constraint
            )
        except DeflectError as exc:
            fail_on(exc)
        console.print(
            f"threshold {point.threshold:.4f} ({corpus.collection.encoder.name}): abstains on "
            f"{point.oos_abstained:.1%} of "
            f"out-of-scope queries, answers {point.in_scope_kept:.1%} of in-scope ones, "
            f"in-scope recall@3 after abstention {point.in_scope_recall:.1%}"
        )
        if dry_run:
            return
        with runtime.session() as session:
            calibration.store(
                session,
                tenant_id=tenant,
                collection=collection_name,
                encoder=corpus.collection.encoder.name,
                threshold=point.threshold,
                evidence=evidence,
                source=str(queries),
            )
        console.print(
            f"stored for tenant {tenant}, collection {collection_name}, "
            f"encoder {corpus.collection.encoder.name}"
        )
        runtime.close()

    @app.command("run")
    def run_cmd(
        config: Annotated[Path, typer.Option(help="eval.yaml (see eval/configs/)")],
        out: Annotated[Path, typer.Option(help="Folder for results.json and report.html")],
    ) -> None:
        """Runs every evaluation in the config side by side; writes results.json + report.html, prints a
        table."""

        try:
            parsed = load_config(config)
            with Bars() as bars:
                results = run(
                    parsed,
                    out,
                    progress=bars,
                    log=lambda step: err_console.print(f"[dim]{step}…[/]"),
                    encoders=wiring().encoders,
                )
        except DeflectError as exc:
            fail_on(exc)
        retrieval = results["sections"].get("retrieval")
        if retrieval:
            print_systems(retrieval["systems"], f"{parsed.name}: retrieval")
        duplicates = results["sections"].get("duplicates")
        if duplicates:
            console.print(
                f"duplicates: F1 {duplicates['method']['f1']:.3f} "
                f"(exact-match baseline {duplicates['baseline_exact_email_or_order']['f1']:.3f})"
            )
        compliance = results["sections"].get("compliance")
        if compliance:
            for name, system in compliance["systems"].items():
                console.print(
                    f"compliance {name}: micro P {system['micro']['precision']:.3f} "
                    f"R {system['micro']['recall']:.3f}"
                )
        drafts = results["sections"].get("drafts")
        if drafts:
            console.print("drafts: " + ", ".join(f"{k} {v}" for k, v in drafts["summary"].items()))
        console.print(f"wrote {out / 'results.json'} and {out / 'report.html'}")


def bench_command(
    out: Annotated[Path, typer.Option(help="Folder for bench.json and bench.md")] = Path("var/bench"),
    sizes: Annotated[str, typer.Option(help="Comma-separated chunk counts")] = "10000,100000",
    encoder: Annotated[str | None, typer.Option(help="Encoder (default: DEFLECT_ENCODER)")] = None,
    requests: Annotated[
        int, typer.Option(min=10, max=5000, help="HTTP requests per concurrency level")
    ] = 200,
    http: Annotated[
        bool, typer.Option("--http/--no-http", help="Also measure over HTTP on 127.0.0.1")
    ] = True,
    profile: Annotated[
        bool, typer.Option("--profile/--no-profile", help="Where the time goes, 1 and 32 clients (yappi)")
    ] = True,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=64,
            help="Also measure `deflect serve --workers N` over HTTP (default: one per core; 0 or 1: skip)",
        ),
    ] = None,
) -> None:
    """Slow: encoder texts/s, index build chunks/s, suggest latency in-process and over HTTP, IVF recall loss,
    RSS per chunk, each beside a bare bm25s query from the same run; a per-component time profile."""

    try:
        size_list = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        fail("--sizes must be comma-separated integers")
    if not size_list or min(size_list) < 100 or max(size_list) > 1_000_000:
        fail("--sizes must be between 100 and 1,000,000 chunks")
    if workers is None:
        # Worker processes build their encoders from the environment: injected ones cannot follow.
        workers = 0 if wiring().injected else os.cpu_count() or 1
    elif workers > 1 and wiring().injected:
        fail("--workers > 1 starts `deflect serve` processes, which cannot use injected encoders")
    results = run_bench(
        encoder_name=encoder,
        workers=workers if http else 0,
        encoders=wiring().encoders,
        sizes=size_list,
        requests_per_level=requests,
        app_factory=(lambda settings, runtime: create_app(settings, runtime=runtime)) if http else None,
        log=lambda step: err_console.print(f"[dim]{step}…[/]"),
        profile=profile,
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    table = markdown(results)
    (out / "bench.md").write_text(table, encoding="utf-8")
    console.print(table)
    console.print(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")


def bench_mixed_command(
    out: Annotated[Path, typer.Option(help="Folder for mixed.json and mixed.md")] = Path("var/bench"),
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="A data folder with demo_keys.json to load (default: the demo, built in a temp folder)"
        ),
    ] = None,
    seconds: Annotated[float, typer.Option(min=5, max=600, help="Seconds of load per run")] = 60,
    clients: Annotated[int, typer.Option(min=1, max=200, help="Closed-loop clients")] = 50,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="deflect serve --workers (default: one per core)")
    ] = None,
) -> None:
    """Slow: shoppers' suggestions mixed with agents' drafts, ticket ingest and article writes against
    `deflect serve --workers N` on 127.0.0.1, with the real models; once with heavy requests taking turns
    (DEFLECT_HEAVY_REQUESTS_PER_WORKER=1) and once without, in the same run."""
    if wiring().injected:
        fail("bench-mixed starts `deflect serve` processes, which cannot use injected encoders")
    with tempfile.TemporaryDirectory(prefix="deflect-bench-mixed-") as folder:
        base = Path(folder) / "data"
        if data_dir is None:
            err_console.print("[dim]building the demo shop (deflect demo --no-serve)…[/]")
            env = {**os.environ, "DEFLECT_DATA_DIR": str(base)}
            built = subprocess.run(
                [sys.executable, "-c", "from bootstrap import main; main()", "demo", "--no-serve"],
                env=env,
                capture_output=True,
                text=True,
            )
            if built.returncode != 0:
                fail(f"deflect demo failed: {(built.stderr or built.stdout)[-1000:]}")
        else:
            if not (data_dir / "demo_keys.json").is_file():
                fail(f"{data_dir}: no demo_keys.json (make one: `deflect demo --no-serve`)")
            shutil.copytree(data_dir, base)
        try:
            stored = json.loads((base / "demo_keys.json").read_text(encoding="utf-8"))
            keys = {role: str(stored[role]) for role in ("public", "agent", "admin")}
        except (OSError, ValueError, KeyError) as exc:
            fail(f"{base / 'demo_keys.json'}: {exc}")
        result = mixed_load.run_mixed(
            base,
            keys,
            workers=workers or os.cpu_count() or 1,
            clients=clients,
            seconds=seconds,
            log=lambda step: err_console.print(f"[dim]{step}…[/]"),
        )
    mixed_load.write(result, out)
    console.print(mixed_load.markdown(result))
    console.print(f"wrote {out / 'mixed.json'} and {out / 'mixed.md'}")


def replay_command(
    queries: Annotated[Path, typer.Option(help="Labelled queries.jsonl to replay as widget sessions")],
    articles: Annotated[
        Path | None, typer.Option(help="Serve these articles from a fresh temporary server (default mode)")
    ] = None,
    url: Annotated[str | None, typer.Option(help="Replay against this running server instead")] = None,
    public_key: Annotated[str | None, typer.Option(help="With --url: the tenant's public key")] = None,
    agent_key: Annotated[str | None, typer.Option(help="With --url: an agent key to read the report")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the comparison here")] = None,
) -> None:
    """Replays queries through /v1/suggest and /v1/deflection/events and checks the live deflection report
    counts exactly what was replayed (exit 1 when it does not)."""
    try:
        query_rows = read_queries(queries)
        article_rows = read_articles(articles) if articles else []
    except DeflectError as exc:
        fail_on(exc)
    with Bars() as bars:
        if url:
            if not (public_key and agent_key):
                fail(
                    "--url needs --public-key and --agent-key of a tenant that gets no other traffic "
                    "meanwhile"
                )
            with httpx.Client(timeout=30.0) as client:
                result = replay(
                    client,
                    query_rows,
                    public_key=public_key or "",
                    agent_key=agent_key or "",
                    base_url=url.rstrip("/"),
                    progress=bars,
                )
        else:
            if not article_rows:
                fail("give --articles (served by a temporary server) or --url of a running server")
            result = _replay_self_hosted(query_rows, article_rows, bars)
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    expected = result["expected"]
    console.print(
        f"replayed {result['queries']} sessions: {expected['sessions']} saw suggestions, "
        f"{expected['contacted']} contacted, {expected['pending']} deflected (pending until the "
        f"{result['window_hours']} h window closes), {expected['abstained_sessions']} abstained"
    )
    if not result["consistent"]:
        for line in result["mismatches"]:
            err_console.print(f"[red]mismatch[/] {line}")
        raise typer.Exit(1)
    console.print("[green]the live deflection report counts exactly what was replayed[/]")


def _replay_self_hosted(queries: Any, articles: Any, bars: Bars) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="deflect-replay-") as folder:
        # A replay is one client sending hundreds of sessions: lift the per-key/IP limits of this private
        # server.
        unlimited = 10_000_000
        settings = get_settings().model_copy(
            update={
                "data_dir": Path(folder),
                "database_url": None,
                "rate_limit_public_per_minute": unlimited,
                "rate_limit_per_minute": unlimited,
                "rate_limit_ip_per_minute": unlimited,
            }
        )
        runtime = make_runtime(settings)
        try:
            runtime.migrate()
            with runtime.session() as session:
                keys.get_or_create_tenant(session, tenant_id="replay")
                _, public = keys.create_key(session, tenant_id="replay", role="public")
                _, agent = keys.create_key(session, tenant_id="replay", role="agent")
                kb_service.import_articles(session, tenant_id="replay", articles=articles, file="replay")
            runtime.search.catch_up("replay", "articles")
            with (
                serve_in_thread(create_app(settings, runtime=runtime)) as base_url,
                httpx.Client(timeout=30.0) as client,
            ):
                return replay(
                    client, queries, public_key=public, agent_key=agent, base_url=base_url, progress=bars
                )
        finally:
            runtime.close()


def _devshop_configs() -> list[Path]:
    """The eval config of every development shop with suggestion queries; a shop without one is an error,
    not a silently smaller leave-one-shop-out."""
    shops = sorted(
        (p for folder in ("devshops", "devdrafts") for p in (ROOT / folder).iterdir()),
        key=lambda p: p.name,
    )
    shops = [p for p in shops if (p / "queries.jsonl").exists()]
    configs = [ROOT / "eval" / "configs" / f"{shop.name}.yaml" for shop in shops]
    missing = [str(c.relative_to(ROOT)) for c in configs if not c.exists()]
    if missing:
        fail(f"devshops without an eval config: {', '.join(missing)}")
    return configs


def loso_command(
    configs: Annotated[
        list[Path] | None,
        typer.Option(
            "--config",
            help="A development shop's eval config (repeat; default: every shop in devshops/ and "
            "devdrafts/ with queries, eval/configs/<shop>.yaml)",
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for loso.json and loso.md")] = Path("eval/results"),
    cache: Annotated[
        Path | None, typer.Option(help="Keep encoded texts here between runs (e.g. var/loso-cache)")
    ] = None,
    passes: Annotated[int, typer.Option(min=1, max=5, help="Coordinate-search passes per fold")] = 2,
    model_out: Annotated[
        Path | None,
        typer.Option(
            help="Write the learned ranker fitted on all shops here (shipped: kb/ranker_global.json)"
        ),
    ] = None,
    abstain_out: Annotated[
        Path | None,
        typer.Option(
            help="Write the abstention model fitted on all shops here (shipped: kb/abstain_global.json)"
        ),
    ] = None,
    held_out: Annotated[
        Path | None,
        typer.Option(
            help="Instead: score this shop's eval config once with the shipped setting and models "
            "(writes held-out.json and held-out.md to --out)"
        ),
    ] = None,
) -> None:
    """Leave-one-shop-out: tunes every setting on all shops but one and scores that one, for each shop;
    prints per-shop and per-language tables for hybrid, the learned ranker, dense and BM25."""
    if held_out is not None:
        _held_out(held_out, out, cache)
        return

    paths = configs or _devshop_configs()
    try:
        result = run_loso(
            paths,
            cache_dir=cache,
            passes=passes,
            log=lambda s: err_console.print(f"[dim]{s}…[/]"),
            # The shipped model reads the scores of the ranking the service runs (core/settings.py).
            served_setting=lambda: Setting(params=params_from_settings(get_settings())),
        )
    except DeflectError as exc:
        fail_on(exc)
    json_path, md_path = write_results(result, out, model_out=model_out, abstain_out=abstain_out)
    systems = result.systems
    for title, rows in (
        ("per shop (held out)", [(shop, "all") for shop in systems["hybrid"]]),
        ("per language (all shops, held out)", [("all", lang) for lang in systems["hybrid"]["all"]]),
    ):
        table = Table(title=f"leave-one-shop-out: {title}")
        for column in ("slice", "system", "n", "r@1", "r@3", "MRR", "OOS abst.", "kept"):
            table.add_column(column, justify="right" if column not in ("slice", "system") else "left")
        for shop, lang in rows:
            for system, per_shop in systems.items():
                cell = per_shop[shop].get(lang)
                if cell is None:
                    continue
                table.add_row(
                    shop if lang == "all" else lang,
                    system,
                    str(cell["queries"]),
                    *[
                        f"{cell[k]:.3f}" if isinstance(cell.get(k), float) else "-"
                        for k in ("recall@1", "recall@3", "mrr@10", "oos_abstained", "in_scope_kept")
                    ],
                )
        console.print(table)
    console.print(f"wrote {json_path} and {md_path}")


def _held_out(config: Path, out: Path, cache: Path | None) -> None:
    try:
        payload = score_held_out(
            config,
            served=Setting(params=params_from_settings(get_settings())),
            ranker=global_model(PARTS),
            gate=abstain_model(PARTS) if get_settings().suggest_abstention_model else None,
            cache_dir=cache,
        )
    except DeflectError as exc:
        fail_on(exc)
    out.mkdir(parents=True, exist_ok=True)
    (out / "held-out.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "held-out.md").write_text(held_out_markdown(payload), encoding="utf-8")
    console.print(held_out_markdown(payload))
