"""`deflect serve` keeps idle client connections open for DEFLECT_KEEP_ALIVE_SECONDS, not uvicorn's 5 s."""

from __future__ import annotations

import http.client
import socket
import time
from pathlib import Path

from tests.reliability.procs import Server, deflect_env


def _get_healthz(connection: http.client.HTTPConnection) -> int:
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    response.read()
    return response.status


def _server_closed(connection: http.client.HTTPConnection) -> bool:
    sock = connection.sock
    assert isinstance(sock, socket.socket)
    sock.settimeout(0.5)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False


def test_an_idle_connection_lives_as_long_as_the_setting_says(tmp_path: Path) -> None:
    # With uvicorn's default (5 s, the same as httpx's pool expiry) a busy server closed a connection
    # just as the client reused it: an agent's draft failed with a ReadError in the load test.
    # Both servers here wait 2 s idle; only the one set to 1 s may have closed the connection.
    short = Server(deflect_env(tmp_path / "short", DEFLECT_KEEP_ALIVE_SECONDS="1"))
    default = Server(deflect_env(tmp_path / "default"))
    try:
        short.wait_ready()
        default.wait_ready()
        connections = {
            name: http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            for name, server in (("short", short), ("default", default))
        }
        assert {name: _get_healthz(c) for name, c in connections.items()} == {"short": 200, "default": 200}
        time.sleep(2.0)
        assert _server_closed(connections["short"])
        assert not _server_closed(connections["default"])
        connections["default"].sock.settimeout(10)  # type: ignore[union-attr]
        assert _get_healthz(connections["default"]) == 200
        for connection in connections.values():
            connection.close()
    finally:
        short.stop()
        default.stop()
