"""kb.ranking: what a customer is shown, from candidate scores (pure functions, no model)."""

from __future__ import annotations

import numpy as np

from kb.ranking import (
    Candidates,
    LanguagePolicy,
    RankingParams,
    rank,
    shown,
    ticket_votes,
    translation_group,
)


def _params(**overrides: object) -> RankingParams:
    base: dict[str, object] = {
        "policies": {"*": LanguagePolicy(dense_weights=(1.0,), keyword_weight=0.0, threshold=0.3)},
        "channel_bonus": 0.0,
        "locale_bonus": 0.0,
        "margin": 1.0,
    }
    base.update(overrides)
    return RankingParams(**base)  # type: ignore[arg-type]


def _candidates(rows: list[tuple[str, str, float]], **extra: object) -> Candidates:
    """One chunk per article: (id, locale, cosine)."""
    keys = [r[0] for r in rows]
    locales = [r[1] for r in rows]
    return Candidates(
        keys=keys,
        locales=locales,
        channel_match=np.zeros(len(rows), dtype=bool),
        chunk_article=np.arange(len(rows)),
        part_cosines=np.asarray([[r[2] for r in rows]], dtype=np.float32),
        keyword=np.zeros(len(rows), dtype=np.float32),
        groups=[translation_group(k, loc) for k, loc in rows_locales(rows)],
        **extra,  # type: ignore[arg-type]
    )


def rows_locales(rows: list[tuple[str, str, float]]) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in rows]


def test_translation_group_strips_only_the_articles_own_language_suffix() -> None:
    assert translation_group("kb-returns-fr", "fr") == "kb-returns"
    assert translation_group("kb-shipping-italy-it", "it") == "kb-shipping-italy"
    assert translation_group("kb-returns-fr", "de") == "kb-returns-fr"
    # A French-first help centre's English version is the same text as its French original.
    assert translation_group("kb-returns-en", "en") == "kb-returns"
    assert translation_group("kb-returns", "en") == "kb-returns"


def test_a_translated_article_is_shown_once_in_the_customers_language() -> None:
    candidates = _candidates(
        [
            ("kb-returns", "en", 0.8),
            ("kb-returns-fr", "fr", 0.6),
            ("kb-returns-it", "it", 0.7),
            ("kb-x", "en", 0.5),
        ]
    )
    ranked = rank(candidates, language="fr", params=_params())
    assert [r.key for r in ranked] == ["kb-returns-fr", "kb-x"]
    # The group keeps the best version's score and confidence.
    assert ranked[0].score == ranked[0].confidence == np.float32(0.8)


def test_a_third_language_never_precedes_the_customers_language_or_english() -> None:
    candidates = _candidates([("kb-a-es", "es", 0.9), ("kb-b", "en", 0.7), ("kb-c-de", "de", 0.6)])
    params = _params()
    visible = shown(
        rank(candidates, language="de", params=params), language="de", params=params, threshold=None, top_k=5
    )
    assert [r.key for r in visible] == ["kb-b", "kb-c-de", "kb-a-es"]
    hidden = _params(third_language="hide")
    visible = shown(
        rank(candidates, language="de", params=hidden), language="de", params=hidden, threshold=None, top_k=5
    )
    assert [r.key for r in visible] == ["kb-b", "kb-c-de"]


def test_a_third_language_is_shown_when_nothing_else_fits() -> None:
    candidates = _candidates([("kb-a-es", "es", 0.9), ("kb-b", "en", 0.1)])
    params = _params(third_language="hide")
    visible = shown(
        rank(candidates, language="de", params=params), language="de", params=params, threshold=0.3, top_k=5
    )
    assert [r.key for r in visible] == ["kb-a-es"]


def test_an_english_article_under_the_cut_off_does_not_bury_the_only_answer() -> None:
    """A help centre written in Italian: for an English query the Italian answer fits, the English
    articles do not. Ranked without a cut-off (the evaluation's metrics) as the widget would show it."""
    candidates = _candidates([("kb-traccia", "it", 0.8), ("kb-uk-delivery", "en", 0.25), ("kb-x", "en", 0.2)])
    params = _params()
    ranked = rank(candidates, language="en", params=params)
    visible = shown(ranked, language="en", params=params, threshold=None, top_k=5)
    assert [r.key for r in visible] == ["kb-traccia", "kb-uk-delivery", "kb-x"]
    served = shown(ranked, language="en", params=params, threshold=0.3, top_k=5)
    assert [r.key for r in served] == ["kb-traccia"]
    # An English article that fits still comes first (the customer can read it).
    fitting = _candidates([("kb-traccia", "it", 0.8), ("kb-uk-delivery", "en", 0.5)])
    ranked = rank(fitting, language="en", params=params)
    visible = shown(ranked, language="en", params=params, threshold=None, top_k=5)
    assert [r.key for r in visible] == ["kb-uk-delivery", "kb-traccia"]


def test_every_shown_suggestion_passes_the_cut_off_and_sits_within_the_margin() -> None:
    candidates = _candidates([("a", "en", 0.9), ("b", "en", 0.85), ("c", "en", 0.7), ("d", "en", 0.2)])
    params = _params(margin=0.1)
    visible = shown(
        rank(candidates, language="en", params=params), language="en", params=params, threshold=0.3, top_k=5
    )
    assert [r.key for r in visible] == ["a", "b"]
    wide = _params(margin=1.0)
    visible = shown(
        rank(candidates, language="en", params=wide), language="en", params=wide, threshold=0.3, top_k=5
    )
    assert [r.key for r in visible] == ["a", "b", "c"]
    assert all(r.confidence >= 0.3 for r in visible)


def test_nothing_is_shown_when_no_candidate_reaches_the_cut_off() -> None:
    candidates = _candidates([("a", "en", 0.25), ("b", "en", 0.2)])
    params = _params()
    assert (
        shown(
            rank(candidates, language="en", params=params),
            language="en",
            params=params,
            threshold=0.3,
            top_k=5,
        )
        == []
    )


def test_the_language_mix_weights_each_encoder_part() -> None:
    candidates = Candidates(
        keys=["a", "b"],
        locales=["en", "en"],
        channel_match=np.zeros(2, dtype=bool),
        chunk_article=np.arange(2),
        part_cosines=np.asarray([[0.9, 0.1], [0.1, 0.9]], dtype=np.float32),
        keyword=np.zeros(2, dtype=np.float32),
    )
    policies = {
        "en": LanguagePolicy(dense_weights=(0.0, 1.0), keyword_weight=0.0, threshold=0.0),
        "*": LanguagePolicy(dense_weights=(1.0, 0.0), keyword_weight=0.0, threshold=0.0),
    }
    params = _params(policies=policies)
    assert rank(candidates, language="en", params=params)[0].key == "b"
    assert rank(candidates, language="fr", params=params)[0].key == "a"


def test_past_tickets_vote_for_the_article_that_resolved_them() -> None:
    keys = ["kb-damaged", "kb-tracking"]
    votes = ticket_votes(
        np.asarray([0.9, 0.8, 0.2], dtype=np.float32),
        ["kb-damaged", "kb-damaged", "kb-tracking"],
        keys,
        neighbours=2,
    )
    assert votes.tolist() == [1.0, 0.0]
    most = ticket_votes(
        np.asarray([0.9, 0.5], dtype=np.float32), ["kb-damaged", None], keys, neighbours=3, kind="max"
    )
    assert np.allclose(most, [0.9, 0.0])
    candidates = _candidates([("kb-damaged", "en", 0.60), ("kb-tracking", "en", 0.62)], votes=votes)
    assert rank(candidates, language="en", params=_params(vote_weight=0.1))[0].key == "kb-damaged"
    assert rank(candidates, language="en", params=_params(vote_weight=0.0))[0].key == "kb-tracking"


def test_query_term_coverage_lifts_the_article_that_speaks_about_more_of_the_question() -> None:
    coverage = np.asarray([2 / 3, 1 / 3], dtype=np.float32)
    candidates = _candidates([("kb-damaged", "en", 0.60), ("kb-tracking", "en", 0.62)], coverage=coverage)
    params = _params(coverage_weight=0.1, coverage_confidence=0.1)
    top = rank(candidates, language="en", params=params)[0]
    assert top.key == "kb-damaged"
    assert abs(top.confidence - (0.60 + 0.1 * 2 / 3)) < 1e-6


def test_an_english_only_part_scores_english_articles_only() -> None:
    # Parts (multilingual, English-only). For the German article the English-only part's cosine is
    # noise; with the setting on, the German article is scored by the multilingual part alone.
    candidates = Candidates(
        keys=["kb-akku", "kb-returns"],
        locales=["de", "en"],
        channel_match=np.zeros(2, dtype=bool),
        chunk_article=np.arange(2),
        part_cosines=np.asarray([[0.70, 0.50], [0.05, 0.60]], dtype=np.float32),
        keyword=np.zeros(2, dtype=np.float32),
        english_only=(False, True),
    )
    policy = LanguagePolicy(dense_weights=(0.6, 0.4), keyword_weight=0.0, threshold=0.3)
    mixed = rank(candidates, language="en", params=_params(policies={"*": policy}))
    assert [r.key for r in mixed] == ["kb-returns", "kb-akku"]  # 0.54 against 0.44
    routed = rank(
        candidates, language="en", params=_params(policies={"*": policy}, english_parts_on_english_only=True)
    )
    assert [r.key for r in routed] == ["kb-akku", "kb-returns"]
    assert np.isclose(routed[0].confidence, 0.70) and np.isclose(routed[1].confidence, 0.54)
