"""Genesis failover (1.2.1, 7.1.16-7.1.19): the backup set only when every primary system
failed; astPersistentFailover Yes (the sets swap and stay swapped) and No (back to the primary
set as soon as one of its systems recovers); astPingMethod OPTIONS and INFO find a silent
Genesis within about astPingInterval.

A Genesis goes silent by SIGSTOP of its sipp (no answer to anything, as a hung machine) and
recovers by SIGCONT. Calls come from a provider in allowList.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.render.kamailio_helpers import MariaDB, wait_for
from tests.sip.harness import (
    PRIV,
    Lab,
    NotifyServer,
    Ports,
    calls_reach,
    genesis_subscribers,
    start_lab,
    wait_flags,
)

A1, A2, B1, PROVIDER = "127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.120"
SLACK = 2.5  # seconds for the poll, the scheduler and a loaded (shared) machine


def failover_lab(folder, mariadb: MariaDB, proxy: dict[str, str],
                 records: dict[str, list]) -> Lab:
    ports = Ports()
    return start_lab(folder, mariadb, {"allowList": PROVIDER,
                                       "dispatchListenSock": f"{PRIV}:{ports.http}", **proxy}, {
        "subscribers": genesis_subscribers("genesis_a-1", "genesis_a-2", "genesis_b-1"),
        **records}, ports)


@pytest.fixture(scope="module")
def persistent(tmp_path_factory: pytest.TempPathFactory, sip_mariadb: MariaDB,
               notify_server: NotifyServer) -> Iterator[Lab]:
    """Persistent failover, OPTIONS every second; events to a notification receiver."""
    folder = tmp_path_factory.mktemp("persistent")
    lab = failover_lab(folder, sip_mariadb, {
        "astPersistentFailover": "Yes", "astPingMethod": "OPTIONS", "astPingInterval": "1"}, {
        "notifies": [{"notifyURL": notify_server.url("/basic/failover"),
                      "notifyUser": NotifyServer.USER, "notifyPassword": NotifyServer.PASSWORD}]})
    try:
        for name, ip, user in (("A1", A1, "genesis_a-1"), ("A2", A2, "genesis_a-2"),
                               ("B1", B1, "genesis_b-1")):
            lab.endpoint(name, ip, user)
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="module")
def reverting(tmp_path_factory: pytest.TempPathFactory, sip_mariadb: MariaDB) -> Iterator[Lab]:
    """No persistent failover, INFO every 2 s."""
    lab = failover_lab(tmp_path_factory.mktemp("reverting"), sip_mariadb, {
        "astPersistentFailover": "No", "astPingMethod": "INFO", "astPingInterval": "2"}, {})
    try:
        for name, ip, user in (("A1", A1, "genesis_a-1"), ("B1", B1, "genesis_b-1")):
            lab.endpoint(name, ip, user)
        yield lab
    finally:
        lab.stop()


def test_options_queries_find_a_silent_genesis_and_persistent_failover_swaps_sets(
        persistent: Lab, notify_server: NotifyServer) -> None:
    lab = persistent
    proxy = lab.proxy
    a1, a2, b1 = (lab.endpoints[name] for name in ("A1", "A2", "B1"))
    for genesis in (a1, a2, b1):
        wait_flags(proxy, genesis.uri, "A", 5)
    # the queries are OPTIONS from the proxy (astPingMethod), with its User-Agent
    ping = wait_for(lambda: a1.uas.received("OPTIONS"), what="an OPTIONS query")[-1]
    assert ping.header("From").startswith(f"<sip:genproxy@{PRIV}>")
    assert ping.header("User-Agent") == "Genesis Proxy"
    assert not a1.uas.received("INFO")
    assert calls_reach(lab, PROVIDER, 4, "A1", "A2", "B1") == {"A1": 2, "A2": 2, "B1": 0}

    # one primary system falls silent: found within about astPingInterval (1 s), and calls
    # go to the other primary system only
    a1.silence()
    assert wait_flags(proxy, a1.uri, "I", 10) < 1 + 1 + SLACK
    assert calls_reach(lab, PROVIDER, 3, "A1", "A2", "B1") == {"A1": 0, "A2": 3, "B1": 0}
    assert proxy.primary_set() == 1

    # every primary system is down: the backup set takes the calls, and (persistent) the sets
    # swap roles
    a2.silence()
    wait_flags(proxy, a2.uri, "I", 10)
    assert calls_reach(lab, PROVIDER, 2, "A1", "A2", "B1") == {"A1": 0, "A2": 0, "B1": 2}
    wait_for(lambda: proxy.primary_set() == 0, timeout=5, what="set 0 to become primary")
    state = requests.get(proxy.http + "/dispatcher", timeout=5).json()
    assert state == {"primary": 0, "backup": 1, "primaryActive": True, "backupActive": False}

    # the old primary systems recover: the calls stay with the new primary set
    a1.recover()
    a2.recover()
    wait_flags(proxy, a1.uri, "A", 10)
    wait_flags(proxy, a2.uri, "A", 10)
    assert calls_reach(lab, PROVIDER, 2, "A1", "A2", "B1") == {"A1": 0, "A2": 0, "B1": 2}
    assert proxy.primary_set() == 0

    # until every system of the new primary set fails: then they swap back
    b1.silence()
    wait_flags(proxy, b1.uri, "I", 10)
    assert calls_reach(lab, PROVIDER, 2, "A1", "A2", "B1") == {"A1": 1, "A2": 1, "B1": 0}
    assert proxy.primary_set() == 1
    b1.recover()
    wait_flags(proxy, b1.uri, "A", 10)

    # each change was posted (10.0)
    wait_for(lambda: len(notify_server.events("/basic/failover",
                                              "dispatcher.primary-changed")) >= 2,
             timeout=5, what="two primary-changed notifications")
    changes = notify_server.events("/basic/failover", "dispatcher.primary-changed")
    assert [(item["set"], item["primary"]) for item in changes[:2]] == [(0, 0), (1, 1)]
    down = notify_server.events("/basic/failover", "dispatcher.dst-down")
    assert {item["destination"] for item in down} >= {a1.uri, a2.uri, b1.uri}
    assert not proxy.problems(), proxy.problems()


def test_info_queries_and_calls_return_to_the_primary_set_without_persistence(
        reverting: Lab) -> None:
    lab = reverting
    proxy = lab.proxy
    a1 = lab.endpoints["A1"]
    ping = wait_for(lambda: a1.uas.received("INFO"), timeout=5, what="an INFO query")[-1]
    assert ping.first_line.startswith(f"INFO sip:{A1}:{a1.port}")
    assert not a1.uas.received("OPTIONS")
    assert calls_reach(lab, PROVIDER, 2, "A1", "B1") == {"A1": 2, "B1": 0}

    a1.silence()
    assert wait_flags(proxy, a1.uri, "I", 12) < 2 + 2 + SLACK
    assert calls_reach(lab, PROVIDER, 2, "A1", "B1") == {"A1": 0, "B1": 2}
    assert proxy.primary_set() == 1  # no swap without astPersistentFailover

    # as soon as the primary system answers again, the calls are back
    a1.recover()
    assert wait_flags(proxy, a1.uri, "A", 12) < 2 + SLACK
    assert calls_reach(lab, PROVIDER, 2, "A1", "B1") == {"A1": 2, "B1": 0}
    assert not proxy.problems(), proxy.problems()
