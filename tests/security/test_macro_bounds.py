"""A tenant admin's macro cannot stall the shared server: bounded render time, memory, numbers and output,
refused at save time, and a stored one that misbehaves costs one worker for one second, not the server."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from replies import macros, sandbox
from replies.models import Macro, MacroVersion
from runtime import Runtime
from tests.conftest import TenantKeys

NESTED_LOOPS = (
    "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
    "{% endfor %}{% endfor %}{% endfor %}Hello {{ customer_name }}"
)
# Lists built without range(): strings of bounded length, looped over in three levels.
STRING_LOOPS = (
    "{% for a in 'x' * 1000 %}{% for b in 'x' * 1000 %}{% for c in 'x' * 1000 %}"
    "{% endfor %}{% endfor %}{% endfor %}"
)
STALLING = {
    "nested loops": NESTED_LOOPS,
    "loops over strings": STRING_LOOPS,
    "huge power": "{{ 9 ** 9 ** 9 }}",
    "huge power of a fact": "{{ (order_id | length) ** 100000 }}",
    "huge product": "{{ 99999999999999999999999 * 99999999999999999999999999 * 999999999999999999999 }}",
    "large string product": "{{ 'x' * 1000000000 }}",
    "large padding": "{{ order_id | center(1000000000) }}",
    "large range": "{{ range(100000000) | list | length }}",
    "long output": "{% for i in range(999) %}{{ 'y' * 100 }}{% endfor %}",
    "recursion": "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
}


@pytest.mark.parametrize("body", STALLING.values(), ids=STALLING.keys())
def test_stalling_macros_are_refused_at_save_time(client: TestClient, tenant: TenantKeys, body: str) -> None:
    response = client.put("/v1/macros/tracking/*/en", json={"body": body}, headers=tenant.headers("admin"))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] in ("macro_render_error", "invalid_input")


def test_an_ordinary_macro_saves(client: TestClient, tenant: TenantKeys) -> None:
    body = "Hello {{ customer_name }}, {{ 'parcel' * 2 }} {% for i in range(3) %}{{ i }}{% endfor %}"
    response = client.put("/v1/macros/tracking/*/en", json={"body": body}, headers=tenant.headers("admin"))
    assert response.status_code == 201, response.text


def test_a_stored_stalling_macro_fails_its_render_and_the_next_render_works(runtime: Runtime) -> None:
    # A macro saved before these limits existed: written straight into the table.
    with runtime.session() as session:
        macros.ensure_seeded(session, tenant_id="t")
        macro = session.scalar(
            select(Macro).where(
                Macro.tenant_id == "t", Macro.key == "tracking", Macro.channel == "*", Macro.locale == "en"
            )
        )
        assert macro is not None
        macro.current_version += 1
        session.add(
            MacroVersion(
                tenant_id="t",
                macro_id=macro.id,
                version=macro.current_version,
                body=NESTED_LOOPS,
                created_by="old",
            )
        )
    with runtime.session() as session, pytest.raises(macros.MacroRenderError, match="longer than"):
        macros.render_macro(
            session, tenant_id="t", key="tracking", channel="*", locale="en", variables={"customer_name": "A"}
        )
    # Its worker was replaced; rendering goes on.
    assert macros.render_body("Hello {{ customer_name }}", {"customer_name": "Ana"}) == "Hello Ana"


def test_ordinary_arithmetic_and_facts_still_render() -> None:
    body = (
        "{{ customer_name }}: {{ (refund_amount * 2) | round(2) }} {{ 2 ** 10 }} {{ 'ab' * 3 }} "
        "{{ range(3) | list }}"
    )
    assert (
        macros.render_body(body, {"customer_name": "Ana", "refund_amount": 12.5})
        == "Ana: 25.0 1024 ababab [0, 1, 2]"
    )


def test_the_worker_has_a_memory_cap() -> None:
    status, message, _ = sandbox.render("{{ 'x' | center(900000000) }}", {})
    assert (status, message) == ("failed", "macro needs too much memory")
