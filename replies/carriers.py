"""The carrier's own tracking page for a parcel, built from the carrier and the tracking number."""

from __future__ import annotations

from urllib.parse import quote

from compliance.references import canonical_carrier, carrier_of

# Public tracking pages that take the number in the address. Every host is in the marketplaces'
# carrier_domains (compliance/rules/*.yaml), where a tracking link is allowed to complete the order.
TRACKING_PAGES: dict[str, str] = {
    "DHL": "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode={n}",
    "DPD": "https://tracking.dpd.de/status/de_DE/parcel/{n}",
    "UPS": "https://www.ups.com/track?tracknum={n}",
    "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels={n}",
    "FedEx": "https://www.fedex.com/fedextrack/?trknbr={n}",
    "Amazon Logistics": "https://track.amazon.com/tracking/{n}",
    "Royal Mail": "https://www.royalmail.com/track-your-item#/tracking-results/{n}",
    "GLS": "https://gls-group.eu/track/{n}",
    "La Poste": "https://www.laposte.fr/outils/suivre-vos-envois?code={n}",
    "Colissimo": "https://www.laposte.fr/outils/suivre-vos-envois?code={n}",
    "Chronopost": "https://www.chronopost.fr/tracking-no-cms/suivi-page?listeNumerosLT={n}",
    "Poste Italiane": "https://www.poste.it/cerca/index.html#/risultati-spedizioni/{n}",
    "Correos": "https://www.correos.es/es/es/herramientas/localizador/envios/detalle?tracking-number={n}",
    "Evri": "https://www.evri.com/track/parcel/{n}",
    "BRT": "https://vas.brt.it/vas/sped_det_show.hsm?Nspediz={n}",
    "SEUR": "https://www.seur.com/livetracking/?segOnlineIdentificador={n}",
    "Canada Post": "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={n}",
    "Hermes": "https://www.myhermes.de/empfangen/sendungsverfolgung/sendungsinformation#{n}",
}


def tracking_url(carrier: str, tracking_number: str) -> str | None:
    """The carrier's tracking page for the number; None for a carrier without a known page.

    The carrier recorded on the shipment decides; the number's own format only fills in a missing one.
    """
    number = tracking_number.replace(" ", "")
    if not number:
        return None
    name = canonical_carrier(carrier) if carrier.strip() else (carrier_of(number) or "")
    page = TRACKING_PAGES.get(name)
    return page.format(n=quote(number, safe="")) if page else None
