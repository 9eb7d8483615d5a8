"""Draft evaluation: topic coverage, must-mention recall, invented facts, compliance, latency."""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core import keys
from core.errors import ImportFileError, LineError
from core.schemas import Channel
from core.settings import EncoderName, Settings
from embeddings.encoder import EncoderLoader, load_encoder
from history import service as history_service
from kb import service as kb_service
from replies.drafts import compose
from replies.schemas import DraftCreate
from runtime import Runtime

TENANT = "eval"


class DraftRequestCase(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    channel: Channel
    text: str = Field(min_length=1)
    order_id: str | None = None
    locale: str | None = None
    expected_topics: list[str] = Field(default_factory=list)
    must_mention: list[str] = Field(default_factory=list)


def read_requests(path: Path) -> list[DraftRequestCase]:
    """Every line or none: bad lines are reported with file and line number."""
    cases: list[DraftRequestCase] = []
    errors: list[LineError] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = DraftRequestCase.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            errors.append(LineError(str(path), number, f"not JSON: {exc.msg}"))
            continue
        except ValidationError as exc:
            first = exc.errors()[0]
            errors.append(LineError(str(path), number, f"{'.'.join(map(str, first['loc']))}: {first['msg']}"))
            continue
        if case.id in seen:
            errors.append(LineError(str(path), number, f"duplicate id {case.id!r}"))
        seen.add(case.id)
        cases.append(case)
    if errors:
        raise ImportFileError(errors)
    return cases


def _normalise(text: str) -> str:
    # "59,99" in a French reply mentions the amount 59.99.
    return re.sub(r"(\d),(\d)", r"\1.\2", text.casefold())


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def score_case(case: DraftRequestCase, draft: dict[str, Any]) -> dict[str, Any]:
    """Per-request outcome from the composer's response (a DraftRead as a dict)."""
    answered = {q["topic"] for q in draft["questions"] if q["status"] == "answered"}
    detected = {q["topic"] for q in draft["questions"]}
    reply = _normalise(draft["reply"])
    mentioned = [m for m in case.must_mention if _normalise(m) in reply]
    return {
        "id": case.id,
        "locale": draft["locale"],
        "ready_to_send": draft.get("ready_to_send", False),
        "expected_topics": case.expected_topics,
        "answered_topics": sorted(answered),
        "detected_topics": sorted(detected),
        "covered": sorted(set(case.expected_topics) & answered),
        "missed": sorted(set(case.expected_topics) - answered),
        "needs_agent": [
            {"topic": q["topic"], "reason": q["reason"]}
            for q in draft["questions"]
            if q["status"] == "needs_agent"
        ],
        "must_mention": case.must_mention,
        "mentioned": mentioned,
        "invented": draft["fact_check"]["unsupported"],
        "compliance_passed": not draft["compliance"]["blocking"],
        "violations_before_fixes": sorted({v["rule"] for v in draft["compliance"]["violations"]}),
        "took_ms": draft["took_ms"],
        "reply": draft["reply"],
    }


def summarise(results: list[dict[str, Any]], latencies: list[float]) -> dict[str, Any]:
    """The figures over every request, then the same per reply language (``by_locale``)."""
    summary = _figures(results, latencies)
    locales = sorted({r.get("locale", "") for r in results})
    summary["by_locale"] = {
        locale: {
            k: v
            for k, v in _figures(
                [r for r in results if r.get("locale", "") == locale],
                [t for r, t in zip(results, latencies, strict=False) if r.get("locale", "") == locale],
            ).items()
            if not k.startswith("latency")
        }
        for locale in locales
    }
    return summary


def _figures(results: list[dict[str, Any]], latencies: list[float]) -> dict[str, Any]:
    expected = sum(len(r["expected_topics"]) for r in results)
    covered = sum(len(r["covered"]) for r in results)
    extra = sum(len(set(r["detected_topics"]) - set(r["expected_topics"])) for r in results)
    detected = sum(len(r["detected_topics"]) for r in results)
    must = sum(len(r["must_mention"]) for r in results)
    mentioned = sum(len(r["mentioned"]) for r in results)
    multi = [r for r in results if len(r["expected_topics"]) > 1]
    return {
        "requests": len(results),
        "multi_question_requests": len(multi),
        "topic_coverage": round(covered / expected, 4) if expected else None,
        "fully_answered_rate": round(sum(not r["missed"] for r in results) / len(results), 4)
        if results
        else None,
        "topic_precision": round((detected - extra) / detected, 4) if detected else None,
        "must_mention_recall": round(mentioned / must, 4) if must else None,
        "invented_facts": sum(len(r["invented"]) for r in results),
        "compliance_pass_rate": round(sum(r["compliance_passed"] for r in results) / len(results), 4)
        if results
        else None,
        "ready_to_send_rate": round(sum(r.get("ready_to_send", False) for r in results) / len(results), 4)
        if results
        else None,
        "latency_ms_p50": round(percentile(latencies, 50), 2),
        "latency_ms_p99": round(percentile(latencies, 99), 2),
    }


def run(
    *,
    requests: Path,
    orders: Path,
    articles: Path,
    encoder: EncoderName,
    encoders: EncoderLoader = load_encoder,
) -> dict[str, Any]:
    """Loads the files into a throw-away database and drafts a reply for every request."""
    cases = read_requests(requests)
    with tempfile.TemporaryDirectory(prefix="deflect-eval-drafts-") as data_dir:
        runtime = Runtime(Settings(data_dir=Path(data_dir), encoder=encoder), encoders=encoders)
        try:
            runtime.migrate()
            with runtime.session() as session:
                keys.get_or_create_tenant(session, tenant_id=TENANT)
                kb_service.import_path(session, tenant_id=TENANT, path=articles)
                history_service.import_orders(
                    session, tenant_id=TENANT, orders=history_service.parse_orders(orders), file=str(orders)
                )
            engine = runtime.search
            engine.catch_up(TENANT, "articles")
            engine.encode_query("warm-up")
            if cases:
                # Like a server after start-up: the model and templates are loaded before the clock starts.
                with runtime.session() as session:
                    compose(
                        session,
                        tenant_id=TENANT,
                        request=DraftCreate(text=cases[0].text, channel=cases[0].channel, rewrite=False),
                        settings=runtime.settings,
                        engine=engine,
                    )
            results: list[dict[str, Any]] = []
            latencies: list[float] = []
            for case in cases:
                request = DraftCreate(
                    text=case.text,
                    channel=case.channel,
                    locale=case.locale,
                    order_id=case.order_id,
                    rewrite=False,
                )
                with runtime.session() as session:
                    started = time.perf_counter()
                    draft = compose(
                        session, tenant_id=TENANT, request=request, settings=runtime.settings, engine=engine
                    )
                    latencies.append((time.perf_counter() - started) * 1000)
                results.append(score_case(case, draft.model_dump(mode="json")))
        finally:
            runtime.close()
    return {
        "summary": summarise(results, latencies),
        "encoder": encoder,
        "requests_file": str(requests),
        "results": results,
    }
