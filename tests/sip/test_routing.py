"""Call routing (1.2.4) and the dispatcher sets Genesis registrations fill (7.1.20-7.1.22).

Genesis systems A1, A2, A3 register as ``genesis_a-1..3`` (dispatchPriUser 'genesis_a' with
suffixes), B1 as ``genesis_b-1``; dispatchLimit is 2. Phone 5001 registers from the public
side; a provider (allowList) calls in; 127.0.0.160 is in proxyList.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.render.kamailio_helpers import MariaDB, wait_for
from tests.sip.harness import PRIV, PUB, Lab, call, genesis_subscribers, start_lab

A1, A2, A3, B1 = "127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14"
PHONE, CALLER, PROVIDER, RELAY, CALLEE = ("127.0.0.101", "127.0.0.102", "127.0.0.120",
                                          "127.0.0.160", "127.0.0.121")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, sip_mariadb: MariaDB) -> Iterator[Lab]:
    subscribers = genesis_subscribers("genesis_a-1", "genesis_a-2", "genesis_a-3",
                                      "genesis_b-1", "5001")
    started = start_lab(tmp_path_factory.mktemp("routing"), sip_mariadb,
                        {"allowList": PROVIDER, "proxyList": RELAY, "dispatchLimit": "2",
                         "astPingInterval": "5"},
                        {"subscribers": subscribers})
    try:
        for name, ip, user in (("A1", A1, "genesis_a-1"), ("A2", A2, "genesis_a-2"),
                               ("A3", A3, "genesis_a-3"), ("B1", B1, "genesis_b-1"),
                               ("phone", PHONE, "5001")):
            started.endpoint(name, ip, user)
        started.endpoint("callee", CALLEE)
        yield started
    finally:
        started.stop()


def test_genesis_registrations_fill_primary_and_backup_sets(lab: Lab) -> None:
    a1, a2, b1 = (lab.endpoints[name] for name in ("A1", "A2", "B1"))
    expected = {a1.uri: 1, a2.uri: 1, b1.uri: 0}
    wait_for(lambda: {uri: dst[0] for uri, dst in lab.proxy.destinations().items()} == expected,
             what=f"dispatcher sets {expected}, have {lab.proxy.destinations()}")
    # the sets are kept in the database for the node that takes over
    rows = lab.proxy.sql("SELECT setid, destination FROM dispatcher ORDER BY destination")
    assert sorted(rows) == sorted([["1", a1.uri], ["1", a2.uri], ["0", b1.uri]])
    # the phone is registered, but is no Genesis
    assert lab.endpoints["phone"].uri not in lab.proxy.destinations()


def test_dispatch_limit_holds(lab: Lab) -> None:
    # genesis_a-3 registered fine (a subscriber), but set 1 was full: never a destination
    a3 = lab.endpoints["A3"]
    assert a3.registrations[-1].rc == 0
    assert a3.uri not in lab.proxy.destinations()
    assert "set 1 is full (dispatchLimit 2)" in lab.proxy.log()
    caller = call(lab.agents, lab.proxy, PROVIDER, f"sip:5551000@{lab.proxy.public}", count=4,
                  rate=4)
    assert caller.counts() == (4, 0), caller.describe()
    assert not a3.invites()


def test_calls_round_robin_over_the_primary_set(lab: Lab) -> None:
    a1, a2, b1 = (lab.endpoints[name] for name in ("A1", "A2", "B1"))
    before = {name: len(lab.endpoints[name].invites()) for name in ("A1", "A2", "B1")}
    caller = call(lab.agents, lab.proxy, PROVIDER, f"sip:5551234@{lab.proxy.public}", count=6, rate=5)
    assert caller.rc == 0 and caller.counts() == (6, 0), caller.describe()
    got = {name: len(lab.endpoints[name].invites()) - before[name] for name in before}
    assert got == {"A1": 3, "A2": 3, "B1": 0}, got
    # the Genesis side of the call leaves from the private socket, record-routed
    invite = a1.invites()[-1]
    assert invite.header("Via").startswith(f"SIP/2.0/UDP {PRIV}:{lab.proxy.ports.private}")
    assert any(PRIV in route for route in invite.headers("Record-Route"))
    assert not b1.invites() and a2.invites()


def test_rule_1_genesis_calls_a_registered_user(lab: Lab) -> None:
    phone = lab.endpoints["phone"]
    caller = call(lab.agents, lab.proxy, A1, f"sip:5001@{lab.proxy.private}", target=lab.proxy.private)
    assert caller.rc == 0, caller.describe()
    invite = phone.invites()[-1]
    assert invite.first_line.startswith(f"INVITE sip:5001@{PHONE}:{phone.port}")
    # the phone is on the public side: the INVITE leaves from the public socket
    assert invite.header("Via").startswith(f"SIP/2.0/UDP {PUB}:{lab.proxy.ports.public}")
    # a user that is not registered: 404
    caller = call(lab.agents, lab.proxy, A1, f"sip:5999@{lab.proxy.private}", target=lab.proxy.private,
                  recv_timeout_ms=2000)
    assert 404 in caller.codes(), caller.describe()


def test_rule_2_genesis_calls_another_domain(lab: Lab) -> None:
    callee = lab.endpoints["callee"]
    uri = f"sip:5559876@{CALLEE}:{callee.port}"
    caller = call(lab.agents, lab.proxy, A2, uri, target=lab.proxy.private)
    assert caller.rc == 0, caller.describe()
    assert callee.invites()[-1].first_line.startswith(f"INVITE {uri}")


def test_rule_3_others_calling_the_proxy_reach_genesis(lab: Lab) -> None:
    before = len(lab.endpoints["A1"].invites()) + len(lab.endpoints["A2"].invites())
    for target in (lab.proxy.public, lab.proxy.private):  # either of the proxy's addresses
        caller = call(lab.agents, lab.proxy, CALLER, f"sip:5550000@{target}", target=target)
        assert caller.rc == 0, caller.describe()
    assert len(lab.endpoints["A1"].invites()) + len(lab.endpoints["A2"].invites()) == before + 2
    assert not lab.endpoints["B1"].invites()


def test_rule_4_only_proxy_list_sources_are_relayed_elsewhere(lab: Lab) -> None:
    callee = lab.endpoints["callee"]
    uri = f"sip:5557777@{CALLEE}:{callee.port}"
    before = len(callee.invites())
    # a phone that is in no list, and a provider that is only in allowList: 403, nothing sent
    for source in (CALLER, PROVIDER):
        caller = call(lab.agents, lab.proxy, source, uri, recv_timeout_ms=2000)
        assert caller.codes() == [403], caller.describe()
        assert caller.responses()[0].first_line == "SIP/2.0 403 Relaying Forbidden"
    assert len(callee.invites()) == before
    # proxyList: relayed like any proxy would
    caller = call(lab.agents, lab.proxy, RELAY, uri)
    assert caller.rc == 0, caller.describe()
    assert len(callee.invites()) == before + 1
    assert not lab.proxy.problems(), lab.proxy.problems()
