"""NAT traversal (1.2.3) and the media settings (8.1.1-8.1.4) with real RTP through rtpengine.

rtpengine runs the rendered rtpengine.conf (tos 104, a free port range, timeout 3 s); Kamailio
the rendered kamailio.cfg. A Genesis system (127.0.0.11, private side) and a provider
(127.0.0.120 / 127.0.0.125, public side) call each other; their media are Python UDP sockets
that count, time-stamp and echo RTP packets, so what crosses the proxy is seen at each end.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.media.lab import (
    GENESIS,
    GENESIS_USER,
    PROVIDER_CALLER,
    PROVIDER_UDP,
    TIMEOUT,
    TOS,
    Call,
    MediaPorts,
    MediaRtpengine,
    RtpPeer,
    callee,
    caller,
    genesis,
    start_proxy,
)
from tests.render.kamailio_helpers import MariaDB, wait_for
from tests.sip.harness import PRIV, PUB, Lab, Sipp

PACKETS = 25


@dataclass
class Parties:
    lab: Lab
    genesis_rtp: RtpPeer
    provider_rtp: RtpPeer
    genesis_uas: Sipp
    provider_uas: Sipp


def parties_for(folder: Path, mariadb: MariaDB, rtpengine: MediaRtpengine,
                proxy: dict[str, str]) -> Iterator[Parties]:
    lab = start_proxy(folder, mariadb, rtpengine, MediaPorts(), proxy)
    peers: list[RtpPeer] = []
    try:
        peers += [RtpPeer(GENESIS), RtpPeer(PROVIDER_UDP)]
        system = genesis(lab, GENESIS, GENESIS_USER, (GENESIS, peers[0].port))
        provider = callee(lab.agents, PROVIDER_UDP, (PROVIDER_UDP, peers[1].port))
        yield Parties(lab, peers[0], peers[1], system.uas, provider)
    finally:
        lab.stop()
        for peer in peers:
            peer.stop()


@pytest.fixture(scope="module")
def nat(tmp_path_factory: pytest.TempPathFactory, media_mariadb: MariaDB,
        rtpengine: MediaRtpengine) -> Iterator[Parties]:
    yield from parties_for(tmp_path_factory.mktemp("nat-on"), media_mariadb, rtpengine, {})


@pytest.fixture(scope="module")
def no_nat(tmp_path_factory: pytest.TempPathFactory, media_mariadb: MariaDB,
           rtpengine: MediaRtpengine) -> Iterator[Parties]:
    yield from parties_for(tmp_path_factory.mktemp("nat-off"), media_mariadb, rtpengine,
                           {"enableNAT": "No"})


def place_call(parties: Parties, outbound: bool, pause_ms: int) -> tuple[Call, RtpPeer, RtpPeer]:
    """Genesis calls the provider (outbound) or the provider calls in; returns the running call
    (answered) and the caller's and callee's media sockets."""
    lab = parties.lab
    if outbound:
        agent = caller(lab.agents, GENESIS, lab.proxy.private,
                       f"sip:5550100@{PROVIDER_UDP}:{parties.provider_uas.port}",
                       rtp=(GENESIS, parties.genesis_rtp.port), pause_ms=pause_ms)
        call = Call(agent, parties.provider_uas)
        media = (parties.genesis_rtp, parties.provider_rtp)
    else:
        agent = caller(lab.agents, PROVIDER_CALLER, lab.proxy.public,
                       f"sip:5551234@{lab.proxy.public}",
                       rtp=(PROVIDER_CALLER, parties.provider_rtp.port), pause_ms=pause_ms)
        call = Call(agent, parties.genesis_uas)
        media = (parties.provider_rtp, parties.genesis_rtp)
    # only the called party echoes (two echoes would bounce packets for ever)
    media[0].echo, media[1].echo = False, True
    agent.start()
    wait_for(lambda: not agent.alive() or any(item.code == 200 for item in agent.responses()),
             timeout=15, what="the call to be answered")
    assert any(item.code == 200 for item in agent.responses()), agent.describe()
    return call, *media


def in_range(port: int, rtpengine: MediaRtpengine) -> bool:
    return rtpengine.rtp_ports[0] <= port <= rtpengine.rtp_ports[1]


@pytest.mark.parametrize("outbound", [True, False], ids=["genesis-calls-provider",
                                                           "provider-calls-genesis"])
def test_rtp_flows_both_ways_through_each_side_of_the_proxy(
        nat: Parties, rtpengine: MediaRtpengine, outbound: bool) -> None:
    call, caller_rtp, callee_rtp = place_call(nat, outbound, pause_ms=3000)
    caller_side, callee_side = (PRIV, PUB) if outbound else (PUB, PRIV)
    offer, answer = call.far_sdp(), call.answer_sdp()
    # 1.2.3: each party is pointed at the proxy's address on its own side, in rtpPortMin-Max
    assert offer.connection == callee_side and in_range(offer.port, rtpengine), offer.text
    assert answer.connection == caller_side and in_range(answer.port, rtpengine), answer.text
    before = (len(caller_rtp.received), len(callee_rtp.received))
    caller_rtp.send((caller_side, answer.port), PACKETS)
    wait_for(lambda: len(caller_rtp.received) - before[0] >= PACKETS, timeout=5,
             what="the echoed packets back at the caller")
    to_callee = callee_rtp.received[before[1]:]
    back = caller_rtp.received[before[0]:]
    # every packet crossed rtpengine both ways, leaving from the proxy's port on each side,
    # marked with the configured tos (8.1.1)
    assert [packet.seq for packet in to_callee] == list(range(PACKETS))
    assert {packet.source for packet in to_callee} == {(callee_side, offer.port)}
    assert [packet.seq for packet in back] == list(range(PACKETS))
    assert {packet.source for packet in back} == {(caller_side, answer.port)}
    assert {packet.tos for packet in to_callee + back} == {TOS}
    stats = rtpengine.session(call.call_id)
    assert f"{caller_side}:{answer.port}" in stats and f"{callee_side}:{offer.port}" in stats
    call.caller.wait(20)
    assert call.caller.rc == 0, call.caller.describe()


def test_an_idle_session_is_removed_after_timeout(nat: Parties, rtpengine: MediaRtpengine) -> None:
    assert rtpengine.ctl("list", "timeout").strip() == f"TIMEOUT={TIMEOUT}"
    call, _, _ = place_call(nat, True, pause_ms=(TIMEOUT + 4) * 1000)
    answered = time.monotonic()
    call_id = call.call_id
    assert rtpengine.has_call(call_id)
    # no RTP at all: rtpengine ends the session once timeout (8.1.4) has passed, not before
    wait_for(lambda: not rtpengine.has_call(call_id), timeout=TIMEOUT + 4,
             what="rtpengine to end the idle session")
    assert time.monotonic() - answered >= TIMEOUT - 1
    call.caller.wait(20)


def test_without_nat_the_sdp_passes_unchanged(no_nat: Parties, rtpengine: MediaRtpengine) -> None:
    call, _, _ = place_call(no_nat, True, pause_ms=100)
    sent = call.caller.sent("INVITE")[0].text.split("\n\n", 1)[1]
    assert call.far_invite().text.split("\n\n", 1)[1] == sent
    answer = call.answer_sdp()
    assert answer.connection == PROVIDER_UDP
    assert answer.port == no_nat.provider_rtp.port
    assert not rtpengine.has_call(call.call_id)
    call.caller.wait(20)
    assert call.caller.rc == 0, call.caller.describe()
