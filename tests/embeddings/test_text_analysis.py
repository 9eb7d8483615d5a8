"""Language detection, per-language keyword analysis and typo correction (the real lingua, Snowball and
wordfreq data that ship in their wheels; no embedding model)."""

from __future__ import annotations

from embeddings.keyword import KeywordIndex, analyze, correct_text
from embeddings.language import detect_language


def test_the_language_of_a_short_query_is_detected() -> None:
    assert detect_language("la chaise est arrivée cassée").language == "fr"
    assert detect_language("wo ist mein paket").language == "de"
    assert detect_language("donde esta mi paquete").language == "es"
    assert detect_language("dov'è il mio ordine").language == "it"


def test_an_ambiguous_query_falls_back_to_the_pages_locale() -> None:
    detected = detect_language("bitcoin", locale="de-DE")
    assert (detected.language, detected.source) == ("de", "locale")
    assert detect_language("", locale=None).language == "en"


def test_stemming_meets_inflections_and_missing_accents() -> None:
    assert analyze("arrivée cassée", "fr") == analyze("arrive casse", "fr")
    assert analyze("parcels", "en") == analyze("parcel", "en")
    assert analyze("Rücksendungen", "de") == analyze("Rucksendung", "de")
    assert analyze("où est mon colis", "fr") == analyze("colis", "fr")


def test_typos_are_mapped_onto_the_knowledge_base_vocabulary() -> None:
    index = KeywordIndex(
        ["Where is my parcel? Track your order", "Damaged item: what to do"], ["en", "en"], analysis="stemmed"
    )
    query = "wher is my parcle"
    terms = index.query_terms(query, ["en"])
    assert terms.corrections == {"wher": "where", "parcle": "parcel"}
    assert correct_text(query, terms.corrections) == "where is my parcel"
    assert index.scores(terms.tokens)[0] > 0 and index.scores(terms.tokens)[1] == 0


def test_a_real_word_is_never_corrected_into_a_catalogue_word() -> None:
    index = KeywordIndex(["Snow chains and bike chain care"], ["en"], analysis="stemmed")
    query = "la chaise est arrivée cassée"
    terms = index.query_terms(query, ["fr", "en"])
    assert "chaise" not in terms.corrections


def test_inflected_words_of_the_query_language_are_never_corrected() -> None:
    # Real development-shop queries that the lemma-only word lists let through: each word was
    # rewritten into a catalogue word of another meaning or language before the encoders read it.
    index = KeywordIndex(
        [
            "Necesitas ayuda? Hacemos envíos. Pastillas: partial refund",
            "Entkalken: was die Anleitung enthält. Bestellungen",
            "Réparation de votre machine",
        ],
        ["es", "de", "fr"],
        analysis="stemmed",
    )
    for query, language in [
        ("necesito pastillas de freno", "es"),
        ("que tiempo hace en bilbao", "es"),
        ("wasserkocher entkalken", "de"),
        ("cestello pressurizzato", "it"),
    ]:
        terms = index.query_terms(query, [language, "en"])
        assert correct_text(query, terms.corrections) == query, (query, terms.corrections)


def test_a_typo_is_never_corrected_into_a_third_language_nor_inside_a_contraction() -> None:
    index = KeywordIndex(
        ["Réparation de votre machine", "The parcel has arrived"], ["fr", "en"], analysis="stemmed"
    )
    spanish = index.query_terms("reparáis cafeteras", ["es", "en"])
    assert "reparáis" not in spanish.corrections
    english = "it hasn't arrived, wher is my parcle"
    terms = index.query_terms(english, ["en"])
    assert correct_text(english, terms.corrections) == "it hasn't arrived, where is my parcel"
