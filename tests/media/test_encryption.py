"""The media encryption of each outbound leg: Appendix A's eight steps and 8.1.9-8.1.15.

Every case is one real call through the rendered Kamailio and rtpengine; what is asserted is the
SDP the far end receives (its m= profile, a=crypto for SDES, a=fingerprint for DTLS), that the
amtelcoMediaEncryption header never leaves the proxy, and that the caller's own leg keeps the
profile it offered. Each case quotes the manual's words it checks.

Kamailio configurations (one at a time, each started once; the cases are grouped by them):

- ``change``: enableTLS and enableNAT Yes, changeMediaEncryption Yes, defaultMediaEncryption sdes,
  enableAvpf No, the header ``Amtelco.media_encryption``, and the lists below.
- ``change-dtls-avpf``: the same with defaultMediaEncryption dtls and enableAvpf Yes.
- ``keep``: changeMediaEncryption No.
- ``no-tls``: enableTLS No; ``no-nat``: enableNAT No ("only modifies media encryption if TLS is
  enabled ... and NAT Traversal is enabled").

The far ends: providers on UDP (127.0.0.120), TCP (127.0.0.121) and TLS (127.0.0.122, through
the test's TLS bridge), list members 127.0.0.130-136 (UDP), and Genesis (127.0.0.11, UDP) for
calls coming in from a provider (127.0.0.125).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.media.lab import (
    GENESIS,
    GENESIS_USER,
    PROVIDER_CALLER,
    PROVIDER_TCP,
    PROVIDER_TLS,
    PROVIDER_UDP,
    Call,
    MediaPorts,
    MediaRtpengine,
    Sdp,
    TlsBridge,
    callee,
    caller,
    genesis,
    start_proxy,
    tls_contexts,
)
from tests.render.kamailio_helpers import MariaDB, free_port
from tests.sip.harness import PRIV, PUB, Lab, Sipp, udp_port

HEADER = "Amtelco.media_encryption"
RTP_ONLY, DTLS_ONLY, SDES_ONLY, ALL_LISTS, DTLS_SDES, SDES_PORT, SDES_OTHER_PORT = (
    f"127.0.0.{last}" for last in range(130, 137))
LIST_MEMBERS = (RTP_ONLY, DTLS_ONLY, SDES_ONLY, ALL_LISTS, DTLS_SDES, SDES_PORT, SDES_OTHER_PORT)
# a TLS far end on the default SIPS port, listed in sdesList as <address>:5061 and called by a
# URI without a port (RFC 3263: 5061 for TLS)
SDES_TLS_DEFAULT_PORT = "127.0.0.137"

# the caller's own offers
SDES_KEY = base64.b64encode(os.urandom(30)).decode()
OFFERS = {
    "none": ("RTP/AVP", ()),
    "sdes": ("RTP/SAVP", (f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{SDES_KEY}",)),
    "dtls": ("UDP/TLS/RTP/SAVP", ("a=setup:actpass", "a=fingerprint:sha-256 " + ":".join(
        f"{byte:02X}" for byte in os.urandom(32)))),
}
# what each outbound mode looks like in SDP
PROFILES = {"none": "RTP/AVP", "none_f": "RTP/AVPF", "sdes": "RTP/SAVP", "sdes_f": "RTP/SAVPF",
            "dtls": "UDP/TLS/RTP/SAVP", "dtls_f": "UDP/TLS/RTP/SAVPF"}


def list_settings(ports: dict[str, int]) -> dict[str, str]:
    """rtpList, dtlsList, sdesList: single members, members of several lists (precedence), and
    sdesList entries with a port (the far end's own port, and another one)."""
    return {
        "rtpList": f"{RTP_ONLY} {ALL_LISTS}",
        "dtlsList": f"{DTLS_ONLY} {ALL_LISTS} {DTLS_SDES}",
        "sdesList": f"{SDES_ONLY} {ALL_LISTS} {DTLS_SDES} {SDES_PORT}:{ports[SDES_PORT]} "
                    f"{SDES_OTHER_PORT}:{ports[SDES_OTHER_PORT] + 1} {SDES_TLS_DEFAULT_PORT}:5061",
    }


CONFIGS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    # name: (proxyConfig, mediaConfig); the lists are added to every one of them
    "change": ({}, {"changeMediaEncryption": "Yes", "defaultMediaEncryption": "sdes"}),
    "change-dtls-avpf": ({}, {"changeMediaEncryption": "Yes", "defaultMediaEncryption": "dtls",
                              "enableAvpf": "Yes"}),
    "keep": ({}, {"changeMediaEncryption": "No"}),
    "no-tls": ({"enableTLS": "No"}, {"changeMediaEncryption": "Yes", "enableAvpf": "Yes"}),
    "no-nat": ({"enableNAT": "No"}, {"changeMediaEncryption": "Yes", "enableAvpf": "Yes"}),
}


# -- the running configuration ------------------------------------------------------------------


@dataclass
class EncryptionLab:
    """One Kamailio configuration and every party around it."""

    lab: Lab
    far_ends: dict[str, tuple[str, Sipp]]  # name -> (Request-URI, called party)
    callers: dict[str, tuple[str, str]]  # inbound transport -> (target, Via transport)
    genesis_uas: Sipp
    bridges: list[TlsBridge] = field(default_factory=list)

    def stop(self) -> None:
        for bridge in self.bridges:
            bridge.stop()
        self.lab.stop()


def start_encryption_lab(folder: Path, mariadb: MariaDB, rtpengine: MediaRtpengine,
                         name: str) -> EncryptionLab:
    proxy_config, media_config = CONFIGS[name]
    list_ports = {ip: udp_port(ip) for ip in LIST_MEMBERS}
    ports = MediaPorts()
    lab = start_proxy(folder / name, mariadb, rtpengine, ports, proxy_config,
                      {"amtelcoMediaEncryption": HEADER, **media_config,
                       **list_settings(list_ports)})
    bridges: list[TlsBridge] = []
    try:
        server_tls, client_tls = tls_contexts(folder / "certs")
        rtp = ("127.0.0.200", 40000)  # where the far ends say their media is (none is sent)
        system = genesis(lab, GENESIS, GENESIS_USER, (GENESIS, 40002))
        far_ends = {"udp": (f"sip:5550100@{PROVIDER_UDP}:{{port}}", callee(lab.agents,
                                                                            PROVIDER_UDP, rtp))}
        tcp = callee(lab.agents, PROVIDER_TCP, rtp, "tcp")
        far_ends["tcp"] = (f"sip:5550100@{PROVIDER_TCP}:{{port}};transport=tcp", tcp)
        # the TLS provider: TLS on 127.0.0.122, its SIP handled by a sipp over TCP behind it
        behind = free_port(host=PROVIDER_TLS)
        provider_tls = TlsBridge((PROVIDER_TLS, 0), (PROVIDER_TLS, behind),
                                 accept_tls=server_tls)
        bridges.append(provider_tls)
        tls_uri = f"sip:5550100@{PROVIDER_TLS}:{provider_tls.address[1]};transport=tls"
        far_ends["tls"] = (tls_uri, callee(lab.agents, PROVIDER_TLS, rtp, "tcp", behind,
                                           contact=tls_uri.replace("5550100@", "")))
        behind = free_port(host=SDES_TLS_DEFAULT_PORT)
        default_port_tls = TlsBridge((SDES_TLS_DEFAULT_PORT, 5061), (SDES_TLS_DEFAULT_PORT, behind),
                                     accept_tls=server_tls)
        bridges.append(default_port_tls)
        tls_uri = f"sip:5550100@{SDES_TLS_DEFAULT_PORT};transport=tls"
        far_ends["tls-5061"] = (tls_uri, callee(lab.agents, SDES_TLS_DEFAULT_PORT, rtp, "tcp",
                                                behind, contact=tls_uri.replace("5550100@", "")))
        for ip in LIST_MEMBERS:
            far_ends[ip] = (f"sip:5550100@{ip}:{{port}}",
                            callee(lab.agents, ip, rtp, port=list_ports[ip]))
        # calls from a provider to the proxy go to Genesis (1.2.4), over UDP as it registered
        far_ends["genesis"] = (f"sip:5551234@{PUB}:{ports.public}", system.uas)
        # Genesis over TLS, and a provider over TLS, each from its own address
        genesis_tls = TlsBridge((GENESIS, 0), (PRIV, ports.private_tls), connect_tls=client_tls,
                                source=GENESIS)
        provider_caller_tls = TlsBridge((PROVIDER_CALLER, 0), (PUB, ports.public_tls),
                                        connect_tls=client_tls, source=PROVIDER_CALLER)
        bridges += [genesis_tls, provider_caller_tls]
        callers = {"udp": (lab.proxy.private, "UDP"), "tcp": (lab.proxy.private, "TCP"),
                   "tls": (f"{GENESIS}:{genesis_tls.address[1]}", "TLS"),
                   "provider-udp": (lab.proxy.public, "UDP"),
                   "provider-tls": (f"{PROVIDER_CALLER}:{provider_caller_tls.address[1]}", "TLS")}
    except BaseException:
        for bridge in bridges:
            bridge.stop()
        lab.stop()
        raise
    return EncryptionLab(lab, far_ends, callers, system.uas, bridges)


class Labs:
    """Starts each configuration when its first case comes; one runs at a time."""

    def __init__(self, folder: Path, mariadb: MariaDB, rtpengine: MediaRtpengine):
        self.folder, self.mariadb, self.rtpengine = folder, mariadb, rtpengine
        self.name, self.current = "", None

    def get(self, name: str) -> EncryptionLab:
        if name != self.name:
            self.stop()
            self.current = start_encryption_lab(self.folder, self.mariadb, self.rtpengine, name)
            self.name = name
        assert self.current
        return self.current

    def stop(self) -> None:
        if self.current:
            self.current.stop()
        self.name, self.current = "", None


@pytest.fixture(scope="module")
def labs(tmp_path_factory: pytest.TempPathFactory, media_mariadb: MariaDB,
         rtpengine: MediaRtpengine) -> Iterator[Labs]:
    running = Labs(tmp_path_factory.mktemp("encryption"), media_mariadb, rtpengine)
    yield running
    running.stop()


# -- the cases --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    config: str
    manual: str  # the words of the manual this case checks
    expected: str  # an outbound mode (PROFILES), or "unchanged": the caller's SDP as it was
    offer: str = "none"  # the caller's own media: none, sdes or dtls (OFFERS)
    inbound: str = "udp"  # how the INVITE reaches the proxy: udp, tcp, tls (from Genesis),
    #                       provider-udp, provider-tls (a provider calling Genesis)
    to: str = "udp"  # the far end: udp, tcp, tls providers, a list member, genesis(-tls)
    header: str = ""  # the amtelcoMediaEncryption header's value, if sent


STEP1 = ("Appendix A 1: the INVITE contains the header specified by amtelcoMediaEncryption: "
         "force the encryption on the outbound leg to the specified mode")
STEP2 = "Appendix A 2: destination in rtpList: unencrypted, RTCP feedback according to enableAvpf"
STEP3 = "Appendix A 3: destination in dtlsList: DTLS, RTCP feedback according to enableAvpf"
STEP4 = "Appendix A 4: destination in sdesList: SDES, RTCP feedback according to enableAvpf"
STEP5 = ("Appendix A 5: changeMediaEncryption 'No': the same encryption on the outbound leg as "
         "on the inbound leg")
STEP6 = ("Appendix A 6: incoming SDP encrypted, outgoing INVITE not TLS: unencrypted, feedback "
         "according to enableAvpf")
STEP7 = ("Appendix A 7: incoming SDP not encrypted, outgoing INVITE TLS: defaultMediaEncryption, "
         "feedback according to enableAvpf")
STEP8 = "Appendix A 8: otherwise the same encryption on the outbound leg as on the inbound leg"
ROW1 = "8.1.13 table: UDP/TCP -> UDP/TCP: same as inbound media encryption"
ROW2 = "8.1.13 table: UDP/TCP -> TLS: set to the encryption specified by defaultMediaEncryption"
ROW3 = "8.1.13 table: TLS -> UDP/TCP: no encryption"
ROW4 = "8.1.13 table: TLS -> TLS: same as inbound media encryption"
AVPF = ("8.1.15: enableAvpf enables RTCP based feedback if the encryption is set via rtpList, "
        "dtlsList, sdesList, or changeMediaEncryption")
ONLY_TLS_NAT = ("Appendix A: the proxy server only modifies media encryption if TLS is enabled "
                "(enableTLS is 'Yes') and NAT Traversal is enabled (enableNAT is 'Yes')")

CASES = [
    # -- step 1: the header, every value; it wins over the lists and changeMediaEncryption
    pytest.param(Case("change", STEP1, "none", offer="sdes", header="none"), id="1-header-none"),
    pytest.param(Case("change", STEP1, "none_f", offer="sdes", header="none_f"),
                 id="1-header-none_f"),
    pytest.param(Case("change", STEP1, "sdes", header="sdes"), id="1-header-sdes"),
    pytest.param(Case("change", STEP1, "sdes_f", header="sdes_f"), id="1-header-sdes_f"),
    pytest.param(Case("change", STEP1, "dtls", header="dtls"), id="1-header-dtls"),
    pytest.param(Case("change", STEP1, "dtls_f", header="dtls_f"), id="1-header-dtls_f"),
    pytest.param(Case("change", STEP1 + " (rtpList: 'overridden by amtelcoMediaEncryption "
                      "header')", "sdes", to=RTP_ONLY, header="sdes"), id="1-header-beats-rtpList"),
    pytest.param(Case("change", STEP1 + " (TLS out: before changeMediaEncryption)", "dtls",
                      to="tls", header="dtls"), id="1-header-beats-change"),
    pytest.param(Case("change", "8.1.9: valid values are none, none_f, sdes, sdes_f, dtls, "
                      "dtls_f (anything else is no mode: step 8)", "none", header="aes"),
                 id="1-header-unknown-value-ignored"),
    # -- steps 2-4: the lists, with and without a port, in their precedence
    pytest.param(Case("change", STEP2, "none", offer="sdes", to=RTP_ONLY), id="2-rtpList"),
    pytest.param(Case("change", STEP3, "dtls", to=DTLS_ONLY), id="3-dtlsList"),
    pytest.param(Case("change", STEP4, "sdes", to=SDES_ONLY), id="4-sdesList"),
    pytest.param(Case("change", STEP2 + " (before dtlsList and sdesList)", "none", offer="sdes",
                      to=ALL_LISTS), id="2-rtpList-before-dtls-and-sdes"),
    pytest.param(Case("change", STEP3 + " (sdesList: 'overridden by dtlsList')", "dtls",
                      to=DTLS_SDES), id="3-dtlsList-before-sdesList"),
    pytest.param(Case("change", STEP4 + " (<address>:<port>: that port)", "sdes", to=SDES_PORT),
                 id="4-sdesList-with-port"),
    pytest.param(Case("change", "8.1.12: <address>:<port> applies to that port only (another "
                      "port: not in the list, step 8)", "none", to=SDES_OTHER_PORT),
                 id="4-sdesList-other-port-not-matched"),
    pytest.param(Case("keep", STEP4 + " (<address>:5061 matches a TLS URI without a port)",
                      "sdes", to="tls-5061"), id="4-sdesList-tls-default-port"),
    pytest.param(Case("change-dtls-avpf", STEP2 + "; " + AVPF, "none_f", offer="sdes",
                      to=RTP_ONLY), id="2-rtpList-avpf"),
    pytest.param(Case("change-dtls-avpf", STEP3 + "; " + AVPF, "dtls_f", to=DTLS_ONLY),
                 id="3-dtlsList-avpf"),
    pytest.param(Case("change-dtls-avpf", STEP4 + "; " + AVPF, "sdes_f", to=SDES_ONLY),
                 id="4-sdesList-avpf"),
    pytest.param(Case("change-dtls-avpf", STEP1 + " ('_f' sets feedback, enableAvpf does not)",
                      "sdes", header="sdes"), id="1-header-ignores-enableAvpf"),
    # -- steps 5-8 and the table of 8.1.13
    pytest.param(Case("keep", STEP5 + " (UDP -> TLS)", "none", to="tls"), id="5-keep-udp-to-tls"),
    pytest.param(Case("keep", STEP5 + " (TLS -> UDP)", "sdes", offer="sdes", inbound="tls"),
                 id="5-keep-tls-to-udp"),
    pytest.param(Case("keep", STEP4 + " (the lists come before step 5)", "sdes", to=SDES_ONLY),
                 id="5-keep-lists-still-apply"),
    pytest.param(Case("change", STEP6 + "; " + ROW3, "none", offer="sdes", inbound="tls"),
                 id="6-tls-sdes-to-udp"),
    pytest.param(Case("change", STEP6 + "; " + ROW3, "none", offer="dtls", inbound="tls",
                      to="tcp"), id="6-tls-dtls-to-tcp"),
    pytest.param(Case("change", STEP6 + "; " + ROW3 + " (a provider calling Genesis)", "none",
                      offer="sdes", inbound="provider-tls", to="genesis"),
                 id="6-provider-tls-sdes-to-genesis-udp"),
    pytest.param(Case("change-dtls-avpf", STEP6 + "; " + AVPF, "none_f", offer="sdes",
                      inbound="tls"), id="6-tls-sdes-to-udp-avpf"),
    pytest.param(Case("change", STEP7 + "; " + ROW2, "sdes", to="tls"), id="7-udp-to-tls-default-sdes"),
    pytest.param(Case("change", STEP7 + "; " + ROW2, "sdes", inbound="tcp", to="tls"),
                 id="7-tcp-to-tls-default-sdes"),
    pytest.param(Case("change-dtls-avpf", STEP7 + "; " + AVPF, "dtls_f", to="tls"),
                 id="7-udp-to-tls-default-dtls-avpf"),
    pytest.param(Case("change", STEP8 + " (incoming encrypted, outgoing TLS: step 7 does not "
                      "apply)", "dtls", offer="dtls", to="tls"), id="8-udp-dtls-to-tls-kept"),
    pytest.param(Case("change", ROW1 + " (UDP -> UDP, SDES kept)", "sdes", offer="sdes"),
                 id="row1-udp-to-udp-sdes-kept"),
    pytest.param(Case("change", ROW1 + " (UDP -> TCP, SDES kept)", "sdes", offer="sdes",
                      to="tcp"), id="row1-udp-to-tcp-sdes-kept"),
    pytest.param(Case("change", ROW1 + " (a provider's SDES over UDP to Genesis over UDP)",
                      "sdes", offer="sdes", inbound="provider-udp", to="genesis"),
                 id="row1-provider-udp-sdes-to-genesis-kept"),
    pytest.param(Case("change", ROW1 + " (TCP -> UDP, plain kept)", "none", inbound="tcp"),
                 id="row1-tcp-to-udp-plain-kept"),
    pytest.param(Case("change-dtls-avpf", ROW1 + "; " + AVPF + " (not changed: no feedback)",
                      "none"), id="row1-udp-to-udp-avpf-untouched"),
    pytest.param(Case("change", ROW4 + " (plain kept)", "none", inbound="tls", to="tls"),
                 id="row4-tls-to-tls-plain-kept"),
    pytest.param(Case("change", ROW4 + " (SDES kept)", "sdes", offer="sdes", inbound="tls",
                      to="tls"), id="row4-tls-to-tls-sdes-kept"),
    # -- only with enableTLS and enableNAT both Yes
    pytest.param(Case("no-tls", ONLY_TLS_NAT + " (header)", "none", header="sdes"),
                 id="off-no-tls-header"),
    pytest.param(Case("no-tls", ONLY_TLS_NAT + " (dtlsList)", "none", to=DTLS_ONLY),
                 id="off-no-tls-dtlsList"),
    pytest.param(Case("no-tls", ONLY_TLS_NAT + " (rtpList)", "sdes", offer="sdes", to=RTP_ONLY),
                 id="off-no-tls-rtpList"),
    pytest.param(Case("no-nat", ONLY_TLS_NAT + " (header; no NAT: SDP untouched)", "unchanged",
                      header="sdes"), id="off-no-nat-header"),
    pytest.param(Case("no-nat", ONLY_TLS_NAT + " (TLS -> UDP; no NAT: SDP untouched)",
                      "unchanged", offer="sdes", inbound="tls"), id="off-no-nat-tls-to-udp"),
    pytest.param(Case("no-nat", ONLY_TLS_NAT + " (sdesList; no NAT: SDP untouched)",
                      "unchanged", to=SDES_ONLY), id="off-no-nat-sdesList"),
]


def run_call(running: EncryptionLab, case: Case) -> Call:
    ruri, far_end = running.far_ends[case.to]
    target, via = running.callers[case.inbound]
    provider = case.inbound.startswith("provider")
    profile, attributes = OFFERS[case.offer]
    agent = caller(running.lab.agents, PROVIDER_CALLER if provider else GENESIS, target,
                   ruri.format(port=far_end.port), profile=profile, attributes=attributes,
                   header=f"{HEADER}: {case.header}" if case.header else "",
                   transport="udp" if via == "UDP" else "tcp", via=via)
    agent.run(timeout=30)
    return Call(agent, far_end)


def assert_mode(sdp_text: str, mode: str, why: str) -> None:
    sdp = Sdp(sdp_text)
    assert sdp.profile == PROFILES[mode], f"{why}\nexpected {PROFILES[mode]}:\n{sdp_text}"
    if mode.startswith("sdes"):
        assert sdp.crypto and not sdp.fingerprint, f"{why}\nSDES only:\n{sdp_text}"
    elif mode.startswith("dtls"):
        assert sdp.fingerprint and not sdp.crypto, f"{why}\nDTLS only:\n{sdp_text}"
    else:
        assert not sdp.crypto and not sdp.fingerprint, f"{why}\nno keys:\n{sdp_text}"


def engine_complaints(text: str, call_id: str) -> list[str]:
    """rtpengine's errors and warnings about the call (an unknown flag, a refused offer)."""
    return [line for line in text.splitlines()
            if f"[{call_id}]" in line and ("ERR" in line or "WARNING" in line)]


@pytest.mark.parametrize("case", CASES)
def test_outbound_media_encryption(labs: Labs, rtpengine: MediaRtpengine, case: Case) -> None:
    running = labs.get(case.config)
    seen = len(rtpengine.log())
    call = run_call(running, case)
    assert call.caller.rc == 0, call.caller.describe()
    # the flags Kamailio sent were all understood, and nothing failed on the way
    assert not engine_complaints(rtpengine.log()[seen:], call.call_id), rtpengine.log()[seen:]
    assert not running.lab.proxy.problems(), running.lab.proxy.problems()
    invite = call.far_invite()
    # 8.1.9: the header is for this proxy only
    assert invite.header(HEADER) is None, invite.text
    sent = call.caller.sent("INVITE")[0].text.split("\n\n", 1)[1]
    far = invite.text.split("\n\n", 1)[1]
    if case.expected == "unchanged":
        assert far == sent, f"{case.manual}\n{far}"
    else:
        assert_mode(far, case.expected, case.manual)
        # the caller's own leg keeps what it offered
        assert call.answer_sdp().profile == OFFERS[case.offer][0], call.answer_sdp().text
