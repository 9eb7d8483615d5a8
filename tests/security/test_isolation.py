"""Two tenants with near-identical data: nothing of one ever reaches the other (hypothesis)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from core.settings import Settings
from kb import service as kb_service
from kb.schemas import ArticleCreate
from runtime import Runtime
from tests.conftest import TenantKeys, make_tenant
from tests.support.encoders import hashing_encoders

TOPICS = [
    ("track", "Where is my parcel", "Track your parcel with the tracking number from the shipping e-mail."),
    ("return", "Return an item", "Print the return label and drop the parcel at any carrier point."),
    (
        "refund",
        "Refund status",
        "Refunds reach your card within five business days after we receive the return.",
    ),
    ("cancel", "Cancel an order", "Orders can be cancelled until they ship; after that, send a return."),
    ("damaged", "Damaged in transit", "Send a photo of the damaged item and the box; we replace it at once."),
    (
        "invoice",
        "Invoice request",
        "Download the invoice from your account or ask us to e-mail a VAT invoice.",
    ),
]
VOCABULARY = sorted(
    {w.lower().strip(".,;") for _, title, body in TOPICS for w in (title + " " + body).split()}
)
MARKERS = {"alpha": "alphashop", "beta": "betastore"}


def _articles(tenant: str) -> list[ArticleCreate]:
    marker = MARKERS[tenant]
    # Same ids, same text but for one word: a leak would rank the other tenant's twin equally high.
    shared = [
        ArticleCreate(
            id=f"kb-{slug}",
            title=f"{title} {marker}",
            body=f"{body} {marker}",
            channels=["web", "amazon"] if i % 2 else [],
            url=f"https://{marker}.example/{slug}",
        )
        for i, (slug, title, body) in enumerate(TOPICS)
    ]
    own = ArticleCreate(
        id=f"only-{tenant}", title=f"Gift cards {marker}", body=f"Gift cards at {marker} never expire."
    )
    return [*shared, own]


@dataclass
class World:
    client: TestClient
    runtime: Runtime
    tenants: dict[str, TenantKeys]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("iso") / "var",
        index_sync_seconds=0.2,
        default_abstain_threshold=-1.0,
        rate_limit_public_per_minute=1_000_000,
        rate_limit_per_minute=1_000_000,
        rate_limit_ip_per_minute=1_000_000,
    )
    runtime = Runtime(settings, encoders=hashing_encoders)
    runtime.migrate()
    tenants = {name: make_tenant(runtime, name) for name in MARKERS}
    with runtime.session() as session:
        for name in MARKERS:
            kb_service.import_articles(session, tenant_id=name, articles=_articles(name), file="test")
    app = create_app(settings, runtime=runtime, warm_sync=True)
    with TestClient(app) as client:
        for name in MARKERS:
            runtime.search.catch_up(name, "articles")
        yield World(client=client, runtime=runtime, tenants=tenants)
    runtime.close()


queries = st.one_of(
    st.lists(st.sampled_from(VOCABULARY + ["alphashop", "betastore", "gift"]), min_size=1, max_size=8).map(
        " ".join
    ),
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=60
    ).filter(lambda s: s.strip()),
)


def _other(name: str) -> str:
    return "beta" if name == "alpha" else "alpha"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    query=queries,
    tenant=st.sampled_from(sorted(MARKERS)),
    top_k=st.integers(1, 20),
    channel=st.sampled_from([None, "web", "amazon", "ebay"]),
)
def test_suggest_never_returns_another_tenants_article(
    world: World, query: str, tenant: str, top_k: int, channel: str | None
) -> None:
    body = {"query": query, "top_k": top_k, **({"channel": channel} if channel else {})}
    response = world.client.post("/v1/suggest", json=body, headers=world.tenants[tenant].headers("public"))
    assert response.status_code == 200, response.text
    other_marker = MARKERS[_other(tenant)]
    for suggestion in response.json()["suggestions"]:
        assert other_marker not in suggestion["title"] + suggestion["snippet"] + (suggestion["url"] or "")
        assert suggestion["id"] != f"only-{_other(tenant)}"
        assert MARKERS[tenant] in suggestion["title"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    query=queries, tenant=st.sampled_from(sorted(MARKERS)), mode=st.sampled_from(["hybrid", "dense", "bm25"])
)
def test_index_search_stays_inside_the_tenant(world: World, query: str, tenant: str, mode: str) -> None:
    search = world.runtime.search
    collection = search.collection(tenant, "articles")
    hits = collection.search(query, search.encode_query(query), top_k=50, mode=mode)  # type: ignore[arg-type]
    other_ids = set(search.collection(_other(tenant), "articles").items)
    assert not {h.item.item_id for h in hits} & other_ids
    assert all(MARKERS[tenant] in h.item.text for h in hits)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tenant=st.sampled_from(sorted(MARKERS)),
    article=st.sampled_from([f"kb-{t[0]}" for t in TOPICS] + ["only-alpha", "only-beta"]),
)
def test_article_reads_are_scoped_to_the_key(world: World, tenant: str, article: str) -> None:
    response = world.client.get(f"/v1/articles/{article}", headers=world.tenants[tenant].headers("public"))
    if article == f"only-{_other(tenant)}":
        assert response.status_code == 404
    else:
        assert response.status_code == 200
        assert MARKERS[tenant] in response.json()["title"]
    listing = world.client.get(
        "/v1/articles?limit=200", headers=world.tenants[tenant].headers("public")
    ).json()
    assert {a["id"] for a in listing["items"]} == {a.id for a in _articles(tenant)}


def test_writes_through_one_tenants_key_never_touch_the_other(world: World) -> None:
    alpha, beta = world.tenants["alpha"], world.tenants["beta"]
    patched = world.client.patch(
        "/v1/articles/kb-track",
        json={"title": "Parcel tracking alphashop v2"},
        headers=alpha.headers("admin"),
    )
    assert patched.status_code == 200
    assert world.client.get("/v1/articles/kb-track", headers=beta.headers("public")).json()["title"] == (
        "Where is my parcel betastore"
    )
    assert world.client.delete("/v1/articles/only-beta", headers=alpha.headers("admin")).status_code == 404
    assert world.client.get("/v1/articles/only-beta", headers=beta.headers("public")).status_code == 200


def test_the_properties_are_not_vacuous(world: World) -> None:
    """The twin articles really compete: each tenant finds its own copy for the same query."""
    for name, keys in world.tenants.items():
        result = world.client.post(
            "/v1/suggest", json={"query": "track my parcel tracking number"}, headers=keys.headers("public")
        ).json()
        assert result["suggestions"], result
        assert result["suggestions"][0]["id"] == "kb-track"
        assert MARKERS[name] in result["suggestions"][0]["title"]
