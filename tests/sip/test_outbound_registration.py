"""Outbound registrations (12.0, 7.1.9) to sipp registrars: digest with auth_password (with
and without realm) and with auth_ha1, Contact user l_uuid, expires, reg_delay, socket,
reg_contact_addr, and the retry after a failure per regRetryInterval.

Kamailio's uac module sends from a timer that runs at start and then every 90 s (the manual's
"runs once every 90 seconds"); a retry or a delayed registration goes out at the first run
after it is due. The early test sees the first run; the late test (last in the session, so the
wait overlaps the other tests) sees the second one, 90 s after start. The 180 s default and
other multiples of 90 are not waited for: the retry time uac scheduled is read back instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.render.kamailio_helpers import MariaDB, wait_for
from tests.sip.harness import (
    PRIV,
    PUB,
    Agents,
    Lab,
    Sipp,
    md5,
    registrar,
    start_lab,
    uac_records,
)

TIMER = 90  # uac reg_timer_interval (7.1.9)
REFUSED = r"got sip response 403 while registering \[trunk-fail\]"
R_PW, R_HA1, R_DELAY, R_FAIL, R_NOREALM = ("127.0.0.121", "127.0.0.122", "127.0.0.123",
                                          "127.0.0.124", "127.0.0.125")


def trunk(uuid: str, user: str, registrar_agent: Sipp, **extra: str) -> dict[str, str]:
    return {"l_uuid": uuid, "l_username": user, "l_domain": "provider.test",
            "r_username": user, "r_domain": "provider.test", "auth_username": user,
            "auth_proxy": f"{registrar_agent.ip}:{registrar_agent.port}", **extra}


@pytest.fixture(scope="session")
def uac_lab(tmp_path_factory: pytest.TempPathFactory,
            sip_mariadb: MariaDB) -> Iterator[tuple[Lab, dict[str, Sipp]]]:
    folder = tmp_path_factory.mktemp("uac")
    agents = Agents(folder / "sipp")
    providers = {
        "pw": registrar(agents, R_PW, user="acct1", password="acct1-pw", expires=120),
        "ha1": registrar(agents, R_HA1, user="acct2", password="acct2-pw"),
        "delay": registrar(agents, R_DELAY, "registrar_open.xml"),
        "fail": registrar(agents, R_FAIL, "registrar_reject.xml"),
        "norealm": registrar(agents, R_NOREALM, user="acct5", password="acct5-pw",
                             realm="elsewhere"),
    }
    trunks = [
        trunk("trunk-pw", "acct1", providers["pw"], realm="provider",
              auth_password="acct1-pw", expires="120"),
        trunk("trunk-ha1", "acct2", providers["ha1"], realm="provider",
              auth_ha1=md5("acct2:provider:acct2-pw"), expires="300", socket=PRIV,
              reg_contact_addr="127.0.0.9:5999;transport=udp"),
        trunk("trunk-delay", "acct3", providers["delay"], reg_delay="30"),
        trunk("trunk-fail", "acct4", providers["fail"], auth_password="x"),
        trunk("trunk-norealm", "acct5", providers["norealm"], auth_password="acct5-pw"),
    ]
    lab = start_lab(folder, sip_mariadb, {"regRetryInterval": str(TIMER)},
                    {"outboundRegistrations": trunks}, agents=agents,
                    expected_errors=REFUSED)
    try:
        yield lab, providers
    finally:
        lab.stop()


def final_codes(provider: Sipp) -> list[int]:
    return [item.code for item in provider.messages() if item.sent and item.code]


@pytest.mark.early
def test_registrations_at_start(uac_lab: tuple[Lab, dict[str, Sipp]]) -> None:
    lab, providers = uac_lab
    wait_for(lambda: final_codes(providers["pw"]) == [401, 200]
             and final_codes(providers["ha1"]) == [401, 200]
             and final_codes(providers["norealm"]) == [401, 200]
             and final_codes(providers["fail"]) == [403], timeout=8,
             what="the first timer run's registrations")
    public, private = f"{PUB}:{lab.proxy.ports.public}", f"{PRIV}:{lab.proxy.ports.private}"

    # auth_password with realm: genweb stored its HA1; the registrar checked the digest
    first, second = providers["pw"].received("REGISTER")
    assert first.first_line == "REGISTER sip:provider.test SIP/2.0"
    assert first.header("To") == "<sip:acct1@provider.test>"
    assert first.header("From").startswith("<sip:acct1@provider.test>")
    assert first.header("Authorization") is None
    assert second.header("Authorization").startswith('Digest username="acct1", realm="provider"')
    # Contact user l_uuid at publicIP (reg_contact_addr blank), expires, the public socket
    assert first.header("Contact") == f"<sip:trunk-pw@{public}>"
    assert first.header("Expires") == "120"
    assert first.header("Via").startswith(f"SIP/2.0/UDP {public};")

    # auth_ha1, socket privateIP, reg_contact_addr
    request = providers["ha1"].received("REGISTER")[-1]
    assert request.header("Authorization").startswith('Digest username="acct2"')
    assert request.header("Contact") == "<sip:trunk-ha1@127.0.0.9:5999;transport=udp>"
    assert request.header("Expires") == "300"
    assert request.header("Via").startswith(f"SIP/2.0/UDP {private};")

    # auth_password without realm: the realm the registrar names is used
    assert 'realm="elsewhere"' in providers["norealm"].received("REGISTER")[-1].header(
        "Authorization")

    records = uac_records(lab.proxy)
    for uuid in ("trunk-pw", "trunk-ha1", "trunk-norealm"):
        assert int(records[uuid]["flags"]) & 4, records[uuid]  # online

    # reg_delay 30: not at the first timer run
    assert not providers["delay"].received()
    assert records["trunk-delay"]["reg_delay"] == "30"

    # refused: retried regRetryInterval (90 s) after the failure, not disabled
    failed = records["trunk-fail"]
    assert not int(failed["flags"]) & 1, failed
    assert TIMER - 10 <= int(failed["diff_expires"]) <= TIMER, failed
    assert not lab.proxy.problems(), lab.proxy.problems()


@pytest.mark.late
def test_retry_and_delayed_registration_at_the_next_timer_run(
        uac_lab: tuple[Lab, dict[str, Sipp]]) -> None:
    lab, providers = uac_lab
    started = lab.proxy.started
    time.sleep(max(0.0, started + TIMER + 3 - time.time()))
    wait_for(lambda: len(providers["fail"].received("REGISTER")) >= 2, timeout=10,
             what="the retried registration")
    first, retry = providers["fail"].received("REGISTER")[:2]
    assert TIMER - 10 <= retry.time - first.time <= TIMER + 5, (first.time, retry.time)
    # the delayed one went out at the first timer run after reg_delay
    delayed = wait_for(lambda: providers["delay"].received("REGISTER"), timeout=5,
                       what="the delayed registration")[0]
    assert delayed.time - started >= 30
    assert delayed.header("Contact") == f"<sip:trunk-delay@{PUB}:{lab.proxy.ports.public}>"
    assert int(uac_records(lab.proxy)["trunk-delay"]["flags"]) & 4


@pytest.mark.parametrize("interval", [0, 180])
def test_retry_interval_zero_disables_and_180_schedules_later(
        tmp_path: Path, sip_mariadb: MariaDB, interval: int) -> None:
    """0: a failed registration is never retried (uac disables it); the default 180: the
    retry is due 180 s after the failure (sent at the timer run from then on, not waited for
    here)."""
    agents = Agents(tmp_path / "sipp")
    refusing = registrar(agents, R_FAIL, "registrar_reject.xml")
    lab = start_lab(tmp_path, sip_mariadb, {"regRetryInterval": str(interval)},
                    {"outboundRegistrations": [trunk("trunk-fail", "acct4", refusing,
                                                     auth_password="x")]}, agents=agents,
                    expected_errors=REFUSED)
    try:
        wait_for(lambda: final_codes(refusing) == [403], timeout=5, what="the refusal")
        record = wait_for(lambda: (found := uac_records(lab.proxy)["trunk-fail"])
                          and not int(found["flags"]) & 2 and found, timeout=5,
                          what="the attempt to end")
        if interval:
            assert not int(record["flags"]) & 1, record
            assert interval - 10 <= int(record["diff_expires"]) <= interval, record
        else:
            assert int(record["flags"]) & 1, record  # disabled: never retried
    finally:
        lab.stop()
