"""Live changes (live.py): a list, a subscriber and an outbound registration changed the way a
commit does it (new rows, then the RPC live.py names) take effect without a restart, while a
low-rate call load to Genesis (5 calls/s for 10 s) goes on without a single failed call."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.render.kamailio_helpers import MariaDB, wait_for
from tests.sip.harness import (
    PUB,
    Agents,
    Endpoint,
    Lab,
    Sipp,
    call,
    genesis_subscribers,
    options,
    probe,
    registrar,
    snapshot,
    start_lab,
    uac_records,
)

A1, PROVIDER, REGISTRAR = "127.0.0.11", "127.0.0.120", "127.0.0.126"
NEWLY_DENIED, NEWLY_ALLOWED, NEW_PHONE = "127.0.0.185", "127.0.0.186", "127.0.0.105"
CALLS, RATE = 50, 5


@pytest.fixture(scope="session")
def live_lab(tmp_path_factory: pytest.TempPathFactory,
             sip_mariadb: MariaDB) -> Iterator[tuple[Lab, Sipp]]:
    folder = tmp_path_factory.mktemp("live")
    agents = Agents(folder / "sipp")
    provider = registrar(agents, REGISTRAR, "registrar_open.xml")
    lab = start_lab(folder, sip_mariadb, {"allowList": PROVIDER},
                    {"subscribers": genesis_subscribers("genesis_a-1")}, agents=agents)
    try:
        lab.endpoint("A1", A1, "genesis_a-1")
        yield lab, provider
    finally:
        lab.stop()


def changed(lab: Lab, proxy: dict[str, str] | None = None,
            records: dict[str, list] | None = None):
    """The lab's snapshot with some settings or records replaced."""
    current = lab.proxy.snapshot
    settings = {key: value for key, value in current.settings["proxyConfig"].items() if value}
    new_records = {name: [dict(row) for row in rows] for name, rows in current.records.items()
                   if rows and name != "haNodes"}
    return snapshot(lab.proxy.ports, {**settings, **(proxy or {})},
                    {**new_records, **(records or {})})


@pytest.mark.early
def test_live_changes_under_call_load(live_lab: tuple[Lab, Sipp]) -> None:
    lab, provider = live_lab
    genesis = lab.endpoints["A1"]
    before = len(genesis.invites())
    # the state before the changes
    assert probe(lab.agents, lab.proxy, NEWLY_DENIED).codes() == [403]
    assert not options(lab.agents, lab.proxy, NEWLY_ALLOWED).responses()
    newcomer = Endpoint(lab.agents, NEW_PHONE, "7001")
    assert newcomer.register(lab.proxy, check=False).codes() == [403]

    load = lab.agents.sipp("uac.xml", PROVIDER, target=lab.proxy.public,
                           keys={"ruri": f"sip:5551234@{lab.proxy.public}"},
                           args=["-m", str(CALLS), "-r", str(RATE), "-rp", "1000", "-d", "1000",
                                 "-recv_timeout", "6000", "-max_retrans", "3"]).start()
    time.sleep(1.5)

    # denyList and allowList (7.1.11, 7.1.12): rows, then permissions.addressReload
    new = changed(lab, {"denyList": NEWLY_DENIED, "allowList": f"{PROVIDER} {NEWLY_ALLOWED}"})
    lab.proxy.apply(new, [("proxyConfig", "denyList"), ("proxyConfig", "allowList")])
    assert not probe(lab.agents, lab.proxy, NEWLY_DENIED).responses()
    assert options(lab.agents, lab.proxy, NEWLY_ALLOWED).codes() == [200]

    # a new subscriber (11.0): rows only, auth_db and is_subscriber() read the table
    subscribers = [*genesis_subscribers("genesis_a-1"),
                   {"username": "7001", "domain": "127.0.0.1", "password": ""}]
    lab.proxy.apply(changed(lab, records={"subscribers": subscribers}), [("subscribers", None)])
    assert newcomer.register(lab.proxy).codes() == [200]

    # a new outbound registration (12.0): rows, then uac.reg_reload; uac sends it at its next
    # timer run (the late test sees it)
    trunk = {"l_uuid": "trunk-live", "l_username": "acct9", "l_domain": "provider.test",
             "r_username": "acct9", "r_domain": "provider.test",
             "auth_proxy": f"{REGISTRAR}:{provider.port}"}
    lab.proxy.apply(changed(lab, records={"outboundRegistrations": [trunk]}),
                    [("outboundRegistrations", None)])
    assert "trunk-live" in uac_records(lab.proxy)

    load.wait(CALLS / RATE + 20)
    assert load.counts() == (CALLS, 0), load.describe()
    assert len(genesis.invites()) - before == CALLS
    assert not [code for code in load.codes() if code >= 300], load.describe()
    assert not lab.proxy.problems(), lab.proxy.problems()


@pytest.mark.late
def test_live_outbound_registration_is_sent(live_lab: tuple[Lab, Sipp]) -> None:
    lab, provider = live_lab
    time.sleep(max(0.0, lab.proxy.started + 90 + 3 - time.time()))
    request = wait_for(lambda: provider.received("REGISTER"), timeout=10,
                       what="the live-added registration")[0]
    assert request.header("Contact") == f"<sip:trunk-live@{PUB}:{lab.proxy.ports.public}>"
    assert int(uac_records(lab.proxy)["trunk-live"]["flags"]) & 4
    # and calls still work after everything
    caller = call(lab.agents, lab.proxy, PROVIDER, f"sip:5551234@{lab.proxy.public}")
    assert caller.rc == 0, caller.describe()
