"""Draft evaluation: topic coverage, must-mention recall, invented facts, compliance, latency."""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select

from core import keys
from core.errors import ImportFileError, LineError
from core.schemas import Channel
from core.settings import EncoderName, Settings
from embeddings import language, spelling
from embeddings.encoder import EncoderLoader, load_encoder
from history import service as history_service
from kb import service as kb_service
from kb.models import Article
from kb.ranking import translation_group
from kb.suggest import suggest
from replies.answers import ARTICLE_TOPICS, prepare_articles
from replies.drafts import compose
from replies.schemas import DraftCreate
from runtime import Runtime

if TYPE_CHECKING:
    from indexing.engine import SearchEngine

TENANT = "eval"


class AnswerPages(BaseModel):
    """One product or open question of a request, labelled by a reader with the help-centre pages an agent
    would quote to answer it (none: no page answers it, and the draft should leave it to the agent)."""

    model_config = ConfigDict(extra="forbid")

    asks: str = Field(min_length=1)  # the customer's words, quoted
    topic: str
    pages: list[str]
    why: str = ""

    @model_validator(mode="after")
    def _open_topic(self) -> AnswerPages:
        if self.topic not in ARTICLE_TOPICS:
            raise ValueError(f"topic {self.topic!r} is not one of {sorted(ARTICLE_TOPICS)}")
        return self


class DraftRequestCase(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    channel: Channel
    text: str = Field(min_length=1)
    order_id: str | None = None
    locale: str | None = None
    expected_topics: list[str] = Field(default_factory=list)
    must_mention: list[str] = Field(default_factory=list)
    answer_pages: list[AnswerPages] = Field(default_factory=list)

    @model_validator(mode="after")
    def _quotes_the_text(self) -> DraftRequestCase:
        text = " ".join(self.text.split())
        for labelled in self.answer_pages:
            if " ".join(labelled.asks.split()) not in text:
                raise ValueError(f"answer_pages: {labelled.asks[:60]!r} is not quoted from the text")
        return self


def read_requests(path: Path, known_pages: set[str] | None = None) -> list[DraftRequestCase]:
    """Every line or none: bad lines are reported with file and line number (with ``known_pages``, a
    labelled answer page that is not among them too)."""
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
        if known_pages is not None:
            labelled_pages = {page for labelled in case.answer_pages for page in labelled.pages}
            if unknown := sorted(labelled_pages - known_pages):
                errors.append(LineError(str(path), number, f"answer_pages: no article {', '.join(unknown)}"))
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


def cited_pages(
    case: DraftRequestCase, draft: dict[str, Any], group_of: Callable[[str], str]
) -> dict[str, Any]:
    """Whether the pages the draft quotes for product and open questions are ones a reader labelled as
    answering one of the request's questions (any language version of them), and how many labelled
    questions got one of their pages. Only for requests with labels: the others say nothing."""
    if not case.answer_pages:
        return {"cited": [], "labelled_with_page": 0, "labelled_found": 0}
    wanted = [{group_of(page) for page in labelled.pages} for labelled in case.answer_pages]
    acceptable = set().union(*wanted)
    cited = [
        {"article": q["article_id"], "on_topic": group_of(q["article_id"]) in acceptable}
        for q in draft["questions"]
        if q["status"] == "answered" and q["topic"] in ARTICLE_TOPICS and q.get("article_id")
    ]
    cited_groups = {group_of(c["article"]) for c in cited}
    return {
        "cited": cited,
        "labelled_with_page": sum(bool(groups) for groups in wanted),
        "labelled_found": sum(bool(groups & cited_groups) for groups in wanted),
    }


def score_case(
    case: DraftRequestCase, draft: dict[str, Any], group_of: Callable[[str], str] = lambda page: page
) -> dict[str, Any]:
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
        "pages": cited_pages(case, draft, group_of),
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
    cited = [c for r in results for c in r.get("pages", {}).get("cited", [])]
    labelled = sum(r.get("pages", {}).get("labelled_with_page", 0) for r in results)
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
        # Labelled requests only: a quoted page about the question asked, and labelled questions answered
        # by one of their pages.
        "cited_page_precision": round(sum(c["on_topic"] for c in cited) / len(cited), 4) if cited else None,
        "labelled_page_recall": round(
            sum(r.get("pages", {}).get("labelled_found", 0) for r in results) / labelled, 4
        )
        if labelled
        else None,
        "latency_ms_p50": round(percentile(latencies, 50), 2),
        "latency_ms_p99": round(percentile(latencies, 99), 2),
    }


CLASSIFIERS = ("head", "examples")
BASELINE = "examples"


def run(
    *,
    requests: Path,
    orders: Path,
    articles: Path,
    encoder: EncoderName,
    tickets: Path | None = None,
    classifiers: Sequence[str] = CLASSIFIERS,
    encoders: EncoderLoader = load_encoder,
) -> dict[str, Any]:
    """Loads the files into a throw-away database and drafts a reply for every request, once per question
    classifier (the first is the service's, the others baselines beside it from the same load).

    Each request is also searched as a bare widget query (the article search alone), so the draft's
    latency is read against the search's from the same run and machine.
    """
    cases = read_requests(requests)
    with tempfile.TemporaryDirectory(prefix="deflect-eval-drafts-") as data_dir:
        runtime = Runtime(Settings(data_dir=Path(data_dir), encoder=encoder), encoders=encoders)
        try:
            runtime.migrate()
            engine = runtime.search
            with runtime.session() as session:
                keys.get_or_create_tenant(session, tenant_id=TENANT)
                kb_service.import_path(session, tenant_id=TENANT, path=articles)
                history_service.import_orders(
                    session, tenant_id=TENANT, orders=history_service.parse_orders(orders), file=str(orders)
                )
                if tickets is not None and tickets.exists():
                    # The tenant's tagged past tickets: the head learns the shop's wording from them.
                    history_service.import_tickets(
                        session,
                        engine,
                        tenant_id=TENANT,
                        tickets=history_service.parse_tickets(tickets),
                        file=str(tickets),
                    )
            with runtime.session() as session:
                locale_of = dict(
                    session.execute(
                        select(Article.external_id, Article.locale).where(Article.tenant_id == TENANT)
                    )
                    .tuples()
                    .all()
                )
            # Now that the articles are known, a labelled page that is not one of them is an error too.
            cases = read_requests(requests, known_pages=set(locale_of))

            def group_of(page: str) -> str:
                return translation_group(page, locale_of.get(page, ""))

            engine.catch_up(TENANT, "articles")
            engine.encode_query("warm-up")
            # A server loads the language models and word lists at start-up (api/app.py), not on a draft.
            language.warm()
            spelling.warm()
            with runtime.session() as session:
                # A server has met its articles before it is timed: their sentence vectors are cached then.
                prepare_articles(
                    engine, list(session.scalars(select(Article).where(Article.tenant_id == TENANT)))
                )
            per_classifier: dict[str, dict[str, Any]] = {}
            for kind in classifiers:
                settings = runtime.settings.model_copy(update={"question_classifier": kind})
                results, latencies = _draft_all(runtime, engine, cases, settings, group_of)
                per_classifier[kind] = {"summary": summarise(results, latencies), "results": results}
            search_ms = _search_all(runtime, engine, cases)
        finally:
            runtime.close()
    shipped = classifiers[0]
    draft_p50 = per_classifier[shipped]["summary"]["latency_ms_p50"]
    search_p50 = round(percentile(search_ms, 50), 2)
    return {
        "summary": per_classifier[shipped]["summary"],
        "classifier": shipped,
        "baselines": {k: v["summary"] for k, v in per_classifier.items() if k != shipped},
        "speed": {
            "draft_ms_p50": draft_p50,
            "search_ms_p50": search_p50,
            "draft_over_search": round(draft_p50 / search_p50, 2) if search_p50 else None,
        },
        "encoder": encoder,
        "requests_file": str(requests),
        "results": per_classifier[shipped]["results"],
        "baseline_results": {k: v["results"] for k, v in per_classifier.items() if k != shipped},
    }


def _draft_all(
    runtime: Runtime,
    engine: SearchEngine,
    cases: list[DraftRequestCase],
    settings: Settings,
    group_of: Callable[[str], str],
) -> tuple[list[dict[str, Any]], list[float]]:
    if cases:
        # Like a server after start-up: the model, the classifier and templates are loaded before the clock
        # starts.
        with runtime.session() as session:
            compose(
                session,
                tenant_id=TENANT,
                request=DraftCreate(text=cases[0].text, channel=cases[0].channel, rewrite=False),
                settings=settings,
                engine=engine,
            )
    results: list[dict[str, Any]] = []
    latencies: list[float] = []
    for case in cases:
        request = DraftCreate(
            text=case.text, channel=case.channel, locale=case.locale, order_id=case.order_id, rewrite=False
        )
        with runtime.session() as session:
            started = time.perf_counter()
            draft = compose(session, tenant_id=TENANT, request=request, settings=settings, engine=engine)
            latencies.append((time.perf_counter() - started) * 1000)
        results.append(score_case(case, draft.model_dump(mode="json"), group_of))
    return results, latencies


def _search_all(runtime: Runtime, engine: SearchEngine, cases: list[DraftRequestCase]) -> list[float]:
    """Milliseconds of a bare article search per request text (a query vector not cached yet)."""
    took: list[float] = []
    for case in cases:
        with runtime.session() as session:
            # A variant of the text the drafts never encoded: the search pays for its own query vector.
            query = f"{case.text} "
            started = time.perf_counter()
            suggest(session, engine, tenant_id=TENANT, query=query, channel=case.channel, locale=case.locale)
            took.append((time.perf_counter() - started) * 1000)
    return took


def shop_files(folder: Path) -> dict[str, Path]:
    """The draft evaluation files of one development shop (tickets when it has them)."""
    return {
        "requests": folder / "draft_requests.jsonl",
        "orders": folder / "orders.jsonl",
        "articles": folder / "articles.jsonl",
        "tickets": folder / "tickets.jsonl",
    }


def run_shops(
    folders: Sequence[Path],
    *,
    encoder: EncoderName,
    log: Callable[[str], None] = lambda _: None,
    on_shop: Callable[[str, dict[str, Any]], None] = lambda _name, _result: None,
    encoders: EncoderLoader = load_encoder,
) -> dict[str, Any]:
    """Every shop in turn, then every language over the shops pooled; the baseline beside each row."""
    shops: dict[str, Any] = {}
    pooled: dict[str, list[dict[str, Any]]] = {}
    for folder in folders:
        log(folder.name)
        files = shop_files(folder)
        result = run(
            encoder=encoder,
            requests=files["requests"],
            orders=files["orders"],
            articles=files["articles"],
            tickets=files["tickets"],
            encoders=encoders,
        )
        shops[folder.name] = {
            "summary": result["summary"],
            "baselines": result["baselines"],
            "speed": result["speed"],
        }
        on_shop(folder.name, result)  # a shop takes minutes: its figures are shown as soon as they exist
        pooled.setdefault(result["classifier"], []).extend(result["results"])
        for kind, rows in result["baseline_results"].items():
            pooled.setdefault(kind, []).extend(rows)
    by_locale = {
        kind: summarise(rows, [r["took_ms"] for r in rows])["by_locale"] for kind, rows in pooled.items()
    }
    overall = {kind: _figures(rows, [r["took_ms"] for r in rows]) for kind, rows in pooled.items()}
    return {"shops": shops, "by_locale": by_locale, "overall": overall, "encoder": encoder}
