"""The storage clients read proxy settings from the environment once per host, and still
honour them: NO_PROXY hosts go direct, others through the proxy."""

from __future__ import annotations

import socket

import pytest
import requests

from shared.storage import clients
from shared.storage.clients import Storage
from shared.storage.connection import StorageAccount


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_proxy_settings_are_read_once_per_host_and_honoured(azurite, unique_name, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    reads: list[str] = []
    original = requests.sessions.get_environ_proxies

    def counting(url: str, no_proxy: str | None = None) -> dict:
        reads.append(url)
        return original(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counting)
    direct = Storage(StorageAccount.from_connection_string(azurite.connection_string))
    assert len(reads) == 2  # the lean requests' two pools (blob and table endpoints)
    reads.clear()
    container = direct.container(unique_name)
    for i in range(5):
        container.upload_blob(f"f{i}", b"x")
        assert container.download_blob(f"f{i}").readall() == b"x"
    assert len(reads) == 2  # eleven requests: once for those that stream, once for the rest

    port = azurite.ports["blob"]
    session = clients._Session()  # what the clients send through, asked for another host
    with pytest.raises(requests.exceptions.ProxyError):  # HTTP_PROXY applies there
        session.get(f"http://localhost:{port}/devstoreaccount1?comp=list", timeout=5)
    assert session.get(f"http://127.0.0.1:{port}/devstoreaccount1?comp=list",
                       timeout=5).status_code == 403  # direct (unsigned: refused, but served)
