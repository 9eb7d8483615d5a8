"""`deflect report root-causes` and `deflect report impact`: the API's numbers from the command line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import history as cli
from cli.report import app as report_app
from core.settings import get_settings
from insights import rootcause
from insights.rootcause import RootCauseNoteIn
from runtime import Runtime
from tests.factories import article, load_articles
from tests.insights.helpers import load, ticket
from tests.insights.test_root_causes import UNTIL, _shop
from tests.support.encoders import hashing_encoders

# In-process commands build their encoders with the hashing loader (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("hashing_cli")

TENANT = "cli-insights"
runner = CliRunner()


@pytest.fixture
def cli_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """The database the CLI opens (from DEFLECT_* variables), for the test to fill first."""
    monkeypatch.setenv("DEFLECT_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    runtime = Runtime(get_settings(), encoders=hashing_encoders)
    runtime.migrate()
    yield runtime
    runtime.close()
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.console, "width", 200)  # tables keep one line per row in the captured output


def _invoke(*args: str) -> str:
    result = runner.invoke(report_app, [*args, "--tenant", TENANT])
    assert result.exit_code == 0, result.output
    return result.output


def test_root_causes_csv_for_one_period(cli_runtime: Runtime) -> None:
    _shop(cli_runtime, TENANT)
    out = _invoke(
        "root-causes", "--until", UNTIL.replace("Z", "+0000"), "--within-days", "7", "--days", "30", "--csv"
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["period"] for r in rows} == {"30d"}
    assert [(r["reason"], r["channel"], r["volume"]) for r in rows] == [
        ("tracking", "all", "3"),
        ("tracking", "amazon", "2"),
        ("refund_status", "all", "1"),
        ("refund_status", "email", "1"),
        ("tracking", "email", "1"),
    ]
    everything = rows[0]
    rates = (everything["share"], everything["repeat_rate"], everything["fcr_rate"])
    assert rates == ("0.75", "0.3333", "0.3333")
    assert (everything["avg_handling_seconds"], everything["top_skus"]) == ("400.0", "LMP-1 (2)")


def test_root_causes_table_and_json_cover_every_period(cli_runtime: Runtime) -> None:
    _shop(cli_runtime, TENANT)
    report = json.loads(_invoke("root-causes", "--until", "2026-11-20", "--within-days", "7", "--json"))
    assert list(report["periods"]) == ["30d", "60d", "90d"]
    rows60 = report["periods"]["60d"]
    amazon60 = next(r for r in rows60 if (r["reason"], r["channel"]) == ("tracking", "amazon"))
    assert (amazon60["volume"], amazon60["fcr_rate"]) == (3, 0.6667)
    table = _invoke("root-causes", "--until", "2026-11-20", "--channel", "email")
    assert "last 90d" in table and "refund_status" in table and "amazon" not in table
    assert "3.3 min" in table and "owner" not in table  # t4's 200 s of handling; no notes yet
    with cli_runtime.session() as session:
        note = RootCauseNoteIn(root_cause="Refunds wait for the carrier scan", action_owner="Ops")
        rootcause.set_note(
            session, tenant_id=TENANT, reason="refund_status", channel="email", actor="test", note=note
        )
    table = _invoke("root-causes", "--until", "2026-11-20", "--channel", "email", "--days", "30")
    assert "Refunds wait for the carrier scan" in table and "Ops" in table and "last 60d" not in table


def test_root_causes_rejects_another_period(cli_runtime: Runtime) -> None:
    result = runner.invoke(report_app, ["root-causes", "--days", "45", "--tenant", TENANT])
    assert result.exit_code == 2 and "30, 60, 90" in result.output


def test_impact_of_an_article_change(cli_runtime: Runtime) -> None:
    load_articles(
        cli_runtime,
        TENANT,
        [article(id="kb-returns", title="Returns", body="Print the label.", tags=["return_label"])],
    )
    load(
        cli_runtime,
        TENANT,
        tickets=[
            ticket("b1", "ann@example.com", ["return_label"], "2026-11-05T09:00:00Z"),
            ticket("b2", "ann@example.com", ["return_label"], "2026-11-07T09:00:00Z"),  # a repeat
            ticket("b3", "bob@example.com", ["return_label"], "2026-11-08T09:00:00Z"),
            ticket("bx", "dan@example.com", ["tracking"], "2026-11-06T09:00:00Z"),  # another reason
            ticket("a1", "eve@example.com", ["return_label"], "2026-11-12T09:00:00Z"),
        ],
    )
    report = json.loads(
        _invoke("impact", "--article", "kb-returns", "--date", "2026-11-10", "--days", "5", "--json")
    )
    assert (report["kind"], report["reason"], report["changed_at"]) == (
        "article",
        "return_label",
        "2026-11-10T00:00:00Z",
    )
    assert (report["before"]["contacts"], report["after"]["contacts"]) == (3, 1)
    assert (report["before"]["repeat_rate"], report["after"]["repeat_rate"]) == (0.3333, 0.0)
    assert report["delta"]["contacts"] == -2
    table = _invoke("impact", "--article", "kb-returns", "--date", "2026-11-10", "--days", "5")
    assert "before 2026-11-05 00:00 to 2026-11-10 00:00" in table and "-33.3 pts" in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "exactly one of --article"),
        (["--article", "a", "--macro", "tracking"], "exactly one of --article"),
        (["--article", "nope"], "not found"),
        (["--macro", "nope"], "not found"),
    ],
)
def test_impact_errors_name_the_problem(cli_runtime: Runtime, args: list[str], message: str) -> None:
    result = runner.invoke(report_app, ["impact", *args, "--tenant", TENANT])
    assert result.exit_code == 2 and message in result.output, result.output
