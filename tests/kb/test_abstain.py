"""The abstention model (kb/abstain.py): its evidence, the per-query cut-off it serves as, and loading."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import delete

from history.models import Ticket
from kb.abstain import (
    GATE_FEATURES,
    MAX_LOWER,
    RELATIVE,
    AbstainModel,
    AbstainModelError,
    fit_gate,
    gate_features,
    loads,
)
from kb.ranking import Candidates, LanguagePolicy, RankingParams, rank
from kb.suggest import ABSTAIN_MODEL_PATH, _TicketTerms, abstain_model
from runtime import Runtime

SERVED_PARTS = ("use-multilingual", "minilm", "e5-small")
F = {name: i for i, name in enumerate(GATE_FEATURES)}


def _candidates() -> Candidates:
    # Two articles, two chunks each; part 0 and part 1 agree on article a, part 2 prefers b.
    return Candidates(
        keys=["a", "b"],
        locales=["en", "en"],
        channel_match=np.zeros(2, dtype=bool),
        chunk_article=np.array([0, 0, 1, 1]),
        part_cosines=np.array(
            [[0.7, 0.2, 0.3, 0.1], [0.6, 0.1, 0.2, 0.1], [0.5, 0.2, 0.9, 0.1]], dtype=np.float32
        ),
        keyword=np.array([3.0, 0.0, 1.0, 0.0], dtype=np.float32),
        groups=["a", "b"],
    )


def _evidence(words: list[list[str]], tickets: frozenset[str] = frozenset()) -> np.ndarray:
    candidates = _candidates()
    params = RankingParams(policies={"*": LanguagePolicy((0.5, 0.5, 0.0), 0.0, 0.3)})
    ranked = rank(candidates, language="en", params=params)
    return gate_features(
        candidates,
        ranked,
        language="en",
        cutoff=0.3,
        dense_weights=(0.5, 0.5, 0.0),
        query="where is my parcel",
        words=words,
        kb_vocabulary=frozenset({"parcel", "track"}),
        ticket_vocabulary=tickets,
    )


def test_evidence_counts_words_neither_the_help_centre_nor_the_tickets_use() -> None:
    x = _evidence([["parcel"], ["zalando"], ["refund"]], tickets=frozenset({"refund"}))
    assert x[F["unknown_kb_any"]] == 1.0 and x[F["unknown_kb_share"]] == pytest.approx(2 / 3)
    assert x[F["unknown_tenant_any"]] == 1.0 and x[F["unknown_tenant_count"]] == 1.0
    assert x[F["unknown_tenant_share"]] == pytest.approx(1 / 3)
    known = _evidence([["parcel"], ["refund"]], tickets=frozenset({"refund"}))
    assert known[F["unknown_tenant_any"]] == 0.0 and known[F["content_words"]] == 2.0


def test_evidence_reads_agreement_length_language_and_the_margin_to_the_cut_off() -> None:
    x = _evidence([["parcel"]])
    # Best confidence: article a's mixed cosine 0.65, so 0.35 over the 0.3 cut-off.
    assert x[F[RELATIVE]] == pytest.approx(0.35, abs=1e-6)
    assert x[F["keyword_best"]] == pytest.approx(3.0)
    assert x[F["keyword_agrees"]] == 1.0  # BM25's best chunk is the dense side's best article
    assert x[F["parts_agree"]] == 1.0  # MiniLM agrees with USE, e5 does not
    assert x[F["query_words_log"]] == pytest.approx(np.log1p(4))
    assert x[F["language_en"]] == 1.0 and x[F["language_fr"]] == 0.0


def _model(coef: list[float] | None = None, cut: float = 0.5) -> AbstainModel:
    width = len(GATE_FEATURES)
    rng = np.random.default_rng(0)
    values = list(coef) if coef is not None else [float(v) for v in rng.normal(0, 1, width)]
    values[F[RELATIVE]] = abs(values[F[RELATIVE]]) + 0.5
    return AbstainModel(
        parts=SERVED_PARTS,
        mean=tuple(float(v) for v in rng.normal(0, 0.2, width)),
        scale=tuple(float(v) for v in rng.uniform(0.5, 2.0, width)),
        coef=tuple(values),
        intercept=0.3,
        cut=cut,
    )


def test_the_cut_off_shift_is_where_the_model_score_meets_its_cut() -> None:
    model = _model()
    x = _evidence([["parcel"], ["zalando"]])
    shift = model.cutoff_shift(x)
    assert shift > -MAX_LOWER  # this model and query are inside the bound
    at = x.copy()
    at[F[RELATIVE]] = shift
    assert float(model.scores(at)[0]) == pytest.approx(model.cut, abs=1e-9)
    above, below = at.copy(), at.copy()
    above[F[RELATIVE]] += 0.01
    below[F[RELATIVE]] -= 0.01
    assert model.scores(above)[0] > model.cut > model.scores(below)[0]


def test_the_cut_off_never_drops_more_than_the_bound_below_the_languages() -> None:
    model = _model(cut=-1e6)  # a model that would answer anything
    assert model.cutoff_shift(_evidence([["parcel"]])) == -MAX_LOWER


def test_fitting_keeps_the_asked_share_of_in_scope_queries_on_its_training_data() -> None:
    rng = np.random.default_rng(1)
    n = 400
    in_scope = rng.random(n) < 0.8
    x = rng.normal(0, 1, (n, len(GATE_FEATURES)))
    x[:, F[RELATIVE]] += np.where(in_scope, 0.8, -0.8)
    x[:, F["unknown_tenant_any"]] = (rng.random(n) < np.where(in_scope, 0.2, 0.8)).astype(float)
    model = fit_gate(x, in_scope, parts=SERVED_PARTS, min_kept=0.95)
    kept = model.scores(x)[in_scope] >= model.cut
    assert 0.95 <= kept.mean() < 0.97
    assert model.coef[F["unknown_tenant_any"]] < 0  # unknown words speak for abstaining
    abstained = (model.scores(x)[~in_scope] < model.cut).mean()
    assert abstained > 0.5
    with pytest.raises(ValueError):
        fit_gate(x, np.ones(n, dtype=bool), parts=SERVED_PARTS)


def test_a_model_for_other_encoder_parts_or_features_is_refused() -> None:
    text = _model().dumps()
    assert loads(text, parts=SERVED_PARTS) == _model()
    with pytest.raises(AbstainModelError) as other_parts:
        loads(text, parts=("hashing",))
    assert other_parts.value.details["served"] == ["hashing"]
    fewer = text.replace('"features":["confidence_over_cutoff",', '"features":[')
    with pytest.raises(AbstainModelError):
        loads(fewer, parts=SERVED_PARTS)
    with pytest.raises(AbstainModelError):
        loads("{not json", parts=SERVED_PARTS)


def test_the_shipped_model_loads_for_the_served_encoder_parts_and_not_for_a_test_encoder() -> None:
    assert ABSTAIN_MODEL_PATH.exists()
    model = abstain_model(SERVED_PARTS)
    assert model is not None and model.info.get("shops")
    assert abstain_model(("hashing",)) is None
    # Words the tenant never uses ask for more confidence, all else equal.
    x = np.array(model.mean, dtype=np.float64)
    x[F["unknown_tenant_any"]] = 0.0
    x[F["unknown_kb_any"]] = 0.0
    unknown = x.copy()
    unknown[F["unknown_tenant_any"]] = 1.0
    unknown[F["unknown_kb_any"]] = 1.0
    assert model.cutoff_shift(unknown) > model.cutoff_shift(x)


def _ticket(tenant_id: str, external_id: str, body: str, locale: str = "en") -> Ticket:
    return Ticket(
        tenant_id=tenant_id,
        external_id=external_id,
        channel="email",
        body=body,
        locale=locale,
        content_hash="h",
    )


def test_ticket_terms_grow_with_new_tickets_and_forget_removed_ones(runtime: Runtime) -> None:
    terms = _TicketTerms()
    with runtime.session() as session:
        session.add(_ticket("t1", "a", "My scooter arrived scratched"))
        session.add(_ticket("t2", "b", "Zalando refund"))
        session.flush()
        first = terms.get(session, "t1")
        assert "scooter" in first and "zalando" not in first
        terms._fresh.clear()
        session.add(_ticket("t1", "c", "Le guidon est tordu", locale="fr"))
        session.flush()
        terms._fresh.clear()
        grown = terms.get(session, "t1")
        assert "scooter" in grown and "guidon" in grown
        session.execute(delete(Ticket).where(Ticket.external_id == "a"))
        session.flush()
        terms._fresh.clear()
        assert "scooter" not in terms.get(session, "t1")
