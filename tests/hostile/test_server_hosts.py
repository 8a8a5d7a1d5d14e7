"""The dashboard's HTTP edge against hostile requests: Host checks, methods, headers.

Requests are written by hand on a raw socket (an HTTP client would fix a missing Host or an
absolute-form target for us) and go only to 127.0.0.1, also when the server listens on
every interface (0.0.0.0): a DNS-rebinding page reaches the dashboard under its own name,
so the ``Host`` header is checked however the server is bound.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mlscope.cli import main
from mlscope.server import create_server
from mlscope.server.app import DashboardServer
from mlscope.store import Store

SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options",
                    "referrer-policy")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with Store.open(tmp_path_factory.mktemp("hosts") / "store.sqlite") as s:
        yield s


@contextmanager
def serving(store: Store, host: str, **kw: Any) -> Iterator[DashboardServer]:
    server = create_server(store, host=host, port=0, **kw)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def raw(server: DashboardServer, head: str) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` (the request line and headers, ``\\r\\n`` added) to 127.0.0.1 and read
    the whole answer; the connection is closed by a ``Connection: close`` header."""
    port = server.server_address[1]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall((head + "\r\nConnection: close\r\n\r\n").encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    top, _, body = data.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def get(server: DashboardServer, host: str | None, target: str = "/healthz") -> int:
    head = f"GET {target} HTTP/1.1" + (f"\r\nHost: {host}" if host is not None else "")
    return raw(server, head)[0]


@pytest.mark.parametrize("bind", ["127.0.0.1", "0.0.0.0"])
def test_foreign_and_missing_host_headers_are_refused(store: Store, bind: str) -> None:
    with serving(store, bind) as server:
        port = server.server_address[1]
        assert get(server, "localhost") == 200
        assert get(server, f"127.0.0.1:{port}") == 200
        assert get(server, f"[::1]:{port}") == 200
        assert get(server, "evil.example") == 400
        assert get(server, f"evil.example:{port}") == 400
        assert get(server, "localhost.evil.example") == 400
        assert get(server, "") == 400
        assert get(server, None) == 400
        assert raw(server, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nHost: evil.example"
                   )[0] == 400


def test_a_wildcard_bind_answers_to_the_machines_own_names(store: Store) -> None:
    with serving(store, "0.0.0.0") as server:
        assert get(server, socket.gethostname()) == 200
        assert get(server, socket.getfqdn()) == 200
        assert server.allowed_hosts is not None
        assert "evil.example" not in server.allowed_hosts


@pytest.mark.parametrize("bind", ["127.0.0.1", "0.0.0.0"])
def test_absolute_form_targets_are_refused(store: Store, bind: str) -> None:
    with serving(store, bind) as server:
        assert get(server, "localhost", "http://evil.example/healthz") == 400
        assert get(server, "localhost", "http://localhost/healthz") == 400
        assert get(server, "localhost", "*") == 400


def test_allow_host_adds_names(store: Store) -> None:
    with serving(store, "0.0.0.0", allow_hosts=["Dash.Example.org"]) as server:
        assert get(server, "dash.example.org") == 200
        assert get(server, "dash.example.org:8080") == 200
        assert get(server, "evil.example") == 400
    with serving(store, "127.0.0.1", allow_hosts=["tunnel.example"]) as server:
        assert get(server, "tunnel.example") == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE",
                                    "CONNECT", "PROPFIND", "BREW"])
def test_other_methods_are_405_with_the_security_headers(store: Store, method: str) -> None:
    with serving(store, "127.0.0.1") as server:
        status, headers, _ = raw(server, f"{method} /healthz HTTP/1.1\r\nHost: localhost")
        assert status == 405
        assert headers["allow"] == "GET, HEAD"
        for name in SECURITY_HEADERS:
            assert headers.get(name), (method, name)


def test_every_answer_has_the_security_headers_and_no_version(store: Store) -> None:
    with serving(store, "127.0.0.1") as server:
        for head in ("GET / HTTP/1.1\r\nHost: localhost",
                     "HEAD /healthz HTTP/1.1\r\nHost: localhost",
                     "GET /nope HTTP/1.1\r\nHost: localhost",
                     "GET / HTTP/1.1\r\nHost: evil.example",
                     "GET / HTTP/9.9\r\nHost: localhost"):
            status, headers, body = raw(server, head)
            for name in SECURITY_HEADERS:
                assert headers.get(name), (head, name)
            assert headers["x-frame-options"] == "DENY"
            assert headers["server"] == "mlscope", headers["server"]
            assert "Python" not in str(headers)
        status, headers, body = raw(server, "HEAD /healthz HTTP/1.1\r\nHost: localhost")
        assert status == 200
        assert body == b""


def _store_folder(tmp_path: Path) -> Path:
    Store.open(tmp_path / ".mlscope" / "store.sqlite").close()
    return tmp_path


def test_serve_on_a_bad_host_blames_the_host(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["serve", str(_store_folder(tmp_path)),
                                  "--host", "999.1.1.1", "--port", "0"])
    assert r.exit_code == 2, r.output
    assert "--host 999.1.1.1 is not an address of this machine" in r.output
    assert "127.0.0.1" in r.output
    assert "--port" not in r.output


def test_serve_on_a_busy_port_blames_the_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = CliRunner().invoke(main, ["serve", str(_store_folder(tmp_path)),
                                      "--host", "127.0.0.1", "--port", str(port)])
    assert r.exit_code == 2, r.output
    assert f"port {port}" in r.output
    assert "is in use" in r.output
    assert "--port" in r.output


def test_serve_passes_allow_host_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake(store: Store, **kw: Any) -> None:
        seen.update(kw)

    monkeypatch.setattr("mlscope.server.serve", fake)
    r = CliRunner().invoke(main, ["serve", str(_store_folder(tmp_path)), "--host", "0.0.0.0",
                                  "--allow-host", "a.example", "--allow-host", "B.example"])
    assert r.exit_code == 0, r.output
    assert seen["allow_hosts"] == ("a.example", "B.example")
    bad = CliRunner().invoke(main, ["serve", str(_store_folder(tmp_path)),
                                    "--allow-host", "a b/c"])
    assert bad.exit_code == 2
    assert "--allow-host" in bad.output
