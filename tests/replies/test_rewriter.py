"""The rewriter against a tiny OpenAI-compatible server on 127.0.0.1 that this test starts."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.settings import Settings
from replies.drafts import compose
from replies.schemas import DraftCreate
from runtime import Runtime

Rewrite = Callable[[str], str]


class _Server:
    def __init__(self) -> None:
        self.rewrite: Rewrite = lambda text: text
        self.requests: list[dict[str, object]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                outer.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("authorization")}
                )
                content = outer.rewrite(body["messages"][-1]["content"])
                payload = json.dumps(
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                    }
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


@pytest.fixture
def llm() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    server.httpd.shutdown()
    thread.join(timeout=5)


TEXT = "Where is my lamp from order 113-4455667-1234567?"


def _draft(runtime: Runtime, shop: str, settings: Settings):  # type: ignore[no-untyped-def]
    with runtime.session() as session:
        return compose(
            session,
            tenant_id=shop,
            request=DraftCreate(text=TEXT, channel="amazon", locale="en"),
            settings=settings,
        )


@pytest.fixture
def rewriting(settings: Settings, llm: _Server) -> Settings:
    return settings.model_copy(update={"rewriter_url": llm.url, "rewriter_api_key": "k-test"})


def test_rewrite_that_keeps_every_fact_is_accepted(
    runtime: Runtime, shop: str, rewriting: Settings, llm: _Server
) -> None:
    llm.rewrite = lambda text: text.replace(
        "Thank you for your message.", "Thanks so much for getting in touch."
    )
    draft = _draft(runtime, shop, rewriting)
    assert draft.rewrite.accepted and "Thanks so much" in draft.reply
    assert llm.requests[0]["path"] == "/v1/chat/completions" and llm.requests[0]["auth"] == "Bearer k-test"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda t: t.replace("00340434190012877645", "the number on the carrier site"), "dropped facts"),
        (lambda t: t.replace("DHL", "DHL (or UPS)"), "unsupported facts"),
        (lambda t: t + "\nA 5-star review would mean a lot to us!", "unsupported facts"),
        (lambda t: t + "\nPlease leave us a positive review!", "review_manipulation"),
        (lambda t: t + "\nWrite to help@shop.example for faster help.", "email_address"),
        (lambda t: "", "empty"),
    ],
)
def test_rewrite_that_loses_a_fact_or_breaks_rules_is_refused(
    runtime: Runtime,
    shop: str,
    rewriting: Settings,
    llm: _Server,
    change: Rewrite,
    reason: str,
) -> None:
    llm.rewrite = change
    draft = _draft(runtime, shop, rewriting)
    assert not draft.rewrite.accepted and reason in draft.rewrite.reason
    assert "00340434190012877645" in draft.reply and "DHL" in draft.reply and "review" not in draft.reply


def test_unreachable_rewriter_returns_the_draft(runtime: Runtime, shop: str, settings: Settings) -> None:
    draft = _draft(
        runtime,
        shop,
        settings.model_copy(
            update={"rewriter_url": "http://127.0.0.1:9/v1", "rewriter_timeout_seconds": 1.0}
        ),
    )
    assert draft.rewrite.attempted and not draft.rewrite.accepted and "unavailable" in draft.rewrite.reason
    assert "00340434190012877645" in draft.reply


def test_rewriter_is_off_by_default(runtime: Runtime, shop: str, settings: Settings) -> None:
    assert settings.rewriter_url is None
    assert not _draft(runtime, shop, settings).rewrite.attempted
