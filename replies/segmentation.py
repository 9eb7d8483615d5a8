"""Split a customer message into its questions and the reason (tag) of each, in EN/FR/DE/ES/IT."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Patterns run on lower-cased, accent-stripped text ("rückerstattung" -> "ruckerstattung").
# They name phrases, not single ambiguous words: "arrived" alone is not a tracking question,
# "has not arrived" is.
_INTENT_PATTERNS: dict[str, tuple[str, ...]] = {
    "tracking": (
        r"\bwhere(?:'s| is| are)\b.{0,25}\b(?:order|parcel|package|delivery|item|stuff)",
        r"\btrack(?:ing)?\b", r"\b(?:not|never|n't|yet to)\b.{0,20}\b(?:arrived|received|delivered|come|turned up|shown up)",
        r"\bstill (?:waiting|not here|hasn't)", r"\bwhen\b.{0,40}\b(?:arrive|deliver|get here|ship|receive|expect)",
        r"\b(?:delivery|shipping) (?:date|status|time)\b", r"\bshipped yet\b", r"\bstatus of (?:my|the) order",
        r"\bdelayed\b", r"\b(?:eta)\b",
        r"\bou (?:est|en est|sont)\b.{0,25}\b(?:commande|colis|paquet|livraison)", r"\bsuivi\b",
        r"\b(?:pas|jamais)\b.{0,20}\b(?:recu|arrive|livre)", r"\btoujours pas\b", r"\bquand\b.{0,40}\b(?:arriv|livr|recevr|expedi)",
        r"\ben retard\b", r"\bnumero de suivi\b",
        r"\bwo (?:ist|bleibt|sind)\b.{0,25}\b(?:bestellung|paket|sendung|lieferung)", r"\bsendungs(?:verfolgung|nummer)\b",
        r"\bnoch (?:nicht|immer nicht|nichts)\b.{0,25}\b(?:angekommen|erhalten|geliefert|da|bekommen)",
        r"\bnicht (?:angekommen|geliefert|erhalten)", r"\bwann\b.{0,40}\b(?:kommt|komm|liefer|ankommen|erhalte|versand|verschickt)",
        r"\bverspat", r"\blieferstatus\b",
        r"\bdonde (?:esta|estan)\b.{0,25}\b(?:pedido|paquete|envio|compra)", r"\bseguimiento\b",
        r"\bno (?:me )?(?:ha|han) (?:llegado|recibido)", r"\btodavia no\b.{0,25}\b(?:llegado|recibido|llega)",
        r"\bcuando\b.{0,40}\b(?:llega|recibir|enviar|entreg)", r"\bretras",
        r"\bdove (?:e|sono|si trova)\b.{0,25}\b(?:ordine|pacco|spedizione|pacchetto)", r"\btraccia",
        r"\bnon (?:e ancora |mi e |e )?(?:arrivat|consegnat)", r"\bnon ho (?:ancora )?ricevuto",
        r"\bquando\b.{0,40}\b(?:arriv|consegn|ricev|sped)", r"\bin ritardo\b",
    ),
    "return_label": (
        r"\breturn(?:ing|ed)?\b(?! policy)", r"\bsend (?:it|this|them|the \w+) back\b", r"\bexchange\b",
        r"\bretour(?:ner)?\b", r"\brenvoyer\b", r"\betiquette de retour\b", r"\bechanger?\b",
        r"\brucksend", r"\bzuruck(?:senden|schicken|geben|gesendet)", r"\bretoure", r"\bumtausch",
        r"\bdevol(?:ver|verlo|verla|ucion)\b(?! del dinero)", r"\betiqueta de devolucion\b", r"\bcambiarlo\b",
        r"\breso\b", r"\brestitu(?:ire|irlo|irla|zione)\b", r"\brimandare\b", r"\betichetta di reso\b",
    ),
    "refund_status": (
        r"\brefund", r"\bmoney back\b", r"\breimburs",
        r"\brembours",
        r"\b(?:ruck)?erstattung", r"\bgeld zuruck\b", r"\bgutschrift\b", r"\berstattet\b",
        r"\breembols", r"\bdevolucion del dinero\b", r"\bmi dinero\b",
        r"\brimbors", r"\bsoldi indietro\b",
    ),
    "damaged_in_transit": (
        r"\bdamaged?\b", r"\bbroken\b", r"\bcracked\b", r"\bsmashed\b", r"\bdented\b", r"\bshattered\b", r"\bscratched\b",
        r"\bendommag", r"\babime", r"\bcasse", r"\bbrise", r"\bfissur",
        r"\bbeschadig", r"\bkaputt", r"\bzerbrochen", r"\bgebrochen\b", r"\bzerkratzt", r"\bgesprungen",
        r"\bdanad", r"\broto\b", r"\brota\b", r"\brotos\b", r"\brotas\b", r"\bgolpead", r"\brayad",
        r"\bdanneggiat", r"\brott[oaie]\b", r"\bgraffiat", r"\bammaccat", r"\bscheggiat",
    ),
    "cancellation": (
        r"\bcancel", r"\bannul", r"\bstornier", r"\bstorno\b", r"\babbestell",
        r"\bcancelar\b", r"\bcancelacion\b", r"\banular\b", r"\bannullare\b", r"\bdisdire\b",
    ),
    "missing_item": (
        r"\bmissing\b", r"\bnot included\b", r"\bwasn'?t in the (?:box|parcel|package)", r"\bincomplete\b",
        r"\bonly (?:received|got) (?:one|part|half)",
        r"\bmanqu", r"\bpas inclus", r"\bincomplet",
        r"\bfehl(?:t|en|ende|ender)\b", r"\bnicht dabei\b", r"\bunvollstandig",
        r"\bfalta(?:n|ba|ban)?\b", r"\bincomplet[oa]\b", r"\bno venia\b",
        r"\bmanca(?:no|va|vano)?\b", r"\bmancant", r"\bincomplet[oa]\b",
    ),
    "invoice": (
        r"\binvoice", r"\breceipt\b", r"\bvat\b", r"\bfactur", r"\brechnung", r"\bquittung\b", r"\bbeleg\b",
        r"\brecibo\b", r"\bfattura", r"\bricevuta\b",
    ),
    "product_question": (
        r"\bassembl", r"\binstructions?\b", r"\bmanual\b", r"\bhow (?:do|can|should) (?:i|we|you)\b.{0,20}\b(?:install|assemble|put together|set up|use|clean|wash|charge|care|descale|season)",
        r"\binstall", r"\bset ?up\b", r"\bcare for\b", r"\bdescal",
        r"\bmontage\b", r"\bmonter\b", r"\bnotice\b", r"\bcomment (?:installer|utiliser|nettoyer|laver|entretenir)",
        r"\baufbau", r"\bmontier", r"\banleitung", r"\bwie (?:kann|muss|soll) ich\b.{0,30}\b(?:aufbauen|montieren|reinigen|waschen|benutzen|installieren)",
        r"\bmontaje\b", r"\bmontar\b", r"\binstrucciones\b", r"\bcomo (?:se )?(?:monta|instal|limpi|lav|uso|usar)",
        r"\bmontaggio\b", r"\bmontare\b", r"\bistruzioni\b", r"\bcome (?:si )?(?:monta|install|pulisc|lav|usa)",
    ),
    "wrong_item": (
        r"\bwrong (?:item|product|colou?r|size|model|one)\b", r"\bnot what i ordered\b", r"\bdifferent (?:item|product|colou?r)\b",
        r"\bmauvais (?:article|produit|modele|coloris)", r"\bpas (?:le bon|ce que j'ai commande)",
        r"\bfalsch(?:e|en|er|es)? (?:artikel|farbe|grosse|produkt|modell)", r"\bnicht (?:das|den|die),? was ich bestellt",
        r"\b(?:articulo|producto|color|modelo) (?:equivocad|incorrect)", r"\bno es lo que pedi\b",
        r"\b(?:articolo|prodotto|colore|modello) sbagliat", r"\bnon e quello che ho ordinato\b",
    ),
    "delivery_change": (
        r"\bchange (?:the |my )?(?:delivery |shipping )?address\b", r"\b(?:deliver|send) (?:it )?to (?:a |another |my )?(?:different|new|work|other)",
        r"\b(?:modifier|changer) (?:l'|mon |l )?adresse", r"\b(?:liefer)?adresse (?:andern|anpassen)", r"\badresse\b.{0,20}\bandern",
        r"\bcambiar (?:la |mi )?direccion", r"\bcambiare (?:l'|il mio )?indirizzo",
    ),
}
_COMPILED = {intent: re.compile("|".join(patterns)) for intent, patterns in _INTENT_PATTERNS.items()}

# Sentence ends, plus connectors that usually start another request inside one sentence.
_SPLIT = re.compile(
    r"(?<=[.?!;])\s+|\n+|\s+(?:and also|also,|plus,|by the way,?|aussi,|et aussi|de plus,|ausserdem,?|außerdem,?|und auch|"
    r"ademas,?|además,?|y tambien|y también|inoltre,?|e anche)\s+",
    re.IGNORECASE,
)


@dataclass
class Question:
    """One thing the customer wants, with the sentences that ask it (offsets into the message)."""

    topic: str
    text: str
    spans: list[tuple[int, int]] = field(default_factory=list)
    is_question: bool = False


def fold(text: str) -> str:
    """Lower case without accents, same length as the input so offsets stay valid."""
    decomposed = (unicodedata.normalize("NFD", ch) for ch in text.lower())
    return "".join(d[0] if d else ch for ch, d in zip(text.lower(), decomposed, strict=True)).replace("’", "'")


def sentences(text: str) -> list[tuple[int, int]]:
    """[start, end) of each non-empty piece of the message."""
    spans: list[tuple[int, int]] = []
    position = 0
    for match in _SPLIT.finditer(text):
        spans.append((position, match.start()))
        position = match.end()
    spans.append((position, len(text)))
    return [(s + len(text[s:e]) - len(text[s:e].lstrip()), e) for s, e in spans if text[s:e].strip()]


_PARCEL = re.compile(
    r"\b(?:parcel|package|delivery|track\w*|colis|livraison|suivi|paket|sendung\w*|lieferung|"
    r"paquete|envio|seguimiento|pacco|spedizione|tracciamento)\b"
)


def intents_of(sentence: str) -> list[str]:
    """Reason tags a sentence asks about, in a stable order."""
    folded = fold(sentence)
    found = [intent for intent, pattern in _COMPILED.items() if pattern.search(folded)]
    # "the box arrived broken and a part is missing" is one damage report and one missing part;
    # but "return it for a refund" is a return question, not a refund-status one.
    if "return_label" in found and "refund_status" in found and not re.search(r"\b(?:status|where|when|yet|still|encore|noch|todavia|ancora|quand|wann|cuando|quando)\b", folded):
        found.remove("refund_status")
    if "tracking" in found and "refund_status" in found and not _PARCEL.search(folded):
        found.remove("tracking")  # "when will I get my refund" asks about money, not a parcel
    if "wrong_item" in found and "return_label" in found:
        found.remove("return_label")
    return found


def segment(text: str) -> list[Question]:
    """Questions in order of first appearance; several sentences on one topic make one question."""
    by_topic: dict[str, Question] = {}
    for start, end in sentences(text):
        piece = text[start:end]
        topics = intents_of(piece)
        if not topics and "?" in piece:
            topics = ["other"]
        for topic in topics:
            question = by_topic.get(topic)
            if question is None:
                by_topic[topic] = Question(topic=topic, text=piece.strip(), spans=[(start, end)], is_question="?" in piece)
            else:
                question.text = f"{question.text} {piece.strip()}"
                question.spans.append((start, end))
                question.is_question = question.is_question or "?" in piece
    questions = list(by_topic.values())
    # An unclassified "?" sentence next to classified ones is usually a follow-up ("Can you help?").
    if len(questions) > 1:
        questions = [q for q in questions if not (q.topic == "other" and _is_filler(q.text))]
    return questions


_FILLER = re.compile(
    r"^(?:can|could|would) you (?:please )?help(?: me)?\b|^any (?:news|update)|^what (?:can|should) i do|"
    r"^(?:pouvez|pourriez)-vous m'aider|^que (?:dois|puis)-je faire|^konnen sie mir helfen|^was (?:kann|soll) ich tun|"
    r"^(?:me )?puede(?:n)? ayudar|^que (?:puedo|debo) hacer|^(?:mi )?pu(?:o|oi|ete) aiutar|^cosa (?:posso|devo) fare",
)


def _is_filler(text: str) -> bool:
    return bool(_FILLER.search(fold(text.strip())))
