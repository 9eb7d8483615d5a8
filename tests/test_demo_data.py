"""Consistency checks for the demo dataset in demo/ (standard library + pytest only)."""

import json
import re
from collections import Counter
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "demo"

CHANNELS = {"amazon", "ebay", "walmart", "shopify", "email", "web"}
MARKETPLACES = {"amazon", "ebay", "walmart", "shopify"}
TAGS = {
    "tracking",
    "return_label",
    "refund_status",
    "product_question",
    "damaged_in_transit",
    "cancellation",
    "wrong_item",
    "missing_item",
    "invoice",
    "delivery_change",
    "other",
}
RULES = {
    "external_link",
    "email_address",
    "phone_number",
    "promotion",
    "review_manipulation",
    "off_platform",
    "emoji",
    "sensitive_data",
    "unfilled_placeholder",
}
# Rule codes that can apply on each channel (see DATA_FORMATS.md).
RULES_BY_CHANNEL = {
    "amazon": RULES,
    "ebay": {
        "external_link",
        "email_address",
        "phone_number",
        "off_platform",
        "sensitive_data",
        "unfilled_placeholder",
    },
    "walmart": {
        "external_link",
        "email_address",
        "phone_number",
        "off_platform",
        "sensitive_data",
        "unfilled_placeholder",
    },
    "shopify": {"sensitive_data", "unfilled_placeholder"},
    "email": {"sensitive_data", "unfilled_placeholder"},
    "web": {"sensitive_data", "unfilled_placeholder"},
}
LOCALES = {"en", "fr", "de", "es", "it"}
OTHER_LOCALES = ("fr", "de", "es", "it")
CARRIERS = {"DHL", "UPS", "DPD", "Royal Mail", "La Poste", "USPS", "FedEx"}
ORDER_ID_PATTERNS = {
    "amazon": r"\d{3}-\d{7}-\d{7}",
    "ebay": r"\d{2}-\d{5}-\d{5}",
    "walmart": r"\d{13,15}",
    "shopify": r"#\d{4}",
}
ISO_TS = r"2026-1[01]-\d{2}T\d{2}:\d{2}:\d{2}Z"
EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u2b55]")


def load(name: str) -> list[dict]:
    rows = []
    with open(DEMO / name, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            assert line.strip(), f"{name}:{number}: blank line"
            row = json.loads(line)
            assert isinstance(row, dict), f"{name}:{number}: not an object"
            rows.append(row)
    return rows


def require(rows: list[dict], keys: set[str], name: str) -> None:
    for row in rows:
        missing = keys - row.keys()
        assert not missing, f"{name}: {row.get('id', row)} lacks {missing}"


def unique(values: list, name: str) -> None:
    dupes = [v for v, n in Counter(values).items() if n > 1]
    assert not dupes, f"{name}: duplicate ids {dupes}"


def by_id(rows: list[dict], key: str = "id") -> dict:
    return {row[key]: row for row in rows}


# ----------------------------------------------------------------- articles


def test_articles_format_and_counts():
    articles = load("articles.jsonl")
    require(articles, {"id", "title", "body", "locale", "channels", "tags", "url", "updated_at"}, "articles")
    unique([a["id"] for a in articles], "articles")
    assert len(articles) >= 45
    for a in articles:
        assert a["id"].startswith("kb-")
        assert a["locale"] in LOCALES
        assert set(a["channels"]) <= CHANNELS, a["id"]
        assert a["tags"] and set(a["tags"]) <= TAGS, a["id"]
        assert a["url"].startswith("https://help.hearthandharbor.example/"), a["id"]
        assert re.fullmatch(r"2026-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", a["updated_at"]), a["id"]
        words = len(a["body"].split())
        assert 80 <= words <= 300, (a["id"], words)
    locales = Counter(a["locale"] for a in articles)
    for loc in OTHER_LOCALES:
        assert locales[loc] >= 3, loc
    ids = {a["id"] for a in articles}
    for needed in (
        "kb-tracking",
        "kb-returns-amazon",
        "kb-returns-ebay",
        "kb-returns-walmart",
        "kb-returns-shopify",
        "kb-return-labels",
        "kb-refunds",
        "kb-damaged-in-transit",
        "kb-missing-item",
        "kb-wrong-item",
        "kb-assembly-fjord-bookcase",
        "kb-assembly-alto-stool",
        "kb-install-brisa-fan",
        "kb-care-cast-iron",
        "kb-care-towels",
        "kb-invoice-amazon",
        "kb-invoice-shopify",
        "kb-change-address",
        "kb-warranty",
        "kb-international-shipping",
        "kb-payment-methods",
        "kb-gift-orders",
        "kb-tracking-fr",
        "kb-tracking-de",
        "kb-tracking-es",
        "kb-tracking-it",
    ):
        assert needed in ids, needed


def test_articles_scoped_to_one_marketplace_say_so_in_title():
    names = {"amazon": "amazon", "ebay": "ebay", "walmart": "walmart"}
    for a in load("articles.jsonl"):
        if a["locale"] == "en" and len(a["channels"]) == 1 and a["channels"][0] in names:
            assert names[a["channels"][0]] in a["title"].lower(), a["id"]


def test_exactly_one_noncompliant_marketplace_article():
    link = re.compile(r"https?://|www\.|\b[a-z0-9-]+\.(?:example|com|de|fr|co\.uk|ly)\b", re.I)
    allowed_domains = ("amazon.", "ebay.", "walmart.")
    email = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
    phone = re.compile(r"\+\d[\d ()-]{7,}\d")
    promo = re.compile(r"\b\d+% off\b|\bcode [A-Z0-9]{4,}\b|\breview\b|\bdiscount\b", re.I)
    flagged = []
    for a in load("articles.jsonl"):
        marketplace_visible = not a["channels"] or set(a["channels"]) & {"amazon", "ebay", "walmart"}
        if not marketplace_visible:
            continue
        body = a["title"] + "\n" + a["body"]
        links = [
            m.group(0) for m in link.finditer(body) if not m.group(0).lower().startswith(allowed_domains)
        ]
        if links or email.search(body) or phone.search(body) or promo.search(body) or EMOJI.search(body):
            flagged.append(a["id"])
    assert flagged == ["kb-amazon-care-promo"], flagged
    promo_article = by_id(load("articles.jsonl"))["kb-amazon-care-promo"]
    assert promo_article["channels"] == ["amazon"] and promo_article["tags"] == ["product_question"]


def test_shop_domain_is_always_example():
    for path in DEMO.glob("*.jsonl"):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"hearthandharbor\.([a-z]+)", text):
            assert m.group(1) == "example", (path.name, m.group(0))


# ----------------------------------------------------------------- queries


def test_queries_labels_and_coverage():
    articles = by_id(load("articles.jsonl"))
    queries = load("queries.jsonl")
    require(queries, {"id", "text", "locale", "channel", "relevant"}, "queries")
    unique([q["id"] for q in queries], "queries")
    assert len(queries) >= 180
    for q in queries:
        assert re.fullmatch(r"q-\d{3}", q["id"]), q["id"]
        assert q["text"].strip()
        assert q["locale"] in LOCALES
        assert q["channel"] in CHANNELS
        assert len(set(q["relevant"])) == len(q["relevant"]), q["id"]
        for art_id in q["relevant"]:
            assert art_id in articles, (q["id"], art_id)
            scope = articles[art_id]["channels"]
            assert not scope or q["channel"] in scope, (q["id"], art_id, "article not shown on this channel")
            assert art_id != "kb-amazon-care-promo", q["id"]
    locales = Counter(q["locale"] for q in queries)
    for loc in OTHER_LOCALES:
        assert locales[loc] >= 30, loc
    assert sum(1 for q in queries if not q["relevant"]) >= 35
    assert {q["channel"] for q in queries} == CHANNELS
    # localised queries point first to the article in their language when one exists
    for q in queries:
        if q["locale"] != "en" and q["relevant"]:
            localised = [r for r in q["relevant"] if articles[r]["locale"] == q["locale"]]
            if localised:
                assert articles[q["relevant"][0]]["locale"] == q["locale"], q["id"]


def test_queries_are_channel_aware_for_returns():
    queries = load("queries.jsonl")
    own = {"amazon": "kb-returns-amazon", "ebay": "kb-returns-ebay", "walmart": "kb-returns-walmart"}
    for q in queries:
        for ch, art in own.items():
            if art in q["relevant"]:
                assert q["channel"] == ch, q["id"]
        if q["channel"] in own:
            assert not any(r.startswith("kb-returns-shopify") for r in q["relevant"]), q["id"]


# ----------------------------------------------------------------- orders


def test_orders_format():
    orders = load("orders.jsonl")
    require(orders, {"order_id", "channel", "customer", "placed_at", "status", "items", "currency"}, "orders")
    unique([o["order_id"] for o in orders], "orders")
    assert len(orders) >= 45
    assert {o["channel"] for o in orders} == MARKETPLACES
    for o in orders:
        oid = o["order_id"]
        assert re.fullmatch(ORDER_ID_PATTERNS[o["channel"]], oid), oid
        assert re.fullmatch(ISO_TS, o["placed_at"]), oid
        assert o["currency"] in {"EUR", "GBP", "USD"}, oid
        cust = o["customer"]
        assert {"email", "name", "marketplace_customer_id", "phone", "address"} <= cust.keys(), oid
        if o["channel"] == "amazon":
            assert re.fullmatch(r"[a-z0-9]+@marketplace\.amazon\.(com|de|fr|it|es|co\.uk)", cust["email"]), (
                oid
            )
            assert cust["marketplace_customer_id"], oid
        assert o["items"], oid
        for item in o["items"]:
            assert {"sku", "title", "qty", "price"} <= item.keys(), oid
            assert item["qty"] >= 1 and item["price"] > 0, oid
        ship = o.get("shipment")
        if ship is not None:
            assert ship["carrier"] in CARRIERS, oid
            assert ship["tracking_number"], oid
            assert ship["status"] in {"in_transit", "delivered", "exception", "label_created"}, oid
            assert re.fullmatch(r"2026-1[01]-\d{2}", ship["eta"]), oid
        refund = o.get("refund")
        if refund is not None:
            assert refund["status"] in {"requested", "issued", "failed"}, oid
            assert refund["refund_id"] and refund["amount"] > 0, oid
    assert sum(1 for o in orders if o.get("refund")) >= 8


def test_some_customers_buy_on_several_channels():
    orders = load("orders.jsonl")
    channels_by = {}
    for o in orders:
        c = o["customer"]
        for key in (("email", c["email"]), ("phone", c["phone"]), ("name", c["name"])):
            if key[1]:
                channels_by.setdefault(key, set()).add(o["channel"])
    assert sum(1 for (kind, _), chs in channels_by.items() if kind == "email" and len(chs) > 1) >= 1
    assert sum(1 for (kind, _), chs in channels_by.items() if kind == "phone" and len(chs) > 1) >= 1
    assert sum(1 for (kind, _), chs in channels_by.items() if kind == "name" and len(chs) > 1) >= 5


# ----------------------------------------------------------------- tickets


def test_tickets_format_and_consistency():
    orders = by_id(load("orders.jsonl"), "order_id")
    tickets = load("tickets.jsonl")
    require(
        tickets,
        {"id", "channel", "customer", "subject", "body", "created_at", "locale", "tags", "status"},
        "tickets",
    )
    unique([t["id"] for t in tickets], "tickets")
    assert len(tickets) >= 110
    assert {t["channel"] for t in tickets} == CHANNELS
    for t in tickets:
        tid = t["id"]
        assert re.fullmatch(ISO_TS, t["created_at"]), tid
        assert t["locale"] in LOCALES, tid
        assert t["tags"] and set(t["tags"]) <= TAGS, tid
        assert t["status"] in {"open", "closed"}, tid
        if t["status"] == "closed":
            assert t.get("resolution"), tid
        assert t["customer"].get("email") and t["customer"].get("name"), tid
        if t["channel"] in MARKETPLACES:
            assert t.get("thread_id"), tid
        oid = t.get("order_id")
        if oid:
            assert oid in orders, (tid, oid)
            order = orders[oid]
            assert t["channel"] in (order["channel"], "email", "web"), tid
            if t["channel"] == order["channel"]:
                assert t["customer"]["email"] == order["customer"]["email"], tid
                assert t["customer"]["name"] == order["customer"]["name"], tid
    locales = Counter(t["locale"] for t in tickets)
    for loc in OTHER_LOCALES:
        assert locales[loc] >= 5, loc


def test_duplicate_pairs():
    tickets = by_id(load("tickets.jsonl"))
    pairs = load("duplicate_pairs.jsonl")
    require(pairs, {"a", "b", "duplicate"}, "duplicate_pairs")
    assert len(pairs) >= 90
    seen = set()
    for p in pairs:
        assert p["a"] in tickets and p["b"] in tickets, p
        assert p["a"] != p["b"], p
        assert isinstance(p["duplicate"], bool), p
        key = frozenset((p["a"], p["b"]))
        assert key not in seen, p
        seen.add(key)
    assert sum(p["duplicate"] for p in pairs) >= 30
    assert sum(not p["duplicate"] for p in pairs) >= 40
    # duplicates are an equivalence: no negative pair may sit inside one duplicate group
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        if p["duplicate"]:
            parent[find(p["a"])] = find(p["b"])
    for p in pairs:
        if not p["duplicate"]:
            assert find(p["a"]) != find(p["b"]), p
    # cross-channel re-contacts are present
    cross = [p for p in pairs if p["duplicate"] and tickets[p["a"]]["channel"] != tickets[p["b"]]["channel"]]
    assert len(cross) >= 15
    # hard negatives: same customer name on both sides
    same_person = [
        p
        for p in pairs
        if not p["duplicate"] and tickets[p["a"]]["customer"]["name"] == tickets[p["b"]]["customer"]["name"]
    ]
    assert len(same_person) >= 20


# ----------------------------------------------------------------- compliance


def test_compliance_cases():
    cases = load("compliance_cases.jsonl")
    require(cases, {"id", "channel", "text", "violations"}, "compliance_cases")
    unique([c["id"] for c in cases], "compliance_cases")
    assert len(cases) >= 130
    assert {c["channel"] for c in cases} == CHANNELS
    for c in cases:
        assert c["text"].strip(), c["id"]
        assert set(c["violations"]) <= RULES_BY_CHANNEL[c["channel"]], c["id"]
        assert len(set(c["violations"])) == len(c["violations"]), c["id"]
        if "emoji" in c["violations"]:
            assert EMOJI.search(c["text"]), c["id"]
        if c["channel"] == "amazon" and not c["violations"]:
            assert not EMOJI.search(c["text"]), c["id"]
    assert sum(1 for c in cases if not c["violations"]) >= 35
    codes = Counter(v for c in cases for v in c["violations"])
    assert set(codes) == RULES


# ----------------------------------------------------------------- drafts


def test_draft_requests():
    orders = by_id(load("orders.jsonl"), "order_id")
    reqs = load("draft_requests.jsonl")
    require(
        reqs,
        {"id", "channel", "order_id", "text", "locale", "expected_topics", "must_mention"},
        "draft_requests",
    )
    unique([r["id"] for r in reqs], "draft_requests")
    assert len(reqs) >= 35
    for r in reqs:
        order = orders[r["order_id"]]
        assert r["channel"] == order["channel"], r["id"]
        assert r["locale"] in LOCALES, r["id"]
        assert 1 <= len(r["expected_topics"]) <= 3 and set(r["expected_topics"]) <= TAGS, r["id"]
        facts = {order["order_id"]}
        if order.get("shipment"):
            facts |= {order["shipment"]["carrier"], order["shipment"]["tracking_number"]}
        if order.get("refund"):
            facts |= {order["refund"]["refund_id"], f"{order['refund']['amount']:.2f}"}
        assert r["must_mention"] and set(r["must_mention"]) <= facts, r["id"]
    assert sum(1 for r in reqs if len(r["expected_topics"]) >= 2) >= len(reqs) // 2
    locales = Counter(r["locale"] for r in reqs)
    for loc in OTHER_LOCALES:
        assert locales[loc] >= 1, loc


def test_source_file():
    text = (DEMO / "SOURCE.txt").read_text(encoding="utf-8")
    assert "MIT" in text and "fictional" in text and "original" in text


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_") and callable(fn):
            fn()
            print("ok", name)
