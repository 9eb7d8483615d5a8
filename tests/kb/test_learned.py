"""The learned ranker: feature extraction, training and serialisation, tune -> serve, refused models."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select, update

from core.errors import InvalidInputError
from history import service as history_service
from history.schemas import TicketCreate
from kb.learned import (
    BASE_FEATURES,
    ArticlePriors,
    RankerModelError,
    article_rows,
    feature_names,
    fit,
    loads,
)
from kb.models import RankerModel
from kb.ranking import Candidates, LanguagePolicy, RankingParams
from kb.suggest import suggest, tune_ranker
from kb.tuning import encoder_parts, retrain_due, serving_ranker
from runtime import Runtime
from runtime.jobs import Worker
from tests.conftest import TenantKeys
from tests.factories import SHOP_ARTICLES, load_articles

PARAMS = RankingParams(
    policies={"*": LanguagePolicy(dense_weights=(0.5, 0.5), keyword_weight=0.1, threshold=0.2)},
    channel_bonus=0.05,
    locale_bonus=0.0,
    vote_weight=0.1,
    collapse_translations=False,
)


def _candidates() -> Candidates:
    # Three articles: a (en, two chunks), b (fr, amazon-scoped), c (de).
    return Candidates(
        keys=["a", "b", "c"],
        locales=["en", "fr", "de"],
        channel_match=np.array([False, True, False]),
        chunk_article=np.array([0, 0, 1, 2]),
        part_cosines=np.array([[0.2, 0.6, 0.5, 0.1], [0.4, 0.3, 0.7, 0.2]], dtype=np.float32),
        keyword=np.array([0.0, 3.0, 1.5, 0.0], dtype=np.float32),
        votes=np.array([0.0, 1.0, 0.0], dtype=np.float32),
    )


def _row(rows: np.ndarray, hand: list[str], key: str, name: str) -> float:
    return float(rows[hand.index(key), feature_names(["p", "q"]).index(name)])


def test_features_read_each_part_locale_channel_votes_keywords_and_priors() -> None:
    priors = ArticlePriors(click_prior={"b": 2.0}, helpful_rate={"b": 0.9}, contact_rate={"c": 0.4})
    found = article_rows(_candidates(), language="fr", params=PARAMS, priors=priors)
    hand = [r.key for r in found.hand]
    rows = found.features
    assert rows.shape == (3, 6 + len(BASE_FEATURES))
    # Best chunk per part, each part on its own (a's chunks: p 0.2/0.6, q 0.4/0.3).
    assert _row(rows, hand, "a", "cos:p") == pytest.approx(0.6)
    assert _row(rows, hand, "a", "cos:q") == pytest.approx(0.4)
    assert _row(rows, hand, "b", "cos_gap:q") == pytest.approx(0.0)  # b holds the best q cosine
    assert _row(rows, hand, "a", "cos_en:p") == 0.0  # a French query
    assert _row(rows, hand, "b", "locale_same") == 1.0
    assert _row(rows, hand, "a", "locale_en") == 1.0
    assert _row(rows, hand, "c", "locale_third") == 1.0
    assert _row(rows, hand, "b", "channel_match") == 1.0 and _row(rows, hand, "a", "channel_match") == 0.0
    assert _row(rows, hand, "b", "votes") == 1.0
    assert _row(rows, hand, "a", "keyword_share") == 1.0 and _row(rows, hand, "b", "keyword_share") == 0.5
    assert _row(rows, hand, "a", "keyword_rank") == 1.0 and _row(rows, hand, "c", "keyword_rank") == 0.0
    assert _row(rows, hand, "b", "click_prior") == pytest.approx(np.log(2.0))
    assert _row(rows, hand, "b", "helpful_rate") == pytest.approx(0.4)
    assert _row(rows, hand, "c", "contact_rate") == pytest.approx(0.4)
    assert _row(rows, hand, hand[0], "hand_gap") == 0.0
    assert all(_row(rows, hand, k, "hand_gap") <= 0 for k in hand)


def _toy_training(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    width = len(feature_names(["p", "q"]))
    x = rng.normal(size=(400, width))
    # The answer has the higher first cosine and the vote: a rule the model must find.
    y = (x[:, 0] + 0.5 * x[:, 6 + BASE_FEATURES.index("votes")] > 0.3).astype(np.int64)
    return x, y


def test_a_model_round_trips_through_json_with_the_same_scores() -> None:
    x, y = _toy_training()
    model = fit(x, y, features=feature_names(["p", "q"]))
    text, sha = model.dumps()
    again = loads(text, sha256=sha, parts=["p", "q"])
    np.testing.assert_allclose(again.probabilities(x), model.probabilities(x))
    ranked = np.argsort(-model.probabilities(x))
    assert y[ranked[:50]].mean() > 0.9  # it learned the rule, not noise


def test_a_tenant_model_stacks_on_the_global_one_and_round_trips() -> None:
    x, y = _toy_training(1)
    base = fit(x, y, features=feature_names(["p", "q"]))
    tenant_y = (x[:, 1] > 0).astype(np.int64)  # the tenant's answers follow another part
    tenant = fit(x, tenant_y, base=base, features=feature_names(["p", "q"]))
    assert tenant.kind == "tenant" and tenant.base == base
    text, sha = tenant.dumps()
    again = loads(text, sha256=sha, parts=["p", "q"])
    np.testing.assert_allclose(again.probabilities(x), tenant.probabilities(x))
    agreement = ((tenant.probabilities(x) > 0.5) == tenant_y).mean()
    assert agreement > ((base.probabilities(x) > 0.5) == tenant_y).mean()


def test_an_altered_corrupt_or_mismatched_model_is_refused_with_the_reason() -> None:
    x, y = _toy_training()
    text, sha = fit(x, y, features=feature_names(["p", "q"])).dumps()
    raw = json.loads(text)
    raw["coef"][0] += 1.0
    with pytest.raises(RankerModelError, match="checksum"):
        loads(json.dumps(raw), sha256=sha, parts=["p", "q"])
    with pytest.raises(RankerModelError, match="unreadable"):
        loads(text[:-10], sha256=None, parts=["p", "q"])
    with pytest.raises(RankerModelError, match="other encoder parts"):
        loads(text, sha256=sha, parts=["p", "q", "r"])
    raw = json.loads(text)
    raw["coef"] = raw["coef"][:-1]
    with pytest.raises(RankerModelError, match="coefficients"):
        loads(json.dumps(raw), sha256=None, parts=["p", "q"])


# -- tune -> serve, with the real SQLite and index -------------------------------------------


TICKETS = [
    ("Where is my parcel? No tracking update for days", "kb-tracking"),
    ("How do I track my order, I lost the tracking number", "kb-tracking"),
    ("My package tracking has not moved since Monday", "kb-tracking"),
    ("I want to send the chair back, how do I get a return label", "kb-returns-shop"),
    ("Please send me a prepaid return label for my order", "kb-returns-shop"),
    ("Return portal: which order number do I enter for the label", "kb-returns-shop"),
    ("When do I get my money back after the return arrived", "kb-refunds"),
    ("Refund still not on my card, you received the return last week", "kb-refunds"),
    ("How long does a refund take after you get my parcel back", "kb-refunds"),
    ("Which screwdriver do I need for the bookcase shelves", "kb-fjord"),
    ("The side panels of the bookcase: in which order do I attach them", "kb-fjord"),
    ("Assembly of the bookcase: the shelves do not fit", "kb-fjord"),
]


def _import_tickets(runtime: Runtime, tenant_id: str) -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    with runtime.session() as session:
        history_service.import_tickets(
            session,
            runtime.search,
            tenant_id=tenant_id,
            tickets=[
                TicketCreate(
                    id=f"t-{i}",
                    channel="shopify",
                    body=text,
                    created_at=start + timedelta(hours=i),
                    status="closed",
                    resolved_by_article=article,
                )
                for i, (text, article) in enumerate(TICKETS * 2)
            ],
            file="test",
        )
    runtime.search.catch_up(tenant_id, "tickets")


def test_tune_stores_a_model_that_suggest_then_serves(runtime: Runtime, tenant: TenantKeys) -> None:
    load_articles(runtime, tenant.tenant_id, SHOP_ARTICLES)
    _import_tickets(runtime, tenant.tenant_id)
    with runtime.session() as session:
        before = suggest(session, runtime.search, tenant_id=tenant.tenant_id, query="where is my parcel")
        # The shipped model is built for the bundled encoders, not the test's hashing one.
        assert before.ranker == "hand"
        report = tune_ranker(session, runtime.search, tenant_id=tenant.tenant_id)
    assert report.version == 1 and report.previous_source == "hand"
    assert report.held_back["tickets"] == 5 and report.trained_on["tickets"] == 19
    assert set(report.replay) == {"hand", "tuned"}
    assert report.replay["tuned"].examples == 5
    with runtime.session() as session:
        after = suggest(session, runtime.search, tenant_id=tenant.tenant_id, query="where is my parcel")
        stored = session.scalars(select(RankerModel)).one()
    assert after.ranker == "tenant:v1"
    assert stored.replay["tuned"]["examples"] == 5
    # Probabilities, not hand-tuned scores, order what is shown.
    assert all(0.0 <= s.score <= 1.0 for s in after.suggestions)


def test_a_corrupt_stored_model_is_refused_and_the_next_ranker_serves(
    runtime: Runtime, tenant: TenantKeys, caplog: pytest.LogCaptureFixture
) -> None:
    load_articles(runtime, tenant.tenant_id, SHOP_ARTICLES)
    _import_tickets(runtime, tenant.tenant_id)
    with runtime.session() as session:
        tune_ranker(session, runtime.search, tenant_id=tenant.tenant_id)
    with runtime.session() as session:
        session.execute(update(RankerModel).values(model_json=RankerModel.model_json + " "))
    with runtime.session() as session:
        parts = encoder_parts(runtime.search.collection(tenant.tenant_id, "articles"))  # type: ignore[arg-type]
        serving = serving_ranker(session, tenant_id=tenant.tenant_id, parts=parts)
        result = suggest(session, runtime.search, tenant_id=tenant.tenant_id, query="where is my parcel")
    assert serving.source == "hand" and serving.refused is not None and "checksum" in serving.refused
    assert result.ranker == "hand" and not result.abstained
    assert "refused" in caplog.text


def test_tune_refuses_a_tenant_without_enough_examples(runtime: Runtime, tenant: TenantKeys) -> None:
    load_articles(runtime, tenant.tenant_id, SHOP_ARTICLES)
    with runtime.session() as session, pytest.raises(InvalidInputError, match="at least"):
        tune_ranker(session, runtime.search, tenant_id=tenant.tenant_id)


def test_enough_new_events_enqueue_one_retraining_that_the_worker_runs(
    runtime: Runtime, tenant: TenantKeys
) -> None:
    from core.models import Job

    load_articles(runtime, tenant.tenant_id, SHOP_ARTICLES)
    _import_tickets(runtime, tenant.tenant_id)
    settings = runtime.settings.model_copy(update={"ranker_retrain_events": 20})
    runtime.settings = settings
    with runtime.session() as session:
        assert retrain_due(session, tenant_id=tenant.tenant_id, min_new=20) == (True, 0)
    worker = Worker(runtime)
    worker.schedule()
    with runtime.session() as session:
        jobs = list(session.scalars(select(Job).where(Job.kind == "retrain_ranker")))
    assert [j.tenant_id for j in jobs] == [tenant.tenant_id]
    while worker.run_once():
        pass
    with runtime.session() as session:
        job = session.scalars(select(Job).where(Job.kind == "retrain_ranker")).one()
        assert job.status == "done" and job.progress["version"] == 1
        # Nothing new since that model: not due again.
        assert retrain_due(session, tenant_id=tenant.tenant_id, min_new=20) == (False, 1)


def test_feedback_sessions_become_examples_with_answers_and_misses(
    runtime: Runtime, tenant: TenantKeys
) -> None:
    from kb.events import DeflectionEvent
    from kb.tuning import tenant_examples

    at = datetime(2026, 11, 20, 10, tzinfo=UTC)

    def event(session_id: str, kind: str, minute: int, **fields: object) -> DeflectionEvent:
        return DeflectionEvent(
            tenant_id=tenant.tenant_id,
            session_id=session_id,
            kind=kind,
            source="widget",
            created_at=at + timedelta(minutes=minute),
            **fields,
        )

    shown = {"query": "where is my parcel", "article_ids": ["kb-tracking", "kb-refunds"]}
    with runtime.session() as session:
        session.add_all(
            [
                event("clicked", "impression", 0, **shown),
                event("clicked", "click", 1, article_id="kb-tracking"),
                event("voted-no", "impression", 2, **shown),
                event("voted-no", "not_helpful", 3, article_id="kb-refunds"),
                event("wrote-in", "impression", 4, **shown),
                event("wrote-in", "contact_anyway", 5),
                event("only-looked", "impression", 6, **shown),
                event("demo-seed-1", "impression", 7, **shown),
                event("demo-seed-1", "click", 8, article_id="kb-refunds"),
            ]
        )
    with runtime.session() as session:
        examples = tenant_examples(session, tenant_id=tenant.tenant_id)
    found = {(e.positives, e.negatives) for e in examples}
    assert found == {
        (frozenset({"kb-tracking"}), frozenset()),
        (frozenset(), frozenset({"kb-refunds"})),
        (frozenset(), frozenset({"kb-tracking", "kb-refunds"})),
    }
    assert all(e.kind == "feedback" and e.query == "where is my parcel" for e in examples)
