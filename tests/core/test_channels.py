from __future__ import annotations

import pytest

from core.schemas import channels_served, scoped_to_channel, serves_channel


@pytest.mark.parametrize(
    ("scoped_to", "channel", "shown", "scoped"),
    [
        ([], "email", True, False),  # no scope: every channel, scoped to none
        (["web"], "email", True, True),  # the seller's own direct channels serve each other
        (["email"], "web", True, True),
        (["shopify", "web", "ebay"], "email", True, True),
        (["web"], "amazon", False, False),
        (["amazon"], "email", False, False),
        (["amazon"], "amazon", True, True),
        (["shopify"], "web", False, False),  # a shop platform is not the seller's direct contact
        (["ebay"], None, True, False),  # no channel given: nothing is filtered out
    ],
)
def test_which_articles_a_channel_is_shown(
    scoped_to: list[str], channel: str | None, shown: bool, scoped: bool
) -> None:
    assert serves_channel(scoped_to, channel) is shown
    assert scoped_to_channel(scoped_to, channel) is scoped


def test_direct_channels_are_served_together() -> None:
    assert set(channels_served("email")) == set(channels_served("web")) == {"email", "web"}
    assert channels_served("walmart") == ("walmart",)
