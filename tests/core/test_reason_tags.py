"""A seller's free-form article tags name the contact reasons they answer."""

from __future__ import annotations

import pytest

from core.schemas import reason_tags


@pytest.mark.parametrize(
    ("tags", "reasons"),
    [
        (["returns"], {"return_label"}),
        (["Refunds", "amazon"], {"refund_status"}),
        (["Wrong Item"], {"wrong_item"}),
        (["address", "delivery"], {"delivery_change"}),
        (["damaged", "claims"], {"damaged_in_transit"}),
        (["invoices", "business"], {"invoice"}),
        (["missing-parts"], {"missing_item"}),
        (["tracking", "shipping"], {"tracking"}),
        # Broad words name no single reason.
        (["shipping", "delivery", "orders"], set()),
    ],
)
def test_common_names_of_a_reason_count_as_that_reason(tags: list[str], reasons: set[str]) -> None:
    assert reason_tags(tags) == reasons
