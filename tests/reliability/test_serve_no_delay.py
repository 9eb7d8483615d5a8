"""`deflect serve --workers N` answers without waiting on the client's delayed ACK: the socket its
workers share has Nagle's algorithm off, and every accepted connection inherits that (Linux)."""

from __future__ import annotations

import socket

import pytest

from cli.serving import NoDelayConfig


def test_the_shared_socket_and_its_connections_have_nagle_off() -> None:
    config = NoDelayConfig("api.app:create_app", factory=True, workers=2, host="127.0.0.1", port=0)
    listener = config.bind_socket()
    try:
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        listener.listen(1)
        client = socket.create_connection(listener.getsockname()[:2], timeout=5)
        accepted, _ = listener.accept()
        try:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            accepted.close()
            client.close()
    finally:
        listener.close()


def test_plain_uvicorn_leaves_nagle_on_for_workers_which_is_why_the_config_exists() -> None:
    # If uvicorn starts setting the option itself, NoDelayConfig can go.
    import uvicorn

    listener = uvicorn.Config("api.app:create_app", workers=2, host="127.0.0.1", port=0).bind_socket()
    try:
        if listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0:
            pytest.fail(
                "uvicorn now sets TCP_NODELAY on the workers' socket: delete cli/serving.NoDelayConfig"
            )
    finally:
        listener.close()
