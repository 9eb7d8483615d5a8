"""The help-centre examples of issue 13 on the demo shop, with the real bundled models (slow: the
demo KB is encoded by USE, MiniLM and multilingual-e5 once for the session)."""

from __future__ import annotations

import pytest

from kb.schemas import SuggestResult
from kb.suggest import suggest
from runtime import Runtime

pytestmark = pytest.mark.slow


def ask(runtime: Runtime, query: str, *, locale: str, channel: str | None = None) -> SuggestResult:
    with runtime.session() as session:
        return suggest(session, runtime.search, tenant_id="demo", query=query, locale=locale, channel=channel)


def ids(result: SuggestResult) -> list[str]:
    return [s.id for s in result.suggestions]


# Known misses with the leave-one-shop-out defaults (eval/results/README.md): on the devshops French
# queries mostly need English articles, so French gets a cut-off (0.52) that this query's best article
# (0.52, just under) misses; the learned ranker orders, but abstention stays the hand-tuned cut-off.
# strict: the day a better default fixes them, these tests say so.
@pytest.mark.xfail(strict=True, reason="FR cut-off chosen leave-one-shop-out abstains here (0.520 < 0.522)")
def test_a_broken_chair_finds_the_damaged_item_article(demo_runtime: Runtime) -> None:
    result = ask(demo_runtime, "la chaise est arrivée cassée", locale="fr")
    assert result.language == "fr"
    assert "kb-damaged-in-transit-fr" in ids(result)[:3], ids(result)


def test_typos_still_find_tracking(demo_runtime: Runtime) -> None:
    result = ask(demo_runtime, "wher is my parcle", locale="en")
    assert "kb-tracking" in ids(result)[:3], ids(result)


# The learned ranker (kb/ranker_global.json) puts partial-delivery first and tracking second here; the
# hand-tuned ranking had tracking first. English r@1 on the devshops: 0.857 learned, 0.872 hybrid.
@pytest.mark.xfail(strict=True, reason="learned ranker: kb-partial-delivery 1st, kb-tracking 2nd")
def test_typos_rank_tracking_first(demo_runtime: Runtime) -> None:
    result = ask(demo_runtime, "wher is my parcle", locale="en")
    assert ids(result)[:1] == ["kb-tracking"], ids(result)


def test_a_damaged_parcel_ranks_damaged_above_tracking(demo_runtime: Runtime) -> None:
    shown = ids(ask(demo_runtime, "mon colis est arrivé endommagé", locale="fr"))
    assert "kb-damaged-in-transit-fr" in shown, shown
    assert "kb-tracking-fr" not in shown or shown.index("kb-damaged-in-transit-fr") < shown.index(
        "kb-tracking-fr"
    )


def test_every_suggestion_shown_passes_the_cut_off(demo_runtime: Runtime) -> None:
    result = ask(demo_runtime, "can I pay with bitcoin", locale="en")
    assert all(s.confidence >= result.threshold for s in result.suggestions), result
    assert len(result.suggestions) <= 5


@pytest.mark.parametrize(
    "query", ["wo ist mein paket", "Rückerstattung", "Artikel beschädigt", "Rücksendung Amazon"]
)
def test_no_spanish_or_italian_article_ahead_of_a_german_or_english_one(
    demo_runtime: Runtime, query: str
) -> None:
    result = ask(demo_runtime, query, locale="de", channel="amazon")
    shown = [(s.id, s.locale) for s in result.suggestions]
    assert shown, query
    third = [i for i, s in enumerate(result.suggestions) if s.locale not in ("de", "en")]
    first_third = min(third, default=len(shown))
    assert all(s.locale not in ("de", "en") for s in result.suggestions[first_third:]), shown


def test_never_another_channels_scoped_article(demo_runtime: Runtime) -> None:
    for query in ("how do I return an item", "refund status", "cancel my order"):
        for channel in ("amazon", "ebay", "walmart", "shopify"):
            for s in ask(demo_runtime, query, locale="en", channel=channel).suggestions:
                assert not s.channels or channel in s.channels, (query, channel, s.id, s.channels)


def test_snippets_are_plain_text(demo_runtime: Runtime) -> None:
    for s in ask(demo_runtime, "how do I return an item", locale="en", channel="amazon").suggestions:
        assert "**" not in s.snippet and "##" not in s.snippet and "](" not in s.snippet, s.snippet
        for start, end in s.highlights:
            assert start == 0 or not s.snippet[start - 1].isalnum()
            assert end == len(s.snippet) or not s.snippet[end].isalnum()
