from __future__ import annotations

import pytest

from replies.segmentation import segment


@pytest.mark.parametrize(
    ("text", "topics"),
    [
        (
            "Hi, where is my parcel? Also, can I get an invoice? The lamp arrived broken and a screw is "
            "missing.",
            ["tracking", "invoice", "damaged_in_transit", "missing_item"],
        ),
        (
            "Bonjour, mon colis n'est toujours pas arrivé. Et je voudrais annuler la commande #1234.",
            ["tracking", "cancellation"],
        ),
        (
            "Hallo, wo bleibt meine Bestellung? Außerdem brauche ich eine Rechnung. Wie kann ich den Hocker "
            "montieren?",
            ["tracking", "invoice", "product_question"],
        ),
        (
            "Hola, ¿dónde está mi pedido? Quiero devolver la lámpara, ¿cómo lo hago?",
            ["tracking", "return_label"],
        ),
        (
            "Ciao, il pacco è arrivato danneggiato. Quando riceverò il rimborso?",
            ["damaged_in_transit", "refund_status"],
        ),
        ("I got the white lamp instead of sage. How do I send it back?", ["wrong_item", "return_label"]),
    ],
)
def test_multi_question_messages_split_into_every_topic(text: str, topics: list[str]) -> None:
    assert [q.topic for q in segment(text)] == topics


def test_refund_question_is_not_mistaken_for_tracking() -> None:
    assert [q.topic for q in segment("When will I receive my refund for order 113-4455667-1234567?")] == [
        "refund_status"
    ]


def test_question_spans_point_into_the_message() -> None:
    text = "Thanks! Where is my order? And I need an invoice."
    questions = segment(text)
    for question in questions:
        assert all(text[s:e].strip() in question.text for s, e in question.spans)


@pytest.mark.parametrize(
    "text",
    [
        "UPS says the address on my order is incomplete. The flat number 12 is missing. Can you fix it?",
        "UPS dit que l'adresse de ma commande est incomplète. Il manque « app. 12 ». Pouvez-vous corriger ?",
        "DHL sagt, die Adresse ist unvollständig. Die Hausnummer 4 fehlt. Können Sie das korrigieren?",
        "La dirección del pedido está incompleta, falta el piso 3. ¿Pueden corregirla?",
        "Il corriere dice che l'indirizzo è incompleto: manca l'interno 7. Potete correggerlo?",
    ],
)
def test_an_incomplete_address_is_a_delivery_change_not_a_missing_item(text: str) -> None:
    assert [q.topic for q in segment(text)] == ["delivery_change"]


def test_a_missing_part_after_an_ordinary_sentence_is_still_a_missing_item() -> None:
    topics = [q.topic for q in segment("The parcel came today. The charger is missing from the box.")]
    assert topics == ["missing_item"]
    assert [q.topic for q in segment("Il manque le câble dans la boîte.")] == ["missing_item"]


@pytest.mark.parametrize(
    "text",
    [
        "The box came crushed.",
        "Le carton est arrivé tout cabossé.",
        "Das Paket kam völlig zerdrückt an.",
        "La caja llegó aplastada y abollada.",
        "La lampada è arrivata in pezzi.",
        "Der Becher ist in Stücke gegangen.",
    ],
)
def test_crushed_dented_or_in_pieces_is_damage(text: str) -> None:
    assert [q.topic for q in segment(text)] == ["damaged_in_transit"]


def test_spanish_money_back_is_a_refund_and_sending_back_is_a_return() -> None:
    assert [q.topic for q in segment("¿Me pueden devolver el dinero?")] == ["refund_status"]
    assert [q.topic for q in segment("Quiero devolver la lámpara, ¿cómo lo hago?")] == ["return_label"]


@pytest.mark.parametrize(
    "text",
    [
        "Est-ce que je peux la faire livrer chez ma voisine au 14 ?",
        "Pouvez-vous la renvoyer à une autre adresse, chez mes parents ?",
        "Ich habe die alte Lieferadresse erwischt. Richtig wäre: Bergstraße 12.",
        "Is the order going to my in-laws' address now?",
        "¿Pueden enviarlo a otra dirección?",
        "Potete spedirlo a un altro indirizzo?",
    ],
)
def test_another_or_wrong_address_is_a_delivery_change(text: str) -> None:
    assert [q.topic for q in segment(text)] == ["delivery_change"]


def test_spanish_what_you_will_pay_back_is_a_refund() -> None:
    assert [q.topic for q in segment("¿Cuánto me vais a devolver?")] == ["refund_status"]
