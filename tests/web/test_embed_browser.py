"""A seller's page on another origin embeds the widget with the README's snippet, in the system Chromium."""

from __future__ import annotations

import functools
import json
import re
import threading
import urllib.request
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.web.conftest import PHONE, ROOT, LiveServer, axe_problems, layout_problems, new_page, shot

pytestmark = pytest.mark.browser

README = (ROOT / "README.md").read_text(encoding="utf-8")
SHOP_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Plain Shop</title></head>
<body><main><h1>Plain Shop</h1><p>Lamps, linen and pans.</p>
{snippet}
</main></body></html>"""


def readme_snippet(server: LiveServer) -> str:
    """The README's embed snippet with this server's address and the demo's public key filled in."""
    block = re.search(r"<!-- embed-snippet:start -->\s*```html\n(.*?)```", README, re.S)
    assert block is not None, "README lost its embed snippet"
    snippet = "\n".join(line.strip() for line in block.group(1).splitlines())
    assert "https://help.example.com" in snippet and "PUBLIC_KEY" in snippet
    return snippet.replace("https://help.example.com", server.base_url).replace(
        "PUBLIC_KEY", server.keys["public"]
    )


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain static site on its own 127.0.0.1 port: another origin than the Deflect server."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()
    server.server_close()


def _set_origins(server: LiveServer, origins: list[str]) -> None:
    """The README's second way: PUT /v1/tenant/origins with the admin key."""
    request = urllib.request.Request(
        server.base_url + "/v1/tenant/origins",
        data=json.dumps({"origins": origins}).encode(),
        method="PUT",
        headers={"X-API-Key": server.keys["admin"], "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


@pytest.fixture
def own_origins(live_server: LiveServer) -> Iterator[list[str]]:
    request = urllib.request.Request(
        live_server.base_url + "/v1/tenant/origins", headers={"X-API-Key": live_server.keys["admin"]}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        before: list[str] = json.loads(response.read())["origins"]
    yield before
    _set_origins(live_server, before)


def test_allowed_origin_searches_and_opens_absolute_article_links(
    browser: Any, live_server: LiveServer, shop: tuple[str, Path], own_origins: list[str]
) -> None:
    origin, folder = shop
    (folder / "index.html").write_text(SHOP_PAGE.format(snippet=readme_snippet(live_server)))
    _set_origins(live_server, own_origins + [origin])
    page = new_page(browser, origin)
    asked: list[str] = []
    page.on(
        "request",
        lambda r: (
            asked.append(r.post_data or "") if r.method == "POST" and r.url.endswith("/v1/suggest") else None
        ),
    )
    page.goto("/index.html")
    box = page.get_by_role("combobox")
    box.click()
    query = "where is my parcel, it is late"
    box.press_sequentially(query, delay=20)
    page.wait_for_selector(".dfw-option")
    # A pause-triggered search, not one per keystroke; retyping the same text asks nothing new.
    assert 1 <= len(asked) <= 3, asked
    box.fill("")
    box.press_sequentially(query, delay=5)
    page.wait_for_selector(".dfw-option")
    page.wait_for_timeout(600)
    assert len([a for a in asked if json.loads(a)["query"] == query]) == 1, asked
    box.press("ArrowDown")
    box.press("Enter")
    link = page.locator(".dfw-open")
    link.wait_for()
    href = link.get_attribute("href")
    assert href is not None and href.startswith(live_server.base_url + "/help/articles/")
    link.click()
    page.wait_for_url(live_server.base_url + "/help/articles/**")
    assert page.locator("article h1").count() == 1
    assert page.warnings == [] and page.errors == []
    page.context.close()


def test_enter_without_a_choice_opens_the_results_page(
    browser: Any, live_server: LiveServer, shop: tuple[str, Path], own_origins: list[str]
) -> None:
    origin, folder = shop
    (folder / "index.html").write_text(SHOP_PAGE.format(snippet=readme_snippet(live_server)))
    _set_origins(live_server, own_origins + [origin])
    page = new_page(browser, origin, PHONE)
    page.goto("/index.html")
    box = page.get_by_role("combobox")
    box.click()
    box.press_sequentially("return an item", delay=20)
    box.press("Enter")
    page.wait_for_url(live_server.base_url + "/help/search?**")
    assert page.locator(".result").count() >= 1
    assert page.get_by_role("searchbox").input_value() == "return an item"
    page.context.close()


def test_blocked_origin_warns_the_seller_in_the_console(
    browser: Any, live_server: LiveServer, shop: tuple[str, Path], own_origins: list[str]
) -> None:
    origin, folder = shop
    (folder / "index.html").write_text(SHOP_PAGE.format(snippet=readme_snippet(live_server)))
    assert origin not in own_origins
    page = new_page(browser, origin)
    page.goto("/index.html")
    box = page.get_by_role("combobox")
    box.click()
    box.press_sequentially("where is my parcel", delay=20)
    page.wait_for_function("document.querySelector('.dfw-status').textContent.includes('unavailable')")
    page.wait_for_function("document.querySelector('.dfw-status a') !== null")
    warning = next((w for w in _wait_for_warning(page) if "Deflect widget" in w), "")
    assert origin in warning and "--origin " + origin in warning and "/v1/tenant/origins" in warning
    assert page.locator(".dfw-status a").get_attribute("href") == live_server.base_url + "/contact?lang=en"
    page.context.close()


def _wait_for_warning(page: Any) -> list[str]:
    for _ in range(50):
        if any("Deflect widget" in w for w in page.warnings):
            break
        page.wait_for_timeout(100)
    return list(page.warnings)


def test_floating_launcher_searches_then_sends_one_ticket(
    browser: Any, live_server: LiveServer, shop: tuple[str, Path], own_origins: list[str]
) -> None:
    from history.models import Ticket

    origin, folder = shop
    snippet = re.sub(r'\s*data-target="[^"]*"', "", readme_snippet(live_server)).replace(
        "<script ", '<script data-launcher="true" '
    )
    snippet = snippet.replace('<div id="deflect-search"></div>', "")
    (folder / "index.html").write_text(SHOP_PAGE.format(snippet=snippet))
    _set_origins(live_server, own_origins + [origin])
    page = new_page(browser, origin, PHONE)
    page.goto("/index.html")
    launcher = page.get_by_role("button", name="Help")
    assert layout_problems(page, ".dfw-fab") == []
    launcher.click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert page.evaluate("document.activeElement.getAttribute('role')") == "combobox"
    page.get_by_role("combobox").press_sequentially("my lamp arrived broken", delay=20)
    page.wait_for_selector(".dfw-option, .dfw-status a")
    dialog.get_by_role("button", name="Still need help?").click()
    form = page.locator(".dfw-form")
    form.get_by_role("button", name="I still need help").click()
    assert page.evaluate("document.activeElement.tagName") == "SELECT"
    assert form.locator("[aria-invalid=true]").count() == 2  # topic and e-mail; the message came along
    form.get_by_label("Topic").select_option("damaged")
    form.get_by_label("E-mail").fill("lamp.owner@example.com")
    shot(page, "embed-launcher-form-390")
    assert axe_problems(page) == []
    form.get_by_role("button", name="I still need help").dblclick()
    page.wait_for_selector(".dfw-form[data-submitted]")
    ticket_id = page.locator(".dfw-form").get_attribute("data-submitted")
    with live_server.runtime.session() as session:
        count = session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(
                Ticket.tenant_id == live_server.settings.demo_tenant, Ticket.body == "my lamp arrived broken"
            )
        )
        assert count == 1
    assert ticket_id and ticket_id.startswith("web-")
    page.keyboard.press("Escape")
    assert dialog.is_hidden()
    assert page.errors == []
    page.context.close()
