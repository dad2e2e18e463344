"""SIPS (3.4, 3.9, 7.1.3, 7.1.4, 9.2): with enableTLS Yes the proxy speaks TLS on its private and
public TLS ports with the profiles tls.cfg renders from the Proxy TLS Configuration sections.

One proxy serves the module. The private TLS socket's server section changes from test to test
the way a live commit changes it (a new tls.cfg, then ``tls.reload``); a Python ssl client
shows what each setting does to a SIPS peer. Far ends that speak SIP over TLS (Python ssl
servers) show the client role, where the proxy connects out.
"""

from __future__ import annotations

import ssl
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.render.kamailio_helpers import MariaDB, SipClient, wait_for
from tests.sip.harness import PRIV, PUB, Lab, genesis_subscribers
from tests.tls.pki import Pair, Pki
from tests.tls.tlslab import (
    DEFAULT_CERT_PEM,
    SipsFarEnd,
    TlsPorts,
    cert_requested,
    client_cn,
    client_context,
    pem,
    sips_options,
    sips_request,
    start_tls_lab,
    tls_sockets,
)

PEER = "127.0.0.130"  # a SIPS client in allowList: its OPTIONS for the proxy get a 200
RELAYED = "127.0.0.131"  # in proxyList: may send requests anywhere through the proxy
FAR = {"trusted": "127.0.0.120", "untrusted": "127.0.0.121", "loose": "127.0.0.122",
       "by_path": "127.0.0.123", "modes": "127.0.0.125",
       "genesis": "127.0.0.11"}  # on the private side (/28)
PROVIDER = "127.0.0.126"  # calls in from the public side


@pytest.fixture(scope="module")
def far_ends(pki: Pki) -> Iterator[dict[str, SipsFarEnd]]:
    ends = {"trusted": SipsFarEnd(FAR["trusted"], pki.server, client_ca=pki.ca.cert),
            "untrusted": SipsFarEnd(FAR["untrusted"], pki.untrusted_server),
            "loose": SipsFarEnd(FAR["loose"], pki.untrusted_server),
            "by_path": SipsFarEnd(FAR["by_path"], pki.server),
            "modes": SipsFarEnd(FAR["modes"], pki.untrusted_server, close_after=True),
            # requires a client certificate: the test CA's, or the generated default one;
            # closes after each answer, so that every request opens (and shows) its own
            # connection: queries and calls to a Genesis leave from the same private TLS socket
            # and would otherwise share the connection whichever of them opened first
            "genesis": SipsFarEnd(FAR["genesis"], pki.server, client_ca=pki.ca.cert,
                                  also_trusted=DEFAULT_CERT_PEM, close_after=True)}
    yield ends
    for end in ends.values():
        end.stop()


@pytest.fixture(scope="module")
def ports() -> TlsPorts:
    return TlsPorts()


def fixed_sections(ports: TlsPorts, pki: Pki, far: Mapping[str, SipsFarEnd],
                   client_mode: str = "Off") -> list[dict]:
    """The defaults, the public socket's server section (no key: the generated pair) and the
    client sections for the far ends (``client_mode``: tlsVerify of the "modes" one)."""
    return [
        {"tlsDomain": "default", "tlsRole": "server"},
        {"tlsDomain": "default", "tlsRole": "client"},  # tlsVerify Default: any server
        {"tlsDomain": f"{PUB}:{ports.public_tls}", "tlsRole": "server"},
        {"tlsDomain": far["trusted"].uri_host, "tlsRole": "client", "tlsVerify": "On",
         "tlsCaList": str(pki.ca.cert), "tlsPrivateKey": "client.key",
         "tlsCertificate": "client.crt"},
        {"tlsDomain": far["untrusted"].uri_host, "tlsRole": "client", "tlsVerify": "On",
         "tlsCaList": str(pki.ca.cert)},
        {"tlsDomain": far["by_path"].uri_host, "tlsRole": "client", "tlsVerify": "On",
         "tlsCaPath": str(pki.ca_path)},
        {"tlsDomain": far["modes"].uri_host, "tlsRole": "client", "tlsVerify": client_mode,
         "tlsCaList": str(pki.ca.cert)},
        {"tlsDomain": far["genesis"].uri_host, "tlsRole": "client", "tlsVerify": "On",
         "tlsCaList": str(pki.ca.cert), "tlsPrivateKey": "client.key",
         "tlsCertificate": "client.crt"},
    ]


def private_section(ports: TlsPorts, **settings: str) -> dict[str, str]:
    return {"tlsDomain": f"{PRIV}:{ports.private_tls}", "tlsRole": "server",
            "tlsPrivateKey": "server.key", "tlsCertificate": "server.crt", **settings}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, tls_mariadb: MariaDB, pki: Pki,
        ports: TlsPorts, far_ends: dict[str, SipsFarEnd]) -> Iterator[Lab]:
    keys: dict[str, Path] = {}
    for pair in (pki.server, pki.client):
        keys[f"{pair.name}.key"], keys[f"{pair.name}.crt"] = pair.key, pair.cert
    keys["server-combined.pem"] = pki.combined(pki.server)
    records = {"tlsProxyConfigs": [*fixed_sections(ports, pki, far_ends),
                                   private_section(ports, tlsVerify="Off")],
               "subscribers": genesis_subscribers("genesis_a-1")}
    # Genesis queries every 2 s (7.1.19), so that one goes out over TLS during the module
    started = start_tls_lab(tmp_path_factory.mktemp("sips"), tls_mariadb, ports,
                            {"enableTLS": "Yes", "allowList": PEER, "proxyList": RELAYED,
                             "astPingInterval": "2"},
                            records, keys)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def private(lab: Lab, pki: Pki, ports: TlsPorts, far_ends: dict[str, SipsFarEnd]):
    """Sets the private TLS socket's server section (a live commit: tls.cfg + tls.reload)."""

    def configure(client_mode: str = "Off", **settings: str) -> None:
        lab.proxy.reload_tls([*fixed_sections(ports, pki, far_ends, client_mode),
                              private_section(ports, **settings)])

    return configure


def options(ports: TlsPorts, cert: Pair | None = None, **context: object):
    return sips_options(PRIV, ports.private_tls, client_context(cert, **context), PEER)


# -- listening sockets, key and certificate --------------------------------------------------


def test_tls_on_the_private_and_public_ports(lab: Lab, pki: Pki, ports: TlsPorts,
                                             private) -> None:
    private(tlsVerify="Off")
    sockets = tls_sockets(lab)
    assert {("tls", PRIV, str(ports.private_tls), "-"),
            ("tls", PUB, str(ports.public_tls), "-")} <= sockets, sockets
    # private side: the section's own key and certificate, valid for the test CA and 127.0.0.1
    result = sips_options(PRIV, ports.private_tls, client_context(ca=pki.ca.cert), PEER,
                          server_name=PRIV)
    assert result.ok, result
    assert result.server_cert == pem(pki.server.cert)
    assert result.version in ("TLSv1.2", "TLSv1.3")
    # public side: no key named, so the generated default pair (9.2.4, 9.2.5)
    result = sips_options(PUB, ports.public_tls, client_context(), PEER)
    assert result.ok, result
    assert result.server_cert == ssl.PEM_cert_to_DER_cert(DEFAULT_CERT_PEM)
    assert not lab.proxy.problems(), lab.proxy.problems()


def test_a_combined_key_and_certificate_file(lab: Lab, pki: Pki, ports: TlsPorts,
                                             private) -> None:
    private(tlsPrivateKey="server-combined.pem", tlsCertificate="")
    result = options(ports)
    assert result.ok, result
    assert result.server_cert == pem(pki.server.cert)


# -- tlsVerify for the server role (9.2.6) ----------------------------------------------------

# mode -> (asks for a certificate, answered without one, with a trusted one, with an untrusted one)
SERVER_MODES = {
    "Default": (False, True, True, True),
    "Off": (False, True, True, True),
    "On": (True, False, True, False),
    "Optional": (True, True, True, False),
    "Optional No CA": (True, True, True, True),
}


@pytest.mark.parametrize("mode", SERVER_MODES)
def test_server_verification_mode(mode: str, pki: Pki, ports: TlsPorts, private) -> None:
    private(tlsVerify=mode, tlsCaList=str(pki.ca.cert))
    asks, bare, trusted, untrusted = SERVER_MODES[mode]
    assert cert_requested(PRIV, ports.private_tls) is asks
    seen = {"none": options(ports).ok, "trusted": options(ports, pki.client).ok,
            "untrusted": options(ports, pki.untrusted_client).ok}
    assert seen == {"none": bare, "trusted": trusted, "untrusted": untrusted}


def test_crl_refuses_a_revoked_client(pki: Pki, ports: TlsPorts, private) -> None:
    private(tlsVerify="On", tlsCaList=str(pki.ca.cert))
    assert options(ports, pki.revoked_client).ok  # signed by the CA: fine without the CRL
    private(tlsVerify="On", tlsCaList=str(pki.ca.cert), tlsCrl=str(pki.crl))
    assert not options(ports, pki.revoked_client).ok
    assert options(ports, pki.client).ok


def test_ca_path_and_ca_list(pki: Pki, ports: TlsPorts, private) -> None:
    # tlsCaPath: a hashed directory holding the test CA (9.2.8)
    private(tlsVerify="On", tlsCaPath=str(pki.ca_path))
    assert options(ports, pki.client).ok
    assert not options(ports, pki.untrusted_client).ok
    # tlsCaList wins over tlsCaPath (9.2.9): only the other CA is trusted now
    private(tlsVerify="On", tlsCaPath=str(pki.ca_path), tlsCaList=str(pki.other_ca.cert))
    assert not options(ports, pki.client).ok
    assert options(ports, pki.untrusted_client).ok


def test_verify_depth(pki: Pki, ports: TlsPorts, private) -> None:
    # client <- inter2 <- inter1 <- CA: one level too deep for a depth of 1 (9.2.7)
    private(tlsVerify="On", tlsCaList=str(pki.ca.cert), tlsVerifyDepth="1")
    assert not options(ports, pki.deep_client).ok
    private(tlsVerify="On", tlsCaList=str(pki.ca.cert), tlsVerifyDepth="2")
    assert options(ports, pki.deep_client).ok


def test_method(ports: TlsPorts, private) -> None:
    private(method="TLSv1.2")
    assert not options(ports, minimum=ssl.TLSVersion.TLSv1_3).ok
    result = options(ports)
    assert result.ok and result.version == "TLSv1.2", result
    private(method="Default")  # TLSv1.2+ (9.2.3): TLS 1.3 too
    result = options(ports, minimum=ssl.TLSVersion.TLSv1_3)
    assert result.ok and result.version == "TLSv1.3", result


def test_cipher_list(ports: TlsPorts, private) -> None:
    # TLS 1.2: a cipher list names TLS 1.2 suites (1.3 has its own, fixed here)
    private(method="TLSv1.2", tlsCipherList="ECDHE-ECDSA-AES256-GCM-SHA384")
    assert not options(ports, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256").ok
    assert options(ports, ciphers="ECDHE-ECDSA-AES256-GCM-SHA384").ok
    private(method="TLSv1.2")
    assert options(ports, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256").ok


# -- the client role: the proxy connects out over TLS (9.2.6) -----------------------------------


def relay_options(lab: Lab, far: SipsFarEnd, port: int) -> int:
    """OPTIONS for the far end, sent through the proxy's private UDP socket: the final code, or
    0 as soon as the proxy has logged that its TLS connection to the far end failed (tm would
    answer 408 only after fr_timer, 10 s)."""
    client = SipClient(RELAYED)
    logged = len(lab.proxy.log())
    try:
        call_id = uuid.uuid4().hex
        reply = client.request("OPTIONS", f"sip:probe@{far.uri_host};transport=tls",
                               (PRIV, port), call_id=call_id, timeout=0.2)
        if reply is None:
            wait_for(lambda: (far.received and far.received[-1].message.header("Call-ID") == call_id)
                     or f"src addr: {far.uri_host}" in lab.proxy.log()[logged:], timeout=10,
                     what=f"the OPTIONS to reach {far.uri_host} or its TLS failure")
            reply = client.final_reply(call_id, 3) if far.received and far.received[
                -1].message.header("Call-ID") == call_id else None
    finally:
        client.close()
    return reply.code if reply else 0


def test_client_verification(lab: Lab, far_ends: dict[str, SipsFarEnd], ports: TlsPorts,
                             private) -> None:
    private(tlsVerify="Off")
    # On, the far end's certificate from the test CA: delivered, with the client certificate
    # the section names (the far end requires one)
    assert relay_options(lab, far_ends["trusted"], ports.private) == 200, far_ends["trusted"].failures
    received = far_ends["trusted"].requests("OPTIONS")
    assert received and dict(item[0] for item in received[-1].peer_cert["subject"]) == {
        "commonName": "client"}
    # On, a certificate from another CA: the proxy refuses to talk
    assert relay_options(lab, far_ends["untrusted"], ports.private) != 200
    assert not far_ends["untrusted"].received
    # no section of its own: [client:default], tlsVerify Default accepts any certificate
    assert relay_options(lab, far_ends["loose"], ports.private) == 200
    assert far_ends["loose"].requests("OPTIONS")
    # On with tlsCaPath
    assert relay_options(lab, far_ends["by_path"], ports.private) == 200


# 9.2.6 for clients: Default/Off accept any certificate; On verifies; the two Optional modes
# "probably behave as On" (they do: OpenSSL verifies a server whenever asked to)
CLIENT_MODES = {"Default": True, "Off": True, "On": False, "Optional": False,
                "Optional No CA": False}


@pytest.mark.parametrize("mode", CLIENT_MODES)
def test_client_verification_mode(mode: str, lab: Lab, far_ends: dict[str, SipsFarEnd],
                                  ports: TlsPorts, private) -> None:
    """The far end presents a certificate from another CA."""
    private(client_mode=mode, tlsVerify="Off")
    far = far_ends["modes"]
    before = len(far.received)
    code = relay_options(lab, far, ports.private)
    assert (code == 200, len(far.received) > before) == (CLIENT_MODES[mode],) * 2, code


def test_record_route_keeps_sips_when_rr_ignore_sips_is_no(lab: Lab, ports: TlsPorts,
                                                          far_ends: dict[str, SipsFarEnd],
                                                          private) -> None:
    """7.1.4: rrIgnoreSips No: Record-Route takes the Request-URI's scheme (sips:)."""
    private(tlsVerify="Off")
    far = far_ends["trusted"]
    client = SipClient(RELAYED)
    try:
        reply = client.request("INVITE", f"sips:5551234@{far.uri_host}", (PRIV, ports.private),
                               headers=[f"Contact: <sip:tls-test@{RELAYED}:{client.port}>"],
                               timeout=8)
    finally:
        client.close()
    assert reply and reply.code == 486, reply
    routes = [value for name, value in far.requests("INVITE")[-1].message.headers
              if name.lower() == "record-route"]
    assert routes and all(route.startswith("<sips:") for route in routes), routes


def between_queries(genesis: SipsFarEnd) -> None:
    """Returns just after a query's connection has closed, ~2 s before the next query. A call
    sent while a query's connection is open would share it (and its client section), and the
    far end, closing after each answer, would drop the INVITE: tm's 408, not the proxy's fault."""
    seen = len(genesis.requests("OPTIONS"))
    wait_for(lambda: len(genesis.requests("OPTIONS")) > seen and not genesis.open, timeout=8,
             what="a query to the Genesis, answered and its connection closed")
    time.sleep(0.3)  # Kamailio's TCP main process reads the close too


def test_genesis_registered_over_tls_is_called_with_its_client_section(
        lab: Lab, far_ends: dict[str, SipsFarEnd], ports: TlsPorts, private) -> None:
    """A Genesis registers over SIPS with a ;transport=tls Contact; a call that opens a TLS
    connection to it uses the client section for its <ip>:<port> (the client certificate that
    section names). The dispatcher's queries (7.1.18) reach it too, but open theirs with
    [client:default]: Kamailio 5.6 lets no script choose the section of tm's own requests
    (docs/tls.md)."""
    private(tlsVerify="Off")
    genesis = far_ends["genesis"]
    registered = sips_request(
        PRIV, ports.private_tls, client_context(), genesis.ip, "REGISTER",
        f"sip:{PRIV}:{ports.private_tls};transport=tls", to=f"sip:genesis_a-1@{PRIV}",
        extra=(f"Contact: <sip:genesis_a-1@{genesis.uri_host};transport=tls>;expires=600",))
    assert registered.ok, registered
    destination = f"sip:{genesis.uri_host};transport=tls"
    wait_for(lambda: destination in lab.proxy.destinations(), what="the Genesis destination")
    between_queries(genesis)
    # a call from the public side
    caller = SipClient(PROVIDER)
    try:
        reply = caller.request("INVITE", f"sip:5551234@{PUB}:{ports.public}", (PUB, ports.public),
                               headers=[f"Contact: <sip:caller@{PROVIDER}:{caller.port}>"],
                               timeout=8)
    finally:
        caller.close()
    assert reply and reply.code == 486, reply
    assert [client_cn(item) for item in genesis.requests("INVITE")] == ["client"]
    # the queries: answered, so the Genesis stays in service
    wait_for(lambda: genesis.requests("OPTIONS"), timeout=8, what="a query over TLS")
    assert {client_cn(item) for item in genesis.requests("OPTIONS")} == {"genproxy default"}
    assert lab.proxy.destinations()[destination][1].startswith("A"), lab.proxy.destinations()
