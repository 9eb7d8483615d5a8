"""Facts about an order from the unified history, as macro variables in the reply's language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from history.models import Customer, Order
from replies.carriers import tracking_url

_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "it": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
}
MONTHS: dict[str, list[str]] = {locale: names.split() for locale, names in _MONTHS.items()}

# Status words as a customer reads them; an unknown status is shown as stored, never guessed.
_STATUS = {
    "label_created": {
        "en": "label created, waiting for the carrier's first scan",
        "fr": "étiquette créée, en attente de la prise en charge par le transporteur",
        "de": "Etikett erstellt, wartet auf die erste Scannung durch den Versanddienstleister",
        "es": "etiqueta creada, pendiente del primer escaneo del transportista",
        "it": "etichetta creata, in attesa della presa in carico del corriere",
    },
    "in_transit": {
        "en": "in transit",
        "fr": "en transit",
        "de": "unterwegs",
        "es": "en tránsito",
        "it": "in transito",
    },
    "out_for_delivery": {
        "en": "out for delivery",
        "fr": "en cours de livraison",
        "de": "in Zustellung",
        "es": "en reparto",
        "it": "in consegna",
    },
    "delivered": {
        "en": "delivered",
        "fr": "livré",
        "de": "zugestellt",
        "es": "entregado",
        "it": "consegnato",
    },
    "exception": {
        "en": "delivery problem reported by the carrier",
        "fr": "incident de livraison signalé par le transporteur",
        "de": "Zustellproblem vom Versanddienstleister gemeldet",
        "es": "incidencia de entrega comunicada por el transportista",
        "it": "problema di consegna segnalato dal corriere",
    },
    "delayed": {"en": "delayed", "fr": "retardé", "de": "verzögert", "es": "retrasado", "it": "in ritardo"},
    "returned": {
        "en": "returned to sender",
        "fr": "retourné à l'expéditeur",
        "de": "an den Absender zurückgesandt",
        "es": "devuelto al remitente",
        "it": "restituito al mittente",
    },
    "pending": {
        "en": "pending",
        "fr": "en attente",
        "de": "in Bearbeitung",
        "es": "pendiente",
        "it": "in attesa",
    },
    "processing": {
        "en": "being processed",
        "fr": "en cours de traitement",
        "de": "in Bearbeitung",
        "es": "en proceso",
        "it": "in lavorazione",
    },
    "requested": {
        "en": "requested",
        "fr": "demandé",
        "de": "beantragt",
        "es": "solicitado",
        "it": "richiesto",
    },
    "approved": {"en": "approved", "fr": "approuvé", "de": "genehmigt", "es": "aprobado", "it": "approvato"},
    "issued": {"en": "issued", "fr": "effectué", "de": "veranlasst", "es": "emitido", "it": "emesso"},
    "shipped": {"en": "shipped", "fr": "expédiée", "de": "versendet", "es": "enviado", "it": "spedito"},
    "cancelled": {
        "en": "cancelled",
        "fr": "annulée",
        "de": "storniert",
        "es": "cancelado",
        "it": "annullato",
    },
}
CHANNEL_NAMES = {
    "amazon": "Amazon",
    "ebay": "eBay",
    "walmart": "Walmart",
    "shopify": "Shopify",
    "email": "e-mail",
    "web": "web",
}


@dataclass(frozen=True)
class Fact:
    name: str
    value: str
    source: str


def status_label(status: str, locale: str) -> str:
    key = status.strip().lower().replace(" ", "_").replace("-", "_")
    return _STATUS.get(key, {}).get(locale) or status.replace("_", " ")


def format_date(value: datetime, locale: str) -> str:
    month = MONTHS.get(locale, MONTHS["en"])[value.month - 1]
    if locale == "de":
        return f"{value.day}. {month} {value.year}"
    if locale == "es":
        return f"{value.day} de {month} de {value.year}"
    return f"{value.day} {month} {value.year}"


def format_amount(amount: float, currency: str, locale: str) -> str:
    text = f"{amount:.2f}"
    return f"{text.replace('.', ',') if locale in ('fr', 'de', 'es', 'it') else text} {currency}"


def customer_name(session: Session, *, tenant_id: str, customer_id: int) -> str | None:
    name = session.scalar(
        select(Customer.name).where(Customer.tenant_id == tenant_id, Customer.id == customer_id)
    )
    return name.strip() or None if name else None


# Refund states after which the money has left: the refund's date is then its processing date.
PROCESSED_REFUND_STATES = frozenset({"issued", "completed", "refunded", "processed", "paid"})


def order_total(order: Order) -> float:
    return round(sum(item.price * item.qty for item in order.items), 2)


def order_facts(order: Order, locale: str, *, now: datetime | None = None) -> list[Fact]:
    """Every fact a macro may use about this order; absent data gives no fact (the macro then cannot render).

    ``now`` is when the customer wrote: an expected delivery date before it makes the shipment "delayed".
    """
    source = f"order {order.order_id}"
    facts = [
        Fact("order_id", order.order_id, source),
        Fact("channel_name", CHANNEL_NAMES.get(order.channel, order.channel), source),
    ]
    if order.status:
        facts += [
            Fact("order_state", order.status.lower(), source),
            Fact("order_status", status_label(order.status, locale), source),
        ]
    if order.channel == "amazon" and order.fulfillment == "FBA":
        facts.append(Fact("fulfilled_by_amazon", "true", source))
    if order.placed_at:
        facts.append(Fact("placed_at", format_date(order.placed_at, locale), source))
    if order.items:
        titles = [item.title for item in order.items if item.title]
        if titles:
            facts += [Fact("items", ", ".join(titles), source), Fact("item_title", titles[0], source)]
    if order.shipments:
        shipment = order.shipments[-1]  # ordered by id: the latest one the import recorded
        ship_source = f"shipment of order {order.order_id}"
        if shipment.carrier:
            facts.append(Fact("carrier", shipment.carrier, ship_source))
        if shipment.tracking_number:
            facts.append(Fact("tracking_number", shipment.tracking_number, ship_source))
            url = tracking_url(shipment.carrier, shipment.tracking_number)
            if url:
                facts.append(Fact("tracking_url", url, ship_source))
        if shipment.status:
            facts += [
                Fact("shipment_state", shipment.status.lower(), ship_source),
                Fact("shipment_status", status_label(shipment.status, locale), ship_source),
            ]
        if shipment.eta and shipment.status.lower() != "delivered":
            facts.append(Fact("eta", format_date(shipment.eta, locale), ship_source))
            if now is not None and shipment.eta.date() < now.date():
                facts.append(Fact("delayed", "true", ship_source))
        if shipment.location:
            facts.append(Fact("shipment_location", shipment.location, ship_source))
    if order.refunds:
        refund = order.refunds[-1]
        refund_source = f"refund {refund.refund_id}"
        facts.append(Fact("refund_id", refund.refund_id, refund_source))
        if refund.status:
            facts += [
                Fact("refund_state", refund.status.lower(), refund_source),
                Fact("refund_status", status_label(refund.status, locale), refund_source),
            ]
        facts.append(
            Fact("refund_amount", format_amount(refund.amount, order.currency, locale), refund_source)
        )
        if refund.status.lower() in PROCESSED_REFUND_STATES and refund.created_at is not None:
            facts.append(Fact("refund_date", format_date(refund.created_at, locale), refund_source))
        total = order_total(order)
        if 0 < refund.amount < total - 0.005:
            facts += [
                Fact("refund_partial", "true", refund_source),
                Fact("order_total", format_amount(total, order.currency, locale), source),
            ]
    return facts
