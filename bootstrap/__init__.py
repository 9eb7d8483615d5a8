"""The composition root: the one `deflect` command tree, assembled with plain imports.

Readers and type checkers see the whole graph from here: the CLI groups of every capability, each
building the process `Runtime` (runtime/: database, search engine wired to every domain's item
source) and, for `deflect serve`, the FastAPI app over it (api.app.create_app, which includes every
router by plain import).
"""

from __future__ import annotations

import logging
import sys

from cli import channels, compliance, core, eval_commands, history, macros, report
from cli import eval as eval_cli
from cli.context import Wiring, wired
from core.errors import DeflectError
from core.redact import install_log_redaction
from core.settings import get_settings

app = core.app
# `deflect import orders|tickets` sit beside `deflect import articles`.
core.import_app.registered_commands.extend(history.import_app.registered_commands)
app.add_typer(history.app, name="history")
app.add_typer(report.app, name="report")
app.add_typer(compliance.app, name="compliance")
app.add_typer(macros.app, name="macros")
app.add_typer(channels.app, name="channels")
app.add_typer(eval_cli.app, name="eval", help="Offline evaluation beside baselines measured in the same run.")
# `deflect bench` is the name for the slow benchmark suite; `deflect eval bench` is the same command.
app.command("bench")(eval_commands.bench_command)
app.command("bench-mixed")(eval_commands.bench_mixed_command)


def main(wiring: Wiring | None = None) -> None:
    """Runs the command line; `wiring` replaces the production encoders (tests/support/serve.py)."""
    logging.basicConfig(level=get_settings().log_level, format="%(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    for chatty in (
        "alembic",
        "sentence_transformers",
        "bm25s",
        "faiss",
        "httpx",
        "transformers",
        "imapclient",
    ):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        with wired(wiring or Wiring()):
            app()
    except DeflectError as exc:
        core.err_console.print(f"[bold red]error:[/] {exc.message}")
        sys.exit(2)
