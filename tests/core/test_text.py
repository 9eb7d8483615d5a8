from __future__ import annotations

from core.schemas import reason_tags, tag_key
from core.text import newest_reply, sentence_bounds, sentence_spans


def _pieces(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def test_sentences_end_at_stops_followed_by_space_and_at_line_breaks() -> None:
    assert _pieces("Hi there.  It costs 10.50 EUR at shop.com! Really?\nYes") == [
        "Hi there.",
        "It costs 10.50 EUR at shop.com!",
        "Really?",
        "Yes",
    ]


def test_an_inner_question_mark_opening_a_clause_does_not_split() -> None:
    assert _pieces("Quiero devolverla, ¿cómo lo hago?") == ["Quiero devolverla, ¿cómo lo hago?"]


def test_an_abbreviation_a_title_or_a_date_ends_no_sentence() -> None:
    assert _pieces("Ich spiele seit ca. 3 Jahren Gitarre. Mein Lehrer (bzw. meine Lehrerin) meint das.") == [
        "Ich spiele seit ca. 3 Jahren Gitarre.",
        "Mein Lehrer (bzw. meine Lehrerin) meint das.",
    ]
    assert _pieces("Habt ihr am 24.12. offen? Bestellt am 3. Dezember. Bonjour M. Dupont.") == [
        "Habt ihr am 24.12. offen?",
        "Bestellt am 3. Dezember.",
        "Bonjour M. Dupont.",
    ]
    # A number that ends a sentence still ends it, and so does a line break after an abbreviation.
    assert _pieces("It arrived on the 14. Nothing since. Tel.\n0532 761 448") == [
        "It arrived on the 14.",
        "Nothing since.",
        "Tel.",
        "0532 761 448",
    ]


def test_bounds_cover_the_sentences_around_a_span() -> None:
    text = "First one. Second has 0176 1234 in it. Third."
    start = text.index("0176")
    assert text[slice(*sentence_bounds(text, start, start + 4))] == "Second has 0176 1234 in it."


def test_a_sellers_tag_matches_its_reason_however_it_is_spelled() -> None:
    assert {tag_key(t) for t in ("Wrong Item", "wrong-item", "wrong_item", " WRONG  item ")} == {"wrong_item"}
    assert reason_tags(["Returns", "Return-Label", "Damaged in transit", "car seats"]) == {
        "return_label",
        "damaged_in_transit",
    }
    # Named in the seller's own words too; a broad word names no reason.
    assert reason_tags(["damaged", "refunds"]) == {"damaged_in_transit", "refund_status"}
    assert reason_tags(["car seats", "shipping"]) == frozenset()


def test_text_written_below_a_quoted_message_is_the_newest_reply() -> None:
    body = (
        "Salve,\n\n> Il 10 nov. 2026 Grünwerk ha scritto:\n> Il reso è stato registrato.\n\n"
        "Vorrei sapere se il rimborso è andato a buon fine.\n\nGrazie\nMarco"
    )
    newest = newest_reply(body)
    # The header made the parser cut everything after it; the quote itself stays in as context.
    assert "Vorrei sapere se il rimborso è andato a buon fine." in newest
    assert "ha scritto" not in newest and "> Il reso è stato registrato." in newest


def test_a_quote_below_the_new_text_is_still_cut_with_its_header() -> None:
    body = "Thanks, all good now.\n\nOn 21 Oct 2026, Shop wrote:\n> Hello Tom, we refunded it.\n"
    assert newest_reply(body) == "Thanks, all good now."


def test_a_quote_ending_the_message_is_dropped_even_where_the_parser_misses_its_header() -> None:
    body = (
        "Buenas tardes,\n\nTodavía no lo he recibido en la tarjeta, podéis mirar cómo va?\n\n"
        "Gracias!!\nAlba\n\n"
        "> El 28 nov. 2026, Grünwerk Gartenbedarf escribió:\n"
        "> Lamentablemente el sustrato para semilleros está agotado. Le reembolsaremos el importe.\n"
    )
    newest = newest_reply(body)
    assert "podéis mirar cómo va?" in newest
    assert "agotado" not in newest and "escribió" not in newest
