"""Notifications (10.0, docs/notifications.md): dispatcher events are POSTed as JSON to every
notifyURL with its notifyUserAgent and Basic or Digest credentials; redirects are followed only
with notifyRedirect Yes. The primary set is changed here over HTTP (docs/dispatcher-http.md);
tests/sip/test_dispatcher.py sees the same event after a real failover."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests

from tests.render.kamailio_helpers import MariaDB, wait_for
from tests.sip.harness import PRIV, Lab, NotifyServer, Ports, genesis_subscribers, start_lab

A1 = "127.0.0.11"
EVENT_FIELDS = {"source", "event", "system", "node", "time", "set", "primary"}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, sip_mariadb: MariaDB,
        notify_server: NotifyServer) -> Iterator[Lab]:
    ports = Ports()
    credentials = {"notifyUser": NotifyServer.USER, "notifyPassword": NotifyServer.PASSWORD}
    notifies = [
        {"notifyURL": notify_server.url("/basic/n"), "notifyUserAgent": "Genesis Proxy Test",
         **credentials},
        {"notifyURL": notify_server.url("/digest/n"), **credentials},
        {"notifyURL": notify_server.url("/redirect/yes"), "notifyRedirect": "Yes"},
        # a URL without a scheme is http (10.2.1)
        {"notifyURL": notify_server.url("/redirect/no").removeprefix("http://"),
         "notifyRedirect": "No"},
    ]
    started = start_lab(tmp_path_factory.mktemp("notify"), sip_mariadb,
                        {"dispatchListenSock": f"{PRIV}:{ports.http}"},
                        {"subscribers": genesis_subscribers("genesis_a-1"),
                         "notifies": notifies}, ports,
                        expected_errors=r"notification dispatcher\.\S+ to notify4 failed: 307")
    try:
        yield started
    finally:
        started.stop()


def test_primary_set_change_is_posted_to_every_destination(lab: Lab,
                                                           notify_server: NotifyServer) -> None:
    genesis = lab.endpoint("A1", A1, "genesis_a-1")
    url = lab.proxy.http + "/dispatcher"
    begin = time.time()
    assert requests.post(url, json={"primary": 0}, timeout=5).json()["primary"] == 0
    assert requests.post(url, json={"primary": 1}, timeout=5).json()["primary"] == 1

    def changes(prefix: str) -> list[tuple[int, int]]:
        return [(item["set"], item["primary"])
                for item in notify_server.events(prefix, "dispatcher.primary-changed")]

    for prefix in ("/basic/n", "/digest/n", "/moved/yes"):
        wait_for(lambda prefix=prefix: changes(prefix) == [(0, 0), (1, 1)], timeout=6,
                 what=f"both changes at {prefix}: {changes(prefix)}")

    # the document (docs/notifications.md)
    added = notify_server.events("/basic/n", "dispatcher.dst-added")
    assert [item["destination"] for item in added] == [genesis.uri]
    for item in notify_server.events("/basic/n"):
        assert set(item) >= EVENT_FIELDS, item
        assert (item["source"], item["system"]) == ("genproxy", "siptest")
        assert item["node"] == socket.gethostname().split(".")[0]
        assert begin - 5 <= item["time"] <= time.time() + 1

    # user agent and credentials: Basic, Digest (the first try goes without, 10.2.3)
    received = [item for item in notify_server.received if item.path.startswith("/basic/n")]
    assert all(item.method == "POST" and item.headers["User-Agent"] == "Genesis Proxy Test"
               and item.headers["Authorization"].startswith("Basic ")
               and item.headers["Content-Type"] == "application/json" for item in received)
    assert any(item.path == "/basic/n" and "Authorization" not in item.headers
               for item in notify_server.attempts)
    received = [item for item in notify_server.received if item.path.startswith("/digest/n")]
    assert received and all(item.headers["User-Agent"] == "Genesis Proxy"
                            and item.headers["Authorization"].startswith("Digest ")
                            for item in received)

    # notifyRedirect: Yes followed the 307 with the same POST; No stopped at it
    moved = [item for item in notify_server.received if item.path == "/moved/yes"]
    assert moved and all(item.method == "POST" and item.body for item in moved)
    assert [item for item in notify_server.attempts if item.path == "/redirect/no"]
    assert not [item for item in notify_server.attempts if item.path == "/moved/no"]
    assert "notification dispatcher.primary-changed to notify4 failed: 307" in lab.proxy.log()
    assert not lab.proxy.problems(), lab.proxy.problems()
