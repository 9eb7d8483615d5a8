from __future__ import annotations

from history.identity import canonical_order_id, find_order_ids, normalise_email, normalise_phone


def test_find_order_ids_recognises_every_marketplace_format() -> None:
    text = (
        "Amazon 171-4829301-5567214, eBay 07-13872-40519, Walmart 2000123456789 and shop order #1001; "
        "phone +4917641230987 and 12-digit 123456789012 are not orders"
    )
    assert find_order_ids(text) == ["171-4829301-5567214", "07-13872-40519", "2000123456789", "#1001"]


def test_find_order_ids_does_not_cut_longer_numbers() -> None:
    assert find_order_ids("ref 1234-1234567-1234567 and 0000000000000000") == []


def test_shopify_numbers_are_canonical_with_hash() -> None:
    assert canonical_order_id("1001") == "#1001"
    assert canonical_order_id("#1001") == "#1001"
    assert canonical_order_id("171-4829301-5567214") == "171-4829301-5567214"


def test_email_and_phone_normalisation() -> None:
    assert normalise_email(" Claire.Dubois+shop@Example.FR ") == "claire.dubois@example.fr"
    # relay addresses are per buyer; their local part is kept whole
    assert normalise_email("abc+x@marketplace.amazon.de") == "abc+x@marketplace.amazon.de"
    assert normalise_email("not-an-email") is None
    assert normalise_phone("+49 (176) 412-30987") == "+4917641230987"
    assert normalise_phone("0049 176 41230987") == "+4917641230987"
