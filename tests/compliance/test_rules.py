"""Each rule caught where its channel forbids it, left alone where allowed, in five languages."""

from __future__ import annotations

import pytest

from compliance.channels import get_ruleset
from compliance.service import check
from core.schemas import CHANNELS

ENABLED = {
    "amazon": {
        "external_link",
        "email_address",
        "phone_number",
        "promotion",
        "review_manipulation",
        "off_platform",
        "emoji",
        "sensitive_data",
        "unfilled_placeholder",
    },
    "ebay": {
        "external_link",
        "email_address",
        "phone_number",
        "review_manipulation",
        "off_platform",
        "sensitive_data",
        "unfilled_placeholder",
    },
    "walmart": {
        "external_link",
        "email_address",
        "phone_number",
        "promotion",
        "review_manipulation",
        "off_platform",
        "sensitive_data",
        "unfilled_placeholder",
    },
    "shopify": {"review_manipulation", "sensitive_data", "unfilled_placeholder"},
    "email": {"review_manipulation", "sensitive_data", "unfilled_placeholder"},
    "web": {"review_manipulation", "sensitive_data", "unfilled_placeholder"},
}

# One plain example per rule code; the channel decides whether it is a violation.
EXAMPLES = {
    "external_link": "For the manual see https://hearthandharbor.example/manuals/lamp.pdf today.",
    "email_address": "You can also write to support@hearthandharbor.example about it.",
    "phone_number": "Our team is available on 0049 30 12345678 every weekday.",
    "promotion": "Use code SAVE10 to get 10% off your next order.",
    "review_manipulation": "Please leave us a 5-star review if you can.",
    "off_platform": "Next time, buy directly from us and skip the fees.",
    "emoji": "Your parcel is on its way 🚚",
    "sensitive_data": "The card we have on file is 4111 1111 1111 1111.",
    "unfilled_placeholder": "Your order {{ order_id }} has shipped.",
}


def rules_of(text: str, channel: str, locale: str | None = None) -> set[str]:
    return {v.rule for v in check(text, channel=channel, locale=locale).violations}


def test_rule_files_enable_exactly_the_documented_rules() -> None:
    for channel in CHANNELS:
        assert set(get_ruleset(channel).rules) == ENABLED[channel], channel


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("rule", sorted(EXAMPLES))
def test_each_rule_is_caught_where_forbidden_and_ignored_where_allowed(rule: str, channel: str) -> None:
    found = rules_of(EXAMPLES[rule], channel)
    if rule in ENABLED[channel]:
        assert rule in found
    else:
        assert rule not in found
    assert found <= ENABLED[channel]


@pytest.mark.parametrize(
    ("channel", "text"),
    [
        ("amazon", "You can start the return at https://www.amazon.de/gp/css/returns/homepage.html."),
        ("amazon", "See amazon.co.uk/returns or sellercentral.amazon.de for the policy."),
        ("amazon", "Details are on https://www.amazon.fr/gp/help/customer/display.html?nodeId=123"),
        ("ebay", "Open the return from https://www.ebay.de/rtn/Return/ReturnsOverview."),
        ("ebay", "The resolution centre is at ebay.co.uk/help."),
        ("walmart", "Manage the return at walmart.com/orders."),
    ],
)
def test_marketplace_own_domains_are_allowed(channel: str, text: str) -> None:
    assert "external_link" not in rules_of(text, channel)


def test_other_marketplace_domain_is_an_external_link() -> None:
    assert "external_link" in rules_of("Compare it on amazon.com/dp/B000", "ebay")


@pytest.mark.parametrize("channel", ["amazon", "ebay", "walmart"])
@pytest.mark.parametrize(
    "text",
    [
        "Track your parcel here: https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode=00340434161234567890",
        "You can follow the delivery on https://www.ups.com/track?tracknum=1Z999AA10123456784.",
        "Suivez votre colis sur https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
        "Puede seguir su envío en correos.es con el número PK123456789ES.",
        "Può tracciare la spedizione su https://www.poste.it/cerca/index.html#/risultati-spedizioni/RR123456789IT",
        "Tracking: https://www.royalmail.com/track-your-item#/tracking-results/AB123456789GB",
    ],
)
def test_carrier_tracking_links_are_allowed(channel: str, text: str) -> None:
    assert "external_link" not in rules_of(text, channel)


def test_carrier_domain_without_tracking_purpose_is_flagged() -> None:
    assert "external_link" in rules_of("We also recommend fedex.com/en-us/careers.html for jobs.", "amazon")


@pytest.mark.parametrize(
    "text",
    [
        "Write to john [at] hearthandharbor dot com for help.",
        "Mail: john(at)hearthandharbor(dot)de",
        "Contact anna {at} shop {dot} com",
        "Schreiben Sie an info (at) firma (punkt) de",
        "Écrivez à marie arobase boutique point fr",
        "reach me at john.doe at gmail dot com",
        "kontakt@laden.de",
    ],
)
def test_obfuscated_email_addresses_are_caught(text: str) -> None:
    assert "email_address" in rules_of(text, "amazon")


@pytest.mark.parametrize(
    "text",
    [
        "Call us on +44 20 7946 0958.",
        "Phone: (555) 123-4567",
        "Ring 555.123.4567 anytime.",
        "Appelez le 06 12 34 56 78.",
        "Rufen Sie uns unter 030 12345678 an.",
        "Llámenos al 912 345 678.",
        "Ci chiami al 02 1234 5678.",
        "Unsere Hotline: +49 (0) 30 1234 5678",
        "WhatsApp 0612345678",
        "Tel. 0033 1 23 45 67 89",
    ],
)
def test_phone_numbers_in_many_formats_are_caught(text: str) -> None:
    assert "phone_number" in rules_of(text, "amazon")


@pytest.mark.parametrize(
    "text",
    [
        "Your order 123-1234567-1234567 has shipped.",
        "eBay order 12-12345-12345 is on its way.",
        "Walmart order 200012345678901 was refunded.",
        "Your tracking number is 00340434161234567890.",
        "UPS tracking 1Z999AA10123456784 shows it in transit.",
        "The parcel arrives on 25.11.2026 between 10:00 and 14:30.",
        "Delivery is expected 2026-11-25.",
        "We refunded 1 299,00 € and $1,249.99 for the other order.",
        "Please send it to 75001 Paris or 10115 Berlin.",
        "Reference number 4455 6677 8899 for your case.",
        "Bestellnummer 302-1234567-7654321, Sendungsnummer 1234 5678 9012.",
    ],
)
def test_ids_dates_prices_and_postcodes_are_not_phone_numbers(text: str) -> None:
    assert "phone_number" not in rules_of(text, "amazon")


@pytest.mark.parametrize(
    "text",
    [
        "Find more at bit.ly/x",
        "Our deals are at hearthandharbor.example/deals",
        "Visit www.foo.com",
        "see hearthandharbor dot com for details",
        "Look at tinyurl.com/abc123 please",
    ],
)
def test_bare_domains_and_shorteners_are_caught(text: str) -> None:
    assert "external_link" in rules_of(text, "amazon")


@pytest.mark.parametrize(
    "text",
    [
        "Would you consider leaving us five stars?",
        "We would really appreciate positive feedback.",
        "Could you please update your feedback now that the issue is solved?",
        "We kindly ask you to remove the negative review.",
        "We will send you a $10 gift card in exchange for a review.",
        "We will give you a full refund if you leave a review.",
        "If you are happy with the lamp, please leave a review.",
        "Please contact us before leaving negative feedback.",
        "Pourriez-vous nous laisser un avis positif ?",
        "Merci de laisser 5 étoiles !",
        "Pourriez-vous modifier votre évaluation ?",
        "Nous vous rembourserons si vous laissez un avis.",
        "Bitte hinterlassen Sie uns eine positive Bewertung.",
        "Könnten Sie Ihre Bewertung bitte ändern?",
        "Wir erstatten Ihnen den Betrag, wenn Sie uns eine Bewertung hinterlassen.",
        "¿Podría dejarnos una valoración positiva?",
        "Le agradeceríamos que eliminara su reseña negativa y la cambiara por cinco estrellas.",
        "Le enviaremos un regalo a cambio de una reseña.",
        "Ci lasci una recensione positiva, per favore.",
        "Potrebbe modificare il suo feedback?",
        "Le rimborseremo l'ordine se lascia una recensione a 5 stelle.",
    ],
)
def test_review_manipulation_phrasings_are_caught(text: str) -> None:
    assert "review_manipulation" in rules_of(text, "amazon")


@pytest.mark.parametrize(
    "text",
    [
        "You may leave feedback on your order page if you wish.",
        "Vous pouvez laisser un avis si vous le souhaitez.",
        "Sie können gerne eine Bewertung abgeben.",
        "Puede dejar una opinión sobre el producto si lo desea.",
        "Può lasciare una recensione se lo desidera.",
        "Thank you for your positive feedback!",
        "Merci pour votre avis positif.",
        "We will review your request and get back to you.",
        "Si vous changez d'avis, vous pouvez annuler la commande.",
    ],
)
def test_neutral_feedback_mentions_are_allowed(text: str) -> None:
    assert "review_manipulation" not in rules_of(text, "amazon")


@pytest.mark.parametrize(
    "text",
    [
        "Sign up for our newsletter.",
        "Enjoy 15% off your next order.",
        "Here is a coupon for your trouble.",
        "Our summer sale starts Monday.",
        "Utilisez le code promo HIVER pour 20 % de réduction.",
        "Mit dem Gutscheincode SPAR10 erhalten Sie 10 % Rabatt bei Ihrer nächsten Bestellung.",
        "Use el código de descuento VERANO en su próxima compra.",
        "Con il codice sconto ESTATE avrà il 10% di sconto sul prossimo ordine.",
    ],
)
def test_promotion_phrasings_are_caught(text: str) -> None:
    assert "promotion" in rules_of(text, "amazon")


@pytest.mark.parametrize(
    "text",
    [
        "Please contact us directly so we can sort it out.",
        "Order from our website next time.",
        "WhatsApp us and we will help.",
        "Buy directly from us to save money.",
        "Contactez-nous directement pour un échange.",
        "Bestellen Sie direkt in unserem Online-Shop.",
        "Puede comprar directamente en nuestra tienda online.",
        "Può acquistare direttamente sul nostro sito.",
    ],
)
def test_off_platform_phrasings_are_caught(text: str) -> None:
    assert "off_platform" in rules_of(text, "amazon")


def test_contact_through_marketplace_messaging_is_allowed() -> None:
    text = "Please contact us directly through Buyer-Seller Messaging if anything is missing."
    assert "off_platform" not in rules_of(text, "amazon")


@pytest.mark.parametrize(
    "text",
    [
        "Thanks 👍🏽",
        "Family 👨‍👩‍👧 trip",
        "Flag 🇩🇪 shipping",
        "Great :)",
        "Done ✅",
    ],
)
def test_emoji_sequences_and_emoticons_are_caught(text: str) -> None:
    assert "emoji" in rules_of(text, "amazon")


def test_arrows_and_currency_are_not_emoji() -> None:
    assert "emoji" not in rules_of("Step 1 → Step 2, price 10 € (see note 3)", "amazon")


@pytest.mark.parametrize(
    "text",
    [
        "Card 5555 5555 5555 4444 was charged.",
        "Please pay to IBAN DE89 3704 0044 0532 0130 00.",
        "IBAN: FR1420041010050500013M02606",
        "Your temporary password: Winter2026!",
        "Le mot de passe est Soleil#42",
        "Das Passwort lautet Sonne123",
        "La contraseña es Playa2026",
        "CVV 123 and expiry 12/27",
        "Your PIN: 4821",
    ],
)
def test_sensitive_data_is_caught_on_every_channel(text: str) -> None:
    for channel in CHANNELS:
        assert "sensitive_data" in rules_of(text, channel), channel


@pytest.mark.parametrize(
    "text",
    [
        "Your card ending in 4444 was refunded.",
        "Walmart order 4111111111111112 is on its way.",
        "Never share your password with anyone.",
        "Your password is required to log in.",
        "The number 1234 5678 9012 3456 is your parcel reference.",
        "Order 028-6650193 (E-bike charger 42V for 36V batteries, 5-Pin DIN) held another item.",
        "The battery has a 3 pin XLR socket.",
    ],
)
def test_masked_cards_and_password_advice_are_not_sensitive(text: str) -> None:
    assert "sensitive_data" not in rules_of(text, "amazon")


@pytest.mark.parametrize(
    "text",
    [
        "Hello {{ customer_name }},",
        "Order {order_id} shipped.",
        "Order [ORDER ID] shipped.",
        "Tracking: <tracking number>",
        "Ref %ORDER%",
        "Your order XXX-XXXXXXX-XXXXXXX",
        "Dear [Customer Name],",
        "Bonjour [Nom du client],",
        "Your refund of XXX is on its way",
    ],
)
def test_unfilled_placeholders_are_caught_on_every_channel(text: str) -> None:
    for channel in CHANNELS:
        assert "unfilled_placeholder" in rules_of(text, channel), channel


@pytest.mark.parametrize(
    "text",
    [
        "Size XXL is back in stock.",
        "See the <b>bold</b> note.",
        "It costs 50% less.",
        "As the manual says [1], the lamp uses E27 bulbs.",
        "See [the returns page](https://www.amazon.de/returns).",
    ],
)
def test_ordinary_brackets_and_markup_are_not_placeholders(text: str) -> None:
    assert "unfilled_placeholder" not in rules_of(text, "amazon")


@pytest.mark.parametrize(
    "text",
    [
        "Please send the photos to care@shop.example.",
        "Te llamaremos al +34 912 555 018 mañana.",
        "Guten Tag, bitte überweisen Sie den Betrag direkt auf unser Konto.",
        "For the balance please transfer to our IBAN GB33 BUKB 2020 1555 5555 55.",
        "You can also order spare parts on our site shop.example/parts.",
        "Have a look at shop.example/deals for 20% off.",
    ],
)
def test_contact_details_payments_and_shop_links_divert_off_platform(text: str) -> None:
    assert "off_platform" in rules_of(text, "ebay")


@pytest.mark.parametrize(
    "text",
    [
        "Step-by-step pictures are on our site: https://shop.example/assembly",
        "The manual is at https://shop.example/manuals/lamp.pdf",
        "Your order has shipped; you can check it in your eBay purchase history.",
    ],
)
def test_information_links_are_not_off_platform(text: str) -> None:
    assert "off_platform" not in rules_of(text, "ebay")


def test_password_shaped_token_near_the_word_password_is_sensitive() -> None:
    text = "The password you sent us, Harbor!2026x, should be changed right away."
    violations = [v for v in check(text, channel="email").violations if v.rule == "sensitive_data"]
    assert [v.text for v in violations] == ["Harbor!2026x"]


@pytest.mark.parametrize(
    "text",
    [
        "My card is not working when I use it at a point of sale.",
        "How long does a transfer take from the point it's sent?",
        "We are wondering at this point if the parcel was lost.",
        "Booked for 20 / 5 / 2026 for 3 people.",
        "Unfortunately we cannot offer a discount on this item.",
        "The sale of this item was cancelled by Amazon.",
        "Our PIN pad was updated when the terminal changed.",
        "We always aim for a five-star experience.",
    ],
)
def test_prose_that_only_resembles_a_violation_is_not_flagged(text: str) -> None:
    assert rules_of(text, "amazon") == set()


def test_single_spaced_digits_are_one_phone_number() -> None:
    text = "Rufen Sie uns an: 0 1 7 6 - 1 2 3 4 5 6 7. Danke."
    phones = [v.text for v in check(text, channel="amazon").violations if v.rule == "phone_number"]
    assert phones == ["0 1 7 6 - 1 2 3 4 5 6 7"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Please pay to sort code 12-34-56, account number 12345678.", "sort code 12-34-56"),
        ("Your SSN 123-45-6789 is on file.", "SSN 123-45-6789"),
    ],
)
def test_domestic_bank_details_are_sensitive_and_not_phone_numbers(text: str, expected: str) -> None:
    violations = check(text, channel="amazon").violations
    assert expected in [v.text for v in violations if v.rule == "sensitive_data"]
    assert "phone_number" not in {v.rule for v in violations}


@pytest.mark.parametrize("text", ["Hi $name, thanks", "Hi *|FNAME|*,", "Hallo <<Vorname>>,"])
def test_other_template_syntaxes_are_placeholders(text: str) -> None:
    assert "unfilled_placeholder" in rules_of(text, "web")


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("Spend £50 in our Amazon shop this month and get a free pillowcase set!", "promotion"),
        ("Visita il nostro sito per vedere le offerte del mese.", "promotion"),
        ("Our bank details for the difference: IBAN NL91 ABNA 0417 1643 00.", "off_platform"),
        ("Se ti è piaciuto, lasciaci 5 stelle!", "review_manipulation"),
    ],
)
def test_phrasings_found_missing_in_a_blind_check(text: str, rule: str) -> None:
    assert rule in rules_of(text, "amazon")


def test_if_you_like_means_if_you_wish() -> None:
    text = "Your feedback helps other buyers; you can leave it from Your Orders if you like."
    assert rules_of(text, "amazon") == set()


@pytest.mark.parametrize(
    ("text", "rule", "channel"),
    [
        (
            "Te devolvemos el importe completo si retiras la valoración de una estrella.",
            "review_manipulation",
            "amazon",
        ),
        ("You can pick it up from our warehouse and pay cash, saves the eBay fees!", "off_platform", "ebay"),
        ("More colours at our store, just mention Walmart for a discount.", "promotion", "walmart"),
    ],
)
def test_second_blind_check_phrasings(text: str, rule: str, channel: str) -> None:
    assert rule in rules_of(text, channel)


def test_address_containing_pin_is_not_a_secret() -> None:
    found = rules_of("Envoyez les photos à photos@saule-et-pin.fr merci.", "web")
    assert "sensitive_data" not in found
