"""Multilingual (en, fr, de, es, it) vocabulary shared by the detectors.

Each constant is a regular-expression fragment; detectors compile them with IGNORECASE.
"""

from __future__ import annotations

APOS = "['’]"

# Identifier and card words live in core.pii, shared with redaction.

PHONE_CONTEXT = (
    r"\b(?:call|phone|tel|tel[ée]phone|telefon\w*|tel[ée]fono|telefono|mobile|cell|handy|portable|"
    r"cellulare|m[oó]vil|hotline|whats\s?app|sms|text|fax|ring|appel\w*|anruf\w*|rufen|"
    r"llam\w*|chiam\w*|joignable|erreichbar|reach|dial|numéro|nummer|número|numero|number|contact\w*|"
    r"kontakt\w*|contatt\w*|cont[aá]ct\w*|joindre|unter)\b"
)

PHONE_CONTEXT_EXACT = (
    r"\b(?:call|phone|tel|tel[ée]phone|telefon\w*|tel[ée]fono|telefono|mobile|cell|handy|portable|"
    r"cellulare|m[oó]vil|hotline|whats\s?app|sms|fax|appel\w*|anruf\w*|rufen|llam\w*|chiam\w*|dial)\b"
)

# --- review manipulation -----------------------------------------------------------------

REVIEW_NOUN = (
    r"(?:reviews?|feedbacks?|ratings?|testimonials?|stars?|avis|[ée]valuations?|commentaires?|"
    r"notes?|bewertung(?:en)?|rezension(?:en)?|beurteilung(?:en)?|kommentar(?:e)?|sterne?n?|"
    r"rese[ñn]as?|valoraci(?:ó|o)n(?:es)?|opini(?:ó|o)n(?:es)?|comentarios?|calificaci(?:ó|o)n(?:es)?|"
    r"evaluaci(?:ó|o)n(?:es)?|puntuaci(?:ó|o)n|estrellas?|recension[ei]|valutazion[ei]|giudizi?o?|"
    r"comment[oi]|stelle|stelline)"
)

# Rating nouns without the star words: "a 5-star review" names a rating, "a 5-star experience" does not.
RATING_NOUN = (
    r"\b(?:reviews?|feedbacks?|ratings?|avis|[ée]valuations?|notes?|bewertung(?:en)?|rezension(?:en)?|"
    r"rese[ñn]as?|valoraci(?:ó|o)n(?:es)?|opini(?:ó|o)n(?:es)?|calificaci(?:ó|o)n(?:es)?|puntuaci(?:ó|o)n|"
    r"recension[ei]|valutazion[ei]|feedback)\b"
)

STAR_RATING = (
    r"(?:\b(?:5|five|cinq|f[üu]nf|cinco|cinque)[\s-]*(?:stars?|[ée]toiles?|sterne?n?|estrellas?|stelle|"
    r"stelline)\b|\b(?:5|five)-?star\b|★{3,}|⭐{2,}|\b5\s?/\s?5\b|\b10\s?/\s?10\b|\b5\s?\*|"
    r"\b(?:5|five)\s+out\s+of\s+(?:5|five)\b|\brate\s+(?:us|it|the\s+\w+)\s+(?:highly|positively|well)\b|"
    r"\b(?:full|top|maximum|highest|best|perfect)\s+(?:marks|stars?|ratings?|scores?)\b|"
    r"\bnote\s+maximale\b|\btoutes\s+les\s+[ée]toiles\b|\bh[öo]chstbewertung\b|\bvolle\s+(?:punktzahl|sterne)\b|"
    r"\bm[aá]xima\s+(?:puntuaci[oó]n|valoraci[oó]n|calificaci[oó]n)\b|\bpunteggio\s+massimo\b|"
    r"\bmassim[oa]\s+(?:dei\s+voti|valutazione)\b)"
)

_POS_ADJ_EN = (
    r"(?:positive|good|great|glowing|favou?rable|excellent|nice|top|perfect|stellar|amazing|"
    r"5[\s-]*star|five[\s-]*star)"
)
POSITIVE_REVIEW = (
    rf"(?:\b{_POS_ADJ_EN}\s+(?:\w+\s+)?(?:reviews?|feedback|ratings?|comments?|testimonials?)\b|"
    r"\b(?:avis|[ée]valuations?|commentaires?|notes?|retours?)\s+(?:tr[èe]s\s+)?(?:positi(?:f|ve)s?|favorables?|"
    r"excellente?s?|[ée]logieux|[ée]logieuses?)\b|"
    r"\b(?:bon(?:ne)?s?|excellente?s?|belle?s?|super)\s+(?:avis|[ée]valuations?|commentaires?|notes?)\b|"
    r"\b(?:positiv\w*|gut\w*|toll\w*|sehr\s+gut\w*|ausgezeichnet\w*|hervorragend\w*|beste\w*)\s+"
    r"(?:bewertung(?:en)?|rezension(?:en)?|feedback|kommentar\w*|beurteilung\w*|sterne)\b|"
    r"\b(?:rese[ñn]as?|valoraci(?:ó|o)n(?:es)?|opini(?:ó|o)n(?:es)?|comentarios?|calificaci(?:ó|o)n(?:es)?|"
    r"evaluaci(?:ó|o)n(?:es)?|puntuaci(?:ó|o)n)\s+(?:muy\s+)?(?:positiv[oa]s?|favorables?|buen[oa]s?|excelentes?)\b|"
    r"\b(?:buen[oa]s?|excelentes?|gran)\s+(?:rese[ñn]a|valoraci(?:ó|o)n|opini(?:ó|o)n|comentario|calificaci(?:ó|o)n)\b|"
    r"\b(?:recension[ei]|feedback|valutazion[ei]|giudizi?o?|comment[oi])\s+(?:molto\s+)?(?:positiv[oaie]|"
    r"favorevol[ei]|ottim[oaie]|eccellent[ei]|buon[oaie])\b|"
    r"\b(?:buon[oa]?|ottim[oa]|bella|eccellente)\s+(?:recensione|valutazione|feedback|giudizio)\b)"
)

NEGATIVE_REVIEW = (
    r"(?:\b(?:negative|neutral|bad|poor|low|critical|1[\s-]*star|one[\s-]*star|unfavou?rable)\s+"
    r"(?:reviews?|feedback|ratings?|comments?)\b|"
    r"\b(?:avis|[ée]valuations?|commentaires?|notes?)\s+(?:n[ée]gati(?:f|ve)s?|neutres?|mauvaise?s?|d[ée]favorables?)\b|"
    r"\b(?:mauvaise?s?)\s+(?:avis|[ée]valuations?|commentaires?|notes?)\b|"
    r"\b(?:negativ\w*|neutral\w*|schlecht\w*)\s+(?:bewertung(?:en)?|rezension(?:en)?|feedback|beurteilung\w*)\b|"
    r"\b(?:rese[ñn]as?|valoraci(?:ó|o)n(?:es)?|opini(?:ó|o)n(?:es)?|comentarios?|calificaci(?:ó|o)n(?:es)?)\s+"
    r"(?:negativ[oa]s?|neutral(?:es)?|mal[oa]s?|desfavorables?)\b|\bmal[oa]\s+(?:rese[ñn]a|valoraci(?:ó|o)n|opini(?:ó|o)n)\b|"
    r"\b(?:recension[ei]|feedback|valutazion[ei]|giudizi?o?|comment[oi])\s+(?:negativ[oaie]|neutral[ei]|cattiv[oaie])\b)"
)

# Steering a buyer away from negative feedback ("contact us before leaving negative feedback").
NEGATIVE_STEER = (
    r"(?:\bbefore\b|\brather\s+than\b|\binstead\s+of\b|\bdo\s+not\b|\bdon['’]?t\b|\bplease\s+avoid\b|\bno\s+need\s+to\b|"
    r"\bavant\s+(?:de|d['’])\b|\bplut[ôo]t\s+que\b|\bau\s+lieu\s+de\b|\bne\s+laissez\s+pas\b|\bn['’]h[ée]sitez\b|"
    r"\bbevor\b|\bstatt\b|\banstatt\b|\bkeine\b|\bnicht\b|"
    r"\bantes\s+de\b|\ben\s+lugar\s+de\b|\bno\s+deje\b|\bno\s+dejes\b|"
    r"\bprima\s+di\b|\binvece\s+di\b|\bnon\s+lasci\w*\b)"
)

REQUEST_CUE = (
    r"\b(?:leave|leaving|give|giving|write|writing|post|posting|rate|rating|share|submit|consider|appreciate|"
    r"would\s+love|we['’]?d\s+love|help\s+us|kindly|please|mean\s+a\s+lot|grateful|could\s+you|would\s+you|"
    r"don['’]?t\s+forget|remember\s+to|take\s+a\s+moment|would\s+mean|mean\s+the\s+world|would\s+help|"
    r"aider\w*|aiderait|helfen|ayudar\w*|aiutare|aiuterebbe|freuen|would\s+make|make\s+our\s+day|"
    r"would\s+be\s+(?:great|wonderful|amazing|fantastic|appreciated|lovely)|love\s+to\s+(?:see|hear|get|read)|"
    r"laisse[rz]?|laissant|donne[rz]?|[ée]crire|[ée]crivez|attribue[rz]?|mett(?:re|ez)|publie[rz]?|partage[rz]?|"
    r"pensez\s+[àa]|merci\s+de|n['’]oubliez\s+pas|serions|reconnaissants?|appr[ée]cierions|s['’]il\s+vous\s+pla[iî]t|svp|"
    r"hinterlass\w*|geben|gebe|schreiben|abgeben|vergeben|bitte|w[üu]rden\s+uns|dankbar|vergessen\s+sie\s+nicht|"
    r"freuen\s+uns|"
    r"dejar|deje|deja|dejarnos|d[ée]jenos|dar|d[ée]|escribir|escriba|publicar|publique|agradecer[ií]amos|"
    r"por\s+favor|no\s+olvide|encantar[ií]a|ayudar[ií]a|puntuar|valorarnos|califique|calificar|"
    r"lasci\w*|dare|dia|dacci|dateci|metti\w*|scrivere|scriva|pubblicare|per\s+favore|la\s+preghiamo|"
    r"laiss\w*|d[ée]j\w*|danos|d[ée]nos|gib|geben|"
    r"ti\s+preghiamo|grati|apprezzeremmo|apprezzerem\w*|non\s+dimenticare|farebbe\s+piacere)\b"
)

THANKS_FOR = (
    r"(?:thanks?\s+(?:you\s+)?(?:so\s+much\s+|very\s+much\s+)?for|merci\s+(?:beaucoup\s+)?(?:pour|d['’]avoir|de\s+votre|de\s+vos)|"
    r"danke\s+(?:sch[öo]n\s+)?f[üu]r|vielen\s+dank\s+f[üu]r|gracias\s+por|grazie\s+(?:mille\s+)?(?:per|della|del))"
    r"\s+(?:\w+\s+){0,3}$"
)

_CHANGE_VERB_EN = (
    r"(?:(?:updat|chang|revis|amend|modif|edit|remov|delet|withdr[ae]w|retract|reconsider|adjust|improv|rais|"
    r"upgrad|correct|rethink|reassess)\w*|tak(?:e|ing)\s+down)"
)
_CHANGE_VERB_FR = (
    r"(?:modifi\w*|chang(?:er|ez|e|es|iez)|retir(?:er|ez|e|es|iez)|supprim\w*|r[ée]vis(?:er|ez|e|iez)|"
    r"mett(?:re|ez|iez)\s+[àa]\s+jour|revoir|revoyez|effac\w*|enlev\w*|corrig\w*|ajust\w*|am[ée]lior(?:er|ez|e)|"
    r"reconsid[ée]r\w*)"
)
_CHANGE_VERB_DE = (
    r"(?:[äa]ndern|ab[äa]ndern|entfernen|l[öo]schen|zur[üu]ckziehen|zur[üu]cknehmen|anpassen|[üu]berarbeiten|"
    r"aktualisieren|korrigieren|revidieren|[üu]berdenken|verbessern|nachbessern|"
    r"zu\s+[äa]ndern|abzu[äa]ndern|zu\s+entfernen|zu\s+l[öo]schen|zur[üu]ckzuziehen|zur[üu]ckzunehmen|anzupassen|"
    r"zu\s+[üu]berarbeiten|zu\s+aktualisieren|zu\s+korrigieren|zu\s+revidieren|zu\s+[üu]berdenken|zu\s+verbessern)"
)
_CHANGE_VERB_ES = (
    r"(?:cambi(?:ar|e|es|as|a|ara|aras|ase)|modific\w*|modifiqu\w*|elimin\w*|retir\w*|quit(?:ar|e|es|as|a|ara)|"
    r"borr\w*|actualiz\w*|actualic\w*|edit(?:ar|e|es|as|a)|correg\w*|corrij\w*|mejor(?:ar|e|es|as|a)|reconsider\w*)"
)
_CHANGE_VERB_IT = (
    r"(?:modific\w*|cambi(?:are|ate|i|a|asse)|rimuov\w*|elimin\w*|cancell\w*|ritir\w*|aggiorn\w*|rivedere|riveda|"
    r"rivedi|corregg\w*|miglior(?:are|i|a))"
)

CHANGE_REVIEW = (
    rf"(?:\b{_CHANGE_VERB_EN}\s+(?:your|the|this|that|its|their|his|her|my)\s+(?:[\w-]+\s+){{0,2}}"
    r"(?:reviews?|feedback|ratings?|comments?|stars?)\b|"
    r"\b(?:have|has|had|you['’]ve|you\s+have)\s+(?:\w+\s+)?(?:updated|changed|revised|amended|modified|edited|removed|"
    r"deleted|withdrawn|retracted|taken\s+down|reconsidered)\s+(?:your|the|this|that)\s+(?:[\w-]+\s+){0,2}"
    r"(?:reviews?|feedback|ratings?|comments?)\b|"
    r"\b(?:reviews?|feedback|ratings?)\s+(?:could\s+|can\s+|would\s+|will\s+|to\s+)?(?:be\s+|get\s+|being\s+)"
    r"(?:removed|changed|updated|revised|deleted|withdrawn|amended|taken\s+down|modified|edited|raised|improved)\b|"
    r"\b(?:feedback|review)\s+revision\b|\brevision\s+(?:of|to)\s+(?:your|the)\s+(?:feedback|review|rating)\b|"
    rf"\b{_CHANGE_VERB_FR}\s+(?:votre|ton|l['’]|cet|ce|cette|la|le|vos|les)\s*(?:\w+\s+)?"
    r"(?:avis|[ée]valuations?|commentaires?|notes?)\b|"
    r"\b(?:avis|[ée]valuations?|commentaires?)\s+(?:\w+\s+){0,3}(?:modifi[ée]e?s?|retir[ée]e?s?|supprim[ée]e?s?|"
    r"chang[ée]e?s?|mis\s+[àa]\s+jour|r[ée]vis[ée]e?s?)\b|"
    r"\b(?:ihre|deine|die|ihr|den|das|eure)\s+(?:\w+\s+)?[\w-]*(?:bewertung|rezension|feedback|kommentar|beurteilung|sterne)"
    rf"\s+(?:\w+\s+){{0,4}}{_CHANGE_VERB_DE}\b|"
    rf"\b{_CHANGE_VERB_DE}\s+sie\s+(?:bitte\s+)?(?:ihre|die|ihr|den|das)\s+(?:\w+\s+)?"
    r"(?:bewertung|rezension|feedback|kommentar|beurteilung)\b|"
    r"\b(?:bewertung|rezension|feedback)\s+(?:\w+\s+){0,3}(?:ge[äa]ndert|entfernt|gel[öo]scht|zur[üu]ckgezogen|"
    r"angepasst|aktualisiert|korrigiert)\b|"
    rf"\b{_CHANGE_VERB_ES}(?:la|lo)?\s+(?:su|tu|la|el|esa|esta|sus|las)\s+(?:\w+\s+)?"
    r"(?:rese[ñn]as?|valoraci(?:ó|o)n(?:es)?|opini(?:ó|o)n(?:es)?|comentarios?|calificaci(?:ó|o)n(?:es)?|"
    r"evaluaci(?:ó|o)n|feedback|puntuaci(?:ó|o)n)\b|"
    rf"\b{_CHANGE_VERB_IT}(?:la|lo)?\s+(?:la|il|sua|tua|suo|tuo|la\s+sua|la\s+tua|il\s+suo|il\s+tuo|questa|quella|"
    r"le\s+sue)\s+(?:\w+\s+)?(?:recension[ei]|feedback|valutazion[ei]|giudizi?o?|comment[oi])\b)"
)

INCENTIVE = (
    r"\b(?:refund\w*|reimburs\w*|money\s+back|gifts?|gift\s+cards?|free|discount\w*|coupons?|vouchers?|"
    r"compensat\w*|bonus|rewards?|credits?|cash\s*back|paypal|samples?|payment|pay|"
    r"rembours\w*|cadeaux?|gratuit\w*|bons?\s+d['’]achat|r[ée]ductions?|remises?|"
    r"geschenk\w*|schenk\w*|gratis|kostenlos\w*|gutschein\w*|r[üu]ckerstattung|erstatt\w*|rabatt\w*|pr[äa]mie|"
    r"reembols\w*|regalos?|descuentos?|cup[oó]n\w*|vales?|rimbors\w*|omaggi?o?|gratuit[oa]|scont[oi]|buon[oi])\b|"
    r"[$€£]\s?\d+|\b\d+\s?(?:[$€£]|euros?|dollars?)|\b\d+\s?%"
)

EXCHANGE = (
    r"(?:\bin\s+(?:exchange|return)\s+for\b|\bin\s+return\b|\bfor\s+(?:leaving|writing|posting|giving|sharing)\b|"
    r"\bfor\s+(?:an?|your|every|each)\s+(?:[\w-]+\s+)?(?:review|feedback|rating)\b|"
    r"\band\s+(?:we|we['’]ll|we\s+will|you['’]ll|you\s+will)\s+(?:\w+\s+)?(?:send|give|refund|offer|get|receive)\b|"
    r"\bonce\s+(?:your|the)\s+(?:review|feedback|rating)\b|"
    r"\b(?:if|once|when|after|as\s+soon\s+as|provided(?:\s+that)?)\s+(?:you(?:['’]ve|['’]ll|['’]d)?\s+)?(?:\w+\s+){0,3}"
    r"(?:leav\w*|left|writ\w*|wrote|post\w*|giv\w*|gave|submit\w*|updat\w*|chang\w*|remov\w*|delet\w*|rat(?:e|ed|ing)|"
    r"shar\w*|revis\w*|edit\w*|withdr\w*)\b|"
    r"\band\s+(?:get|receive|earn|enjoy|save|grab|win)\b|\bet\s+(?:recevez|obtenez|profitez|gagnez)\b|"
    r"\bund\s+(?:erhalten|bekommen|sichern|gewinnen)\b|\by\s+(?:recibe|reciba|obt[eé]n|obtenga|consigue|ll[eé]vate|gana)\b|"
    r"\be\s+(?:ricevi|riceva|ottieni|ottenga|vinci)\b|"
    r"\ben\s+[ée]change\b|\ben\s+contrepartie\b|\bcontre\s+(?:un|une|votre)\b|\bpour\s+(?:avoir\s+laiss[ée]|laisser)\b|"
    r"\b(?:si|une\s+fois\s+que|d[èe]s\s+que|apr[èe]s\s+que)\s+(?:vous\s+)?(?:nous\s+)?(?:\w+\s+){0,2}"
    r"(?:laissez|donnez|[ée]crivez|publiez|modifiez|retirez|supprimez|mettez|attribuez)\b|"
    r"\bim\s+austausch\b|\bals\s+dankesch[öo]n\b|\bgegen\s+(?:eine|ihre)\b|\bf[üu]r\s+(?:eine|ihre)\s+(?:\w+\s+)?[\w-]*"
    r"(?:bewertung|rezension)\b|\b(?:wenn|sobald|nachdem|falls)\s+sie\s+(?:uns\s+)?(?:\w+\s+){0,4}"
    r"(?:hinterlassen|schreiben|abgeben|geben|[äa]ndern|entfernen|l[öo]schen|vergeben|anpassen)\b|"
    r"\ba\s+cambio\b|\bpor\s+(?:dejar|escribir|publicar)\w*\b|\bsi\s+(?:nos\s+)?(?:deja|escribe|publica|da|cambia|"
    r"modifica|elimina|retira|deja)\w*\b|\buna\s+vez\s+que\b|"
    r"\bin\s+cambio\b|\bper\s+(?:aver|lasciare|averci)\b|\bse\s+(?:ci\s+)?(?:lascia|lasci|scrive|scrivi|pubblica|"
    r"d[àa]|dai|modifica|rimuove|elimina|cambia)\w*\b|\buna\s+volta\s+che\b)"
)

SATISFIED_IF = (
    r"(?:(?:^|¿)\s*(?:are\s+you\s+)?(?:happy|satisfied|pleased|satisfait\w*|content\w*|zufrieden|"
    r"satisfech\w*|soddisfatt\w*)\s+(?:with|de|du|des|mit|con|del|della|dell['’])\b|"
    r"\bif\s+you\s*(?:are|were|['’]re|have\s+been|feel)\s+(?:happy|satisfied|pleased|delighted|thrilled)\b|"
    r"\bif\s+(?:you\s+)?(?:happy|satisfied|pleased)\b|\bif\s+you\s+(?:liked|love|loved|enjoyed)\b|"
    r"\bsi\s+(?:le|te)\s+(?:ha\s+)?gust\w*|\bsi\s+vous\s+l['’]avez\s+aim[ée]|\bwenn\s+es\s+ihnen\s+gef[äa]llt|"
    r"\bwenn\s+es\s+ihnen\s+gefallen\s+hat|\bse\s+(?:ti|le|vi)\s+[èe]\s+piaciut\w*|\bse\s+(?:ti|le)\s+piace|\bsi\s+vous\s+[êe]tes\s+(?:satisfait|content|ravi)\w*\b|"
    r"\b(?:wenn|falls)\s+sie\s+(?:\w+\s+)?zufrieden\b|\bsi\s+(?:est[aá]|qued[oó]|ha\s+quedado)\s+(?:satisfech|content)\w*\b|"
    r"\bse\s+(?:[èe]|sei|[èe]\s+stato|sei\s+stato)\s+(?:soddisfatt|content)\w*\b)"
)

# --- promotion ---------------------------------------------------------------------------

PROMOTION = (
    r"(?:\b(?:coupons?|vouchers?|promo(?:tional)?\s*codes?|discount\s*codes?|coupon\s*codes?|voucher\s*codes?|"
    r"promo|newsletters?|mailing\s+list|special\s+offers?|exclusive\s+(?:offers?|deals?)|"
    r"flash\s+sale|clearance|black\s+friday|cyber\s+monday|bogo|buy\s+one,?\s+get\s+one|free\s+gift|"
    r"\bfor\s+an?\s+(?:special\s+|extra\s+|exclusive\s+|small\s+)?discount|pour\s+(?:une|b[ée]n[ée]ficier\s+d['’]une)\s+"
    r"(?:r[ée]duction|remise)|f[üu]r\s+einen\s+rabatt|para\s+(?:un|obtener\s+un)\s+descuento|"
    r"per\s+(?:uno|avere\s+uno|ottenere\s+uno)\s+sconto|"
    r"buy\s+\d+,?\s+get\s+\d+|vip\s+club|members?['’]?\s+club|rewards?\s+program(?:me)?|"
    r"spend\s+(?:over\s+)?(?:[$€£]\s?\d+|\b\d+\s?[$€£])|(?:this\s+(?:week|month|weekend)|today)\s+only|"
    r"limited[- ]time|"
    r"(?:deals?|offers?)\s+of\s+the\s+(?:day|week|month)|(?:our|the)\s+(?:latest\s+|current\s+|monthly\s+|weekly\s+)?"
    r"(?:deals|offers)\b|d[èe]s\s+\d+\s?€\s+d['’]achat|offres?\s+du\s+(?:mois|jour)|nos\s+(?:derni[èe]res\s+)?offres|"
    r"ab\s+\d+\s?€\s+einkaufswert|angebote?\s+(?:des|der)\s+(?:monats|woche|tages)|unsere\s+(?:aktuellen\s+)?angebote|"
    r"nur\s+(?:diese|dieses)\s+(?:woche|wochenende)|por\s+compras\s+superiores|ofertas?\s+del\s+(?:mes|d[ií]a)|"
    r"nuestras\s+(?:[uú]ltimas\s+)?ofertas|solo\s+(?:este|esta)\s+(?:fin\s+de\s+semana|semana)|"
    r"per\s+una\s+spesa\s+di|offert[ae]\s+del\s+(?:mese|giorno)|le\s+nostre\s+offerte|"
    r"solo\s+(?:questo|questa)\s+(?:weekend|settimana)|"
    r"loyalty\s+(?:program(?:me)?|points)|referral\s+(?:code|program(?:me)?)|"
    r"(?:our|big|summer|winter|spring|autumn|fall|holiday|seasonal|annual|end[- ]of[- ]season|clearance)"
    r"\s+sale|"
    r"sales?\s+(?:ends|starts|event|now\s+on)|on\s+sale|subscribe\s+to\s+our|sign\s+up\s+(?:for|to)\s+our|"
    r"check\s+out\s+our\s+(?:other|new|latest|full|range)|(?:our\s+)?new\s+(?:collection|arrivals)|shop\s+our|"
    r"(?:our|the)\s+new\s+(?:\w+\s+)?(?:range|collection|line|products|arrivals|designs)|don['’]t\s+miss\s+(?:it|out|our)|"
    r"notre\s+nouvelle\s+(?:gamme|collection)|ne\s+manquez\s+pas|unsere\s+neue\s+(?:kollektion|serie|linie)|"
    r"nicht\s+verpassen|nuestra\s+nueva\s+(?:colecci[oó]n|gama)|no\s+te\s+pierdas|no\s+se\s+pierda|"
    r"la\s+nostra\s+nuova\s+(?:collezione|linea)|(?:da\s+)?non\s+perdere|buon[io]\s+(?:di|da)\s+\d+|"
    r"buon[io]\s+regalo|bons?\s+de\s+\d+|vales?\s+(?:de|por)\s+\d+|"
    r"(?:off|save)\s+(?:on\s+)?your\s+next|with\s+your\s+next\s+(?:order|purchase)|giveaways?|prize\s+draw|"
    r"sweepstakes?|raffle|jeu[x]?[- ]concours|tirage\s+au\s+sort|avec\s+votre\s+prochaine\s+commande|"
    r"gewinnspiel\w*|"
    r"verlosung\w*|mit\s+ihrer\s+n[äa]chsten\s+bestellung|sorteos?|con\s+su\s+pr[oó]ximo\s+pedido|concorso|"
    r"estrazione\s+a\s+premi|con\s+il\s+(?:suo\s+|tuo\s+)?prossimo\s+ordine|(?:use|enter|apply|redeem)\s+(?:the\s+|our\s+|this\s+)?(?:code|voucher)|(?:on|for)\s+your\s+next\s+(?:order|purchase|visit)|"
    r"other\s+products?\s+(?:you\s+might|you\s+may|in\s+our)|you\s+might\s+also\s+like|"
    r"(?:see|browse|discover|explore|check\s+out)\s+our\s+(?:other|full|whole|entire|new|latest)|"
    r"visit\s+our\s+(?:amazon\s+|ebay\s+|walmart\s+)?(?:store|storefront|shop)|our\s+storefront|"
    r"d[ée]couvrez\s+(?:nos|notre)\s+(?:autres|nouveaut[ée]s|gamme)|visitez\s+notre\s+boutique|"
    r"besuchen\s+sie\s+unseren\s+(?:shop|store|markenshop)|entdecken\s+sie\s+unsere\s+(?:anderen|weiteren|neuen)|"
    r"visite\s+nuestra\s+tienda|descubra\s+nuestr[oa]s\s+(?:otr[oa]s|nuev[oa]s)|"
    r"visiti\s+il\s+nostro\s+negozio|scopra\s+(?:i\s+nostri|le\s+nostre)\s+(?:altri|altre|nuovi|nuove)|"
    r"codes?\s+promo|codes?\s+(?:de\s+)?(?:r[ée]duction|remise)|bons?\s+(?:de\s+r[ée]duction|d['’]achat|de\s+remise)|"
    r"remises?\s+de\s+\d+|soldes|offres?\s+(?:sp[ée]ciales?|exclusives?|promotionnelles?)|"
    r"(?:sur|pour)\s+votre\s+prochaine?\s+(?:commande|achat)|lettre\s+d['’]information|abonnez[- ]vous|"
    r"inscrivez[- ]vous\s+[àa]\s+notre|d[ée]couvrez\s+nos\s+(?:autres|nouveaux|nouvelles|produits)|"
    r"nouvelle\s+collection|"
    r"gutscheine?|gutschein-?codes?|rabatt-?codes?|rabattaktion|aktions-?codes?|preisnachlass|"
    r"sonderangebote?|angebote?\s+(?:in|aus)\s+unserem|ausverkauf|schlussverkauf|"
    r"(?:bei|f[üu]r|auf)\s+ihre(?:r|n)?\s+n[äa]chste(?:n|r)?\s+(?:bestellung|einkauf|kauf)|abonnieren\s+sie|"
    r"neue\s+kollektion|treuepunkte|gratis-?geschenk|"
    r"utilisez\s+le\s+code|(?:mit\s+dem|den)\s+code|code\s+\w+\s+(?:eingeben|einl[öo]sen)|"
    r"(?:use|utilice|introduzca|aplique)\s+el\s+c[oó]digo|(?:usa|utilizza|inserisci|inserisca|utilizzi)\s+il\s+codice|"
    r"cupones?|cup[oó]n|c[oó]digos?\s+(?:de\s+)?(?:descuento|promocional|promoci[oó]n)|rebajas|"
    r"ofertas?\s+(?:especial(?:es)?|exclusivas?)|(?:en|para)\s+(?:su|tu)\s+pr[oó]xim[oa]\s+"
    r"(?:pedido|compra)|bolet[ií]n|suscr[ií]bete|suscr[ií]base|nueva\s+colecci[oó]n|vales?\s+(?:de\s+)?descuento|"
    r"buon[io]\s+sconto|codic[ei]\s+(?:sconto|promozional[ei]|promo)|saldi|"
    r"offert[ae]\s+(?:special[ei]|esclusiv[ae])|(?:sul|per\s+il|nel)\s+(?:suo\s+|tuo\s+)?prossimo\s+(?:ordine|acquisto)|"
    r"iscriviti|si\s+iscriva|nuova\s+collezione)\b|"
    r"\b\d+\s?%\s*(?:off|rabatt|de\s+(?:r[ée]duction|remise|descuento)|di\s+sconto|sconto|descuento)\b|"
    r"\b\d+\s?(?:percent|pour\s?cent|prozent|por\s+ciento|per\s+cento)\s+(?:off|de\s+r[ée]duction|rabatt|de\s+descuento|di\s+sconto)\b|"
    r"(?:[$€£]\s?\d+|\b\d+\s?[$€£])\s+off\b|-\d+\s?%)"
)

# --- off-platform ------------------------------------------------------------------------

OFF_PLATFORM = (
    r"(?:\b(?:contact|reach|e-?mail|call|phone|text|message|write\s+to|get\s+in\s+touch\s+with)\s+(?:us|me)\s+"
    r"(?:directly|outside|off|privately|personally)\b|\breach\s+out\s+(?:to\s+us\s+)?directly\b|"
    r"\b(?:e-?mail|call|text|dm|ring|phone|message|contact)\s+(?:our|the)\s+(?:\w+\s+)?(?:team|support|"
    r"customer\s+service|hotline|office|service\s+desk)\s+(?:on|at|via|directly)\b|"
    r"\b(?:e-?mail|call|text|dm|ring)\s+us\b|\bsend\s+us\s+an?\s+e-?mail\b|\bgive\s+us\s+a\s+(?:call|ring)\b|"
    r"\b(?:whats\s?app|telegram|viber|wechat|skype|facebook\s+messenger|instagram\s+dm|signal\s+app)\b|"
    r"\b(?:our|my)\s+(?:facebook|instagram|tiktok|twitter|pinterest|youtube)\s+(?:page|account|profile|channel)\b|"
    r"\bfollow\s+us\s+on\s+(?:facebook|instagram|tiktok|twitter|x|pinterest|youtube|social\s+media)\b|"
    r"\b(?:our|my)\s+(?:own\s+)?(?:web\s?shop|online\s+(?:shop|store)|official\s+(?:store|shop)|e-?shop|shopify\s+store)\b|"
    r"\b(?:order|buy|purchase|shop|pay)\w*\s+(?:it\s+|them\s+)?(?:directly\s+)?(?:from|through|via|on|at|with)\s+"
    r"(?:us\s+directly|our\s+(?:web\s?site|web\s?shop|online|own|shop|store|site))\b|"
    r"\b(?:buy|order|purchase|pay)\s+(?:it\s+|them\s+)?directly\b|\bdirectly\s+from\s+us\b|"
    r"\b(?:outside|off)\s+(?:of\s+)?(?:amazon|ebay|walmart|the\s+(?:platform|marketplace))\b|"
    r"\b(?:pay|payment|paid)\s+(?:\w+\s+)?(?:via|by|through|with|using)\s+(?:paypal|bank\s+transfer|wire\s+transfer|"
    r"venmo|zelle|cash\s?app|western\s+union)\b|\bpaypal\.me\b|\b(?:bank|wire)\s+transfer\b|"
    r"\btransfer\w*\s+(?:\w+\s+){0,4}(?:to|into)\s+(?:our|my)\s+(?:iban|(?:bank\s+)?account|bank)\b|"
    r"\b(?:our|my)\s+(?:bank(?:ing)?|account|payment)\s+details\b|\bpay\s+(?:in\s+|with\s+)?cash\b|"
    r"\b(?:save|saves|saving|avoid|avoiding|skip|without|no)\s+(?:the\s+|any\s+)?(?:amazon|ebay|walmart)(?:['’]s)?\s+"
    r"(?:fees?|commissions?)\b|\b(?:amazon|ebay|walmart)\s+(?:fees?|commissions?)\b|"
    r"\bfrais\s+(?:d['’]amazon|d['’]ebay|de\s+walmart)\b|\b(?:amazon|ebay|walmart)-?geb[üu]hren\b|"
    r"\bcomisi[oó]n(?:es)?\s+de\s+(?:amazon|ebay|walmart)\b|\bcommissioni\s+(?:di|a)\s+(?:amazon|ebay|walmart)\b|"
    r"\bpagar\s+en\s+efectivo\b|\bpagare\s+in\s+contanti\b|\bbar\s+bezahlen\b|\bpayer\s+en\s+esp[èe]ces\b|\bnos\s+coordonn[ée]es\s+bancaires\b|"
    r"\bunsere\s+bankverbindung\b|\bnuestros\s+datos\s+bancarios\b|\ble\s+nostre\s+coordinate\s+bancarie\b|"
    r"\bcontactez[- ]nous\s+directement\b|"
    r"\b(?:[ée]crivez|envoyez)[- ]nous\s+(?:directement|un\s+(?:e-?mail|mail|courriel)|"
    r"par\s+(?:e-?mail|mail|courriel))\b|\b(?:appelez|t[ée]l[ée]phonez)[- ]nous\b|"
    r"\bnotre\s+(?:propre\s+)?boutique\s+(?:en\s+ligne|officielle)\b|\bvirement\b|"
    r"\b(?:command\w*|achet\w*|pay\w*)\s+(?:le\s+|la\s+|les\s+|nous\s+)?directement\b|"
    r"\bdirectement\s+(?:chez\s+nous|aupr[èe]s\s+de\s+nous|sur\s+notre)\b|"
    r"\b(?:en\s+dehors|hors)\s+d['’]?\s*(?:amazon|ebay|walmart|la\s+plateforme)\b|\bpar\s+virement\b|"
    r"\bkontaktieren\s+sie\s+uns\s+direkt\b|\b(?:schreiben|mailen)\s+sie\s+uns\s+(?:direkt|eine\s+e-?mail|per\s+e-?mail)\b|"
    r"\brufen\s+sie\s+uns\s+(?:\w+\s+){0,3}an\b|\bdirekt\s+(?:bei\s+uns|[üu]ber\s+unser\w*|in\s+unserem)\b|"
    r"\bunsere(?:r|n|m)?\s+(?:eigene(?:n|r|m)?\s+)?(?:online-?shop|webshop)\b|\b[üu]berweisen\s+sie\b|"
    r"\b[üu]berweisung\b|\bauf\s+unser(?:e|em)?\s+(?:konto|bankkonto|iban)\b|"
    r"\b(?:bestellen|kaufen|bezahlen)\s+sie\s+(?:\w+\s+)?direkt\b|\bau(?:ß|ss)erhalb\s+von\s+(?:amazon|ebay|walmart)\b|"
    r"\bper\s+(?:[üu]berweisung|paypal)\b|"
    r"\bcont[aá]cte(?:nos|enos)?\s+directamente\b|\bcontacte\s+directamente\s+con\s+nosotros\b|"
    r"\b(?:ll[aá]menos|ll[aá]manos|env[ií]enos\s+un\s+(?:correo|e-?mail)|escr[ií]b(?:a|e)nos\s+(?:directamente|a\s+nuestro|"
    r"un\s+correo|por\s+correo))\b|"
    r"\bnuestr[oa]\s+(?:propi[oa]\s+)?tienda\s+(?:online|en\s+l[ií]nea|oficial)\b|\btransferencia\s+bancaria\b|"
    r"\ba\s+nuestra\s+cuenta\b|"
    r"\b(?:compr\w*|pid\w*|pedir\w*|c[oó]mpr\w*)\s+(?:\w+\s+)?directamente\b|"
    r"\bdirectamente\s+(?:con\s+nosotros|en\s+nuestr[oa]|a\s+nosotros)\b|"
    r"\bfuera\s+de\s+(?:amazon|ebay|walmart|la\s+plataforma)\b|\bpor\s+transferencia\b|"
    r"\b(?:contattaci|ci\s+contatti|contattateci|contattarci)\s+direttamente\b|\bcontattare\s+direttamente\b|"
    r"\bnous\s+contacter\s+directement\b|\buns\s+direkt\s+(?:kontaktieren|anrufen|anschreiben)\b|"
    r"\bcontactarnos\s+directamente\b|\bcontactar\s+directamente\b|\b(?:scriveteci|scrivici|ci\s+scriva)\s+"
    r"(?:direttamente|via\s+e-?mail|una\s+e-?mail|per\s+e-?mail)\b|\b(?:chiamaci|ci\s+chiami|telefonaci|ci\s+telefoni)\b|"
    r"\b(?:il\s+)?nostro\s+(?:negozio\s+(?:online|on\s+line|ufficiale)|e-?shop)\b|\bbonifico\b|"
    r"\bsul\s+nostro\s+conto\b|"
    r"\b(?:acquist\w*|ordin\w*|compr\w*)\s+(?:\w+\s+)?direttamente\b|"
    r"\bdirettamente\s+(?:da\s+noi|sul\s+nostro|presso\s+di\s+noi)\b|\b(?:al\s+di\s+)?fuori\s+da\s+(?:amazon|ebay|walmart)\b|"
    r"\btramite\s+bonifico\b)"
)

# Phrases after an off-platform cue that keep the conversation on the platform.
ON_PLATFORM = (
    r"^\W{0,3}(?:\w+\s+){0,4}(?:buyer[- ]seller|amazon|ebay|walmart|messag\w*|messagerie|nachricht\w*|"
    r"mensaj\w*|"
    r"messaggi\w*|this\s+(?:thread|conversation|chat))"
)

# --- sensitive data ----------------------------------------------------------------------
# "5-pin DIN", "3 pin XLR" name a connector, not a PIN.

SECRET_WORD = (
    r"\b(?:password|passcode|passwort|kennwort|mot\s+de\s+passe|mdp|contrase[ñn]a|clave(?:\s+de\s+acceso)?|"
    r"parola\s+d['’]ordine|(?<!\d-)(?<!\d\s)pin(?:\s+code)?|code\s+pin|pin-?code|login\s+(?:details|credentials)|credentials|"
    r"identifiants|zugangsdaten|credenziali|cvv2?|cvc2?|security\s+code|code\s+de\s+s[ée]curit[ée]|cryptogramme|"
    r"sicherheitscode|pr[üu]fziffer|c[oó]digo\s+de\s+seguridad|codice\s+di\s+sicurezza)\b"
)

SECRET_FILLER = (
    r"(?:\s+(?:for|of|to|on|your|the|new|temporary|account|login|f[üu]r|das|den|dem|die|ihr|ihres|neues|neue|"
    r"tempor[äa]re?s?|\w*konto|pour|de|du|la|le|votre|ton|nouveau|temporaire|compte|para|su|tu|del|nueva|nuevo|"
    r"temporal|cuenta|per|il|tuo|suo|nuova|temporanea|account)){0,4}"
)
SECRET_LINK = r"\s*(?:(?P<sep>[:=])|is|was|est|ist|lautet|es|era|[èe]|sera|will\s+be)?\s*[\"'«„“]?\s*"

SECRET_STOPWORDS = frozenset(
    {
        "required",
        "needed",
        "incorrect",
        "wrong",
        "invalid",
        "correct",
        "not",
        "never",
        "safe",
        "secure",
        "expired",
        "please",
        "reset",
        "changed",
        "sent",
        "the",
        "your",
        "our",
        "a",
        "an",
        "obligatoire",
        "requis",
        "erforderlich",
        "falsch",
        "requerido",
        "incorrecto",
        "obbligatorio",
        "errato",
        "nicht",
        "pas",
        "no",
        "non",
        "sicher",
        "vide",
        "empty",
    }
)

# --- placeholders ------------------------------------------------------------------------

PLACEHOLDER_WORDS = (
    r"(?:insert|enter|add|your|customer|buyer|client|order|tracking|name|first\s*name|last\s*name|date|number|"
    r"amount|product|item|carrier|address|link|url|id|sku|price|agent|signature|company|shop|store|seller|"
    r"refund|eta|reason|nom|pr[ée]nom|commande|suivi|num[ée]ro|montant|produit|transporteur|adresse|"
    r"ins[ée]rer|vendeur|boutique|name|vorname|nachname|bestell\w*|sendungs\w*|datum|betrag|produkt|artikel|"
    r"kunde|einf[üu]gen|nummer|versand\w*|h[äa]ndler|nombre|apellido|pedido|seguimiento|fecha|importe|producto|"
    r"art[ií]culo|transportista|direcci[oó]n|insertar|n[uú]mero|tienda|vendedor|nome|cognome|ordine|"
    r"tracciamento|data|importo|prodotto|articolo|corriere|indirizzo|inserire|numero|negozio|venditore)"
)

HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "i",
        "u",
        "p",
        "br",
        "hr",
        "em",
        "strong",
        "div",
        "span",
        "ul",
        "ol",
        "li",
        "table",
        "tr",
        "td",
        "th",
        "tbody",
        "thead",
        "img",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "small",
        "sup",
        "sub",
        "blockquote",
        "code",
        "pre",
        "html",
        "body",
        "head",
        "title",
        "style",
        "script",
    }
)

# "would you be willing to revise it?" after mentioning the review.
CHANGE_PRONOUN = (
    rf"(?:\b{_CHANGE_VERB_EN}\s+(?:it|them)\b|"
    r"\b(?:la|le|les)\s+(?:modifier|changer|retirer|supprimer|r[ée]viser|mettre\s+[àa]\s+jour|revoir)\b|"
    r"\b(?:sie|es|diese|ihn)\s+(?:\w+\s+){0,2}(?:zu\s+[äa]ndern|abzu[äa]ndern|zu\s+entfernen|zu\s+l[öo]schen|"
    r"zur[üu]ckzuziehen|zu\s+[üu]berarbeiten|anzupassen)\b|"
    r"\b(?:modificar|cambiar|eliminar|retirar|quitar|borrar|actualizar|editar)(?:la|lo|las|los)\b|"
    r"\b(?:modificar|cambiar|rimuover|eliminar|cancellar|ritirar|aggiornar|riveder)(?:la|lo|le|li)\b)"
)

# Words that are marketing only when something is being offered: "the discount you saw has
# ended" answers a question, "we offer you a discount" is a promotion.
PROMOTION_WEAK = (
    r"\b(?:discounts?|promotions?|r[ée]ductions?|rabatte?|preisnachlass|descuentos?|promoci[oó]n(?:es)?|"
    r"scont[oi]|promozion[ei])\b"
)
OFFER_CUE = (
    r"\b(?:offer\w*|give|giving|send|get|enjoy|receive|grab|save|exclusive|special|use|claim|redeem|"
    r"next|future|code|valid|off|"
    r"offr\w*|profitez|b[ée]n[ée]ficiez|obtenez|recevez|utilisez|prochaine?s?|exclusi\w*|sp[ée]cial\w*|"
    r"anbieten|bieten|erhalten|sichern|nutzen|gew[äa]hren|schenken|n[äa]chste\w*|exklusiv\w*|"
    r"ofrec\w*|disfrut\w*|obteng\w*|reciba|utilice|pr[oó]xim\w*|exclusiv\w*|especial\w*|"
    r"offri\w*|approfitt\w*|otteng\w*|riceva|utilizz\w*|prossim\w*|esclusiv\w*|special\w*)\b|\b\d+\s?%"
)

# The seller's own website is a diversion when the buyer is sent there to buy or contact,
# not when it only hosts a manual or pictures.
OWN_SITE = (
    r"(?:\b(?:our|my)\s+(?:own\s+)?(?:web\s?-?site|home\s?page|official\s+site|site)\b|"
    r"\bnotre\s+(?:propre\s+)?site(?:\s+(?:web|internet|officiel))?\b|"
    r"\bunsere(?:r|n|m)?\s+(?:eigene(?:n|r|m)?\s+)?(?:website|webseite|homepage|internetseite)\b|"
    r"\bnuestr[oa]\s+(?:propi[oa]\s+)?(?:p[aá]gina\s+web|sitio\s+web|web|p[aá]gina)\b|"
    r"\b(?:il\s+)?nostro\s+sito(?:\s+(?:web|internet|ufficiale))?\b)"
)

# Buying, paying or being contacted; noun uses after a determiner ("your order") are not cues.
SHOP_CUE = (
    r"(?<!your\s)(?<!the\s)(?<!this\s)(?<!votre\s)(?<!ihre\s)(?<!su\s)(?<!il\s)(?<!suo\s)(?<!tuo\s)"
    r"\b(?:order\w*|buy\w*|shop(?:ping)?|purchas\w*|deals?|discount\w*|sale|offers?|cheaper|prices?|coupon\w*|"
    r"full\s+range|spare\s+parts|save|contact\w*|reach|e-?mail|call|write|codes?|c[oó]digo|codice|"
    r"command\w*|achet\w*|achat\w*|promo\w*|r[ée]duction|remise|offre\w*|moins\s+cher|prix|soldes|contacte\w*|"
    r"bestell\w*|kauf\w*|einkauf\w*|angebot\w*|rabatt\w*|g[üu]nstiger|preis\w*|sparen|gutschein\w*|kontakt\w*|"
    r"pedid\w*|compr\w*|ofert\w*|descuento\w*|m[aá]s\s+barato|precio\w*|rebajas|contact[ae]\w*|"
    r"ordin\w*|acquist\w*|offert\w*|scont\w*|pi[uù]\s+economico|prezz\w*|saldi|contatt\w*)\b|\b\d+\s?%"
)

PASSWORD_WORD = (
    r"\b(?:password|passcode|passwort|kennwort|mot\s+de\s+passe|contrase[ñn]a|parola\s+d['’]ordine)\b"
)

# Words that cannot be part of a spelled-out address ("at this point", "the point it").
FUNCTION_WORDS = frozenset(
    """the this that a an some any it its is of in on to for and or not no your our my his her their
    we you they i he she all once first last time times moment same least home work which what every
    le la les un une ce cet cette de du des der die das ein eine dem den el lo los las il questo questa
    quel ese esta este point punto punkt sale vente""".split()
)

NEGATION = (
    r"\b(?:not|no|never|cannot|can['’]t|won['’]t|unable|n['’]t|ne|pas|jamais|nicht|kein\w*|nie|nunca|"
    r"non|mai)\b"
)
