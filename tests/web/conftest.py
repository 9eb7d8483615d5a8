"""The real server (uvicorn, real encoder, demo data) on a free 127.0.0.1 port, and the system Chromium."""

from __future__ import annotations

import fcntl
import json
import shutil
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "web"
CHROMIUM = Path("/usr/bin/chromium")
# axe-core from npm (package.json; scripts/test.sh runs `npm ci`), injected into the pages under test.
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# An article whose title is an XSS attempt: the pages must show it as text.
XSS_TITLE = '<img src=x onerror="window.__xss=1">Parcel insurance for fragile lamps'
XSS_ARTICLE = {
    "id": "kb-xss-probe",
    "title": XSS_TITLE,
    "locale": "en",
    "tags": ["other"],
    "body": "Fragile lamps ship with parcel insurance. <script>window.__xss=2</script> "
    "If the insured lamp arrives broken, the insurance covers a free replacement.",
}


@dataclass
class LiveServer:
    base_url: str
    keys: dict[str, str]
    settings: Any
    runtime: Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(data_dir: Path, port: int) -> Any:
    from core.settings import Settings

    return Settings(
        data_dir=data_dir,
        encoder="use+minilm",
        host="127.0.0.1",
        port=port,
        index_sync_seconds=0.5,
        rate_limit_public_per_minute=5000,
    )


def _demo_template(shared_root: Path) -> Path:
    """The demo shop's data folder (database, stored vectors, index snapshots), imported and indexed
    with the real model once per test run: the first xdist worker to need it builds it, under a lock,
    and every live server starts from a copy. Each worker building its own cost 80-100 s of 2 cores."""
    from cli.core import load_demo
    from kb import service as kb_service
    from kb.schemas import ArticleCreate
    from runtime import Runtime

    template = shared_root / "web-demo-template"
    with open(shared_root / "web-demo-template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (template / "ready").exists():
            shutil.rmtree(template, ignore_errors=True)  # a half-built one from a crashed worker
            settings = _settings(template / "var", _free_port())
            runtime = Runtime(settings)
            load_demo(runtime, settings.demo_tenant)
            with runtime.session() as session:
                kb_service.upsert(
                    session, tenant_id=settings.demo_tenant, article_in=ArticleCreate(**XSS_ARTICLE)
                )
            search = runtime.search
            for name in ("articles", "tickets"):
                search.collection(settings.demo_tenant, name)
                search.catch_up(settings.demo_tenant, name)
            search.flush_vectors()
            for tenant_id, name in search.loaded():
                search.save(tenant_id, name)
            runtime.close()
            (template / "ready").touch()
    return template / "var"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[LiveServer]:
    import uvicorn

    from api.app import create_app
    from api.security import set_allowed_origins
    from runtime import Runtime

    # xdist gives each worker a folder under one shared base; without xdist the base is ours alone.
    base = tmp_path_factory.getbasetemp()
    template = _demo_template(base if worker_id == "master" else base.parent)
    port = _free_port()
    data_dir = tmp_path_factory.mktemp("web") / "var"
    shutil.copytree(template, data_dir)
    settings = _settings(data_dir, port)
    runtime = Runtime(settings)
    keys: dict[str, str] = json.loads((data_dir / "demo_keys.json").read_text())
    with runtime.session() as session:  # the demo's own origin, as `deflect demo` sets it, on this port
        set_allowed_origins(session, tenant_id=settings.demo_tenant, origins=[f"http://127.0.0.1:{port}"])
    app = create_app(settings, runtime=runtime, warm_sync=True)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True, name="live-server")
    thread.start()
    url = f"http://127.0.0.1:{port}"
    # Generous: warm-up loads the real models and indexes the demo; on a loaded CI box that took > 180 s.
    deadline = time.monotonic() + 480
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        time.sleep(0.3)
    else:
        raise RuntimeError("the server did not become ready in 480 s")
    runtime.search.catch_up(settings.demo_tenant, "articles")
    yield LiveServer(base_url=url, keys=keys, settings=settings, runtime=runtime)
    server.should_exit = True
    thread.join(timeout=15)
    runtime.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("system Chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def new_page(browser: Any, base_url: str, viewport: dict[str, int] = DESKTOP) -> Any:
    """A page in its own context that records uncaught script errors and console warnings."""
    context = browser.new_context(viewport=viewport, base_url=base_url)
    # Waits are for events, not deadlines: on a loaded 2-core CI box a first search (model warm-up)
    # took over Playwright's 30 s default, and a draft at load 17 over 60 s. A real hang still fails,
    # after 180 s.
    context.set_default_timeout(180_000)
    pg = context.new_page()
    pg.errors = []
    pg.warnings = []
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    pg.on("console", lambda msg: pg.warnings.append(msg.text) if msg.type == "warning" else None)
    return pg


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    pg = new_page(browser, live_server.base_url)
    yield pg
    pg.context.close()


def sign_in(page: Any, server: LiveServer) -> None:
    page.fill("#agent-key", server.keys["agent"])
    page.click("#keybox button[type=submit]")


def axe_problems(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now (empty = none)."""
    if not AXE.exists():
        pytest.skip("axe-core not installed: run `npm ci` (scripts/test.sh does)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # The pages' CSP (script-src 'self') blocks an injected <script> tag, and it should:
        # evaluating the source through the DevTools protocol runs it without weakening the CSP.
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def layout_problems(page: Any, primary: str) -> list[str]:
    """No sideways scrolling, and the page's primary action lies inside the viewport's width."""
    problems = []
    width = page.viewport_size["width"]
    scroll = page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
    if scroll > width:
        problems.append(f"the page scrolls sideways: {scroll} px wide in a {width} px viewport")
    box = page.locator(primary).first.bounding_box()
    if box is None:
        problems.append(f"{primary} is not visible")
    elif box["x"] < 0 or box["x"] + box["width"] > width:
        problems.append(f"{primary} spans {box['x']:.0f}-{box['x'] + box['width']:.0f} px of {width} px")
    return problems


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def api_get(server: LiveServer, path: str, role: str = "agent") -> Any:
    request = urllib.request.Request(server.base_url + path, headers={"X-API-Key": server.keys[role]})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read().decode()
    return (
        json.loads(body) if response.headers.get("content-type", "").startswith("application/json") else body
    )
