"""A Genesis registered over SIPS (7.1.18-7.1.20) and dialogs with far ends over TLS.

A Genesis that REGISTERs over TLS to the private TLS port joins its dispatcher set as a
``;transport=tls`` destination. Its queries (astPingMethod every astPingInterval) and the calls
routed to it must leave from the private TLS socket (the network rule: a private destination is
reached from the private side), and the queries must mark it in and out of service.

Requests within a dialog (ACK, BYE) to a far end over TLS that open a new TLS connection must
use the far end's own client section, as the dialog's INVITE did.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.render.kamailio_helpers import MariaDB, Reply, SipClient, wait_for
from tests.sip.harness import PRIV, PUB, Lab, genesis_subscribers
from tests.tls.pki import Pki
from tests.tls.tlslab import (
    DEFAULT_CERT_PEM,
    Received,
    SipsFarEnd,
    TlsPorts,
    client_cn,
    client_context,
    sips_request,
    start_tls_lab,
)

GENESIS = "127.0.0.12"  # on the private side (/28)
FAR = "127.0.0.127"  # a far end over TLS on the public side, with its own client section
PROVIDER = "127.0.0.128"  # calls in from the public side
RELAYED = "127.0.0.129"  # in proxyList: may call the far end through the proxy
PING_INTERVAL = 2  # astPingInterval (7.1.19): a query every 2 s, answered within 2 s


@pytest.fixture(scope="module")
def genesis(pki: Pki) -> Iterator[SipsFarEnd]:
    # requires a client certificate: the test CA's, or the generated default one
    end = SipsFarEnd(GENESIS, pki.server, client_ca=pki.ca.cert, also_trusted=DEFAULT_CERT_PEM)
    yield end
    end.stop()


@pytest.fixture(scope="module")
def far(pki: Pki) -> Iterator[SipsFarEnd]:
    # answers INVITE 200 and closes its connection after every answer (and ACK), so that each
    # request within the dialog comes over a new TLS connection the proxy opens
    end = SipsFarEnd(FAR, pki.server, client_ca=pki.ca.cert, also_trusted=DEFAULT_CERT_PEM,
                     close_after=True, invite_code=200)
    yield end
    end.stop()


@pytest.fixture(scope="module")
def ports() -> TlsPorts:
    return TlsPorts()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, tls_mariadb: MariaDB, pki: Pki,
        ports: TlsPorts, genesis: SipsFarEnd, far: SipsFarEnd) -> Iterator[Lab]:
    keys: dict[str, Path] = {"client.key": pki.client.key, "client.crt": pki.client.cert}
    client_section = {"tlsRole": "client", "tlsVerify": "On", "tlsCaList": str(pki.ca.cert),
                      "tlsPrivateKey": "client.key", "tlsCertificate": "client.crt"}
    records = {"tlsProxyConfigs": [{"tlsDomain": "default", "tlsRole": "server"},
                                   {"tlsDomain": "default", "tlsRole": "client"},
                                   {**client_section, "tlsDomain": genesis.uri_host},
                                   {**client_section, "tlsDomain": far.uri_host}],
               "subscribers": genesis_subscribers("genesis_a-1")}
    started = start_tls_lab(tmp_path_factory.mktemp("sips-genesis"), tls_mariadb, ports,
                            {"enableTLS": "Yes", "proxyList": RELAYED,
                             "astPingInterval": str(PING_INTERVAL)}, records, keys)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def registered(lab: Lab, ports: TlsPorts, genesis: SipsFarEnd) -> str:
    """The Genesis REGISTERs over SIPS to the private TLS port: its destination URI."""
    reply = sips_request(
        PRIV, ports.private_tls, client_context(), genesis.ip, "REGISTER",
        f"sip:{PRIV}:{ports.private_tls};transport=tls", to=f"sip:genesis_a-1@{PRIV}",
        extra=(f"Contact: <sip:genesis_a-1@{genesis.uri_host};transport=tls>;expires=600",))
    assert reply.ok, reply
    destination = f"sip:{genesis.uri_host};transport=tls"
    wait_for(lambda: destination in lab.proxy.destinations(), what="the Genesis destination")
    return destination


def top_via(received: Received) -> str:
    return received.message.header("Via") or ""


def flags(lab: Lab, destination: str) -> str:
    return lab.proxy.destinations()[destination][1]


def from_private_tls(received: Received, ports: TlsPorts) -> bool:
    """Sent from the private TLS socket: the connection comes from privateIP and the Via names
    the private TLS socket."""
    return (received.peer[0] == PRIV
            and top_via(received).startswith(f"SIP/2.0/TLS {PRIV}:{ports.private_tls};"))


# -- a Genesis registered over TLS --------------------------------------------------------------


def test_queries_reach_a_tls_genesis_from_the_private_tls_socket(
        lab: Lab, ports: TlsPorts, genesis: SipsFarEnd, registered: str) -> None:
    before = len(genesis.requests("OPTIONS"))
    wait_for(lambda: len(genesis.requests("OPTIONS")) >= before + 2, timeout=4 * PING_INTERVAL,
             what="two queries over TLS")
    queries = genesis.requests("OPTIONS")
    assert all(from_private_tls(item, ports) for item in queries), \
        [(item.peer, top_via(item)) for item in queries]
    # answered: in service (A), probed (P)
    assert flags(lab, registered) == "AP", lab.proxy.destinations()
    assert "mismatch" not in lab.proxy.log(), [
        line for line in lab.proxy.log().splitlines() if "mismatch" in line]
    assert not lab.proxy.problems(), lab.proxy.problems()


def test_the_row_names_the_socket_and_loads_again(lab: Lab, registered: str) -> None:
    """The database row (read at every start and failover) carries the socket by name; a
    reload from it keeps the destination with its socket."""
    assert lab.proxy.sql("SELECT destination, attrs FROM dispatcher") == [
        [registered, "sockname=priv_tls"]]
    lab.proxy.rpc("dispatcher.reload")
    assert registered in lab.proxy.destinations()
    assert "sockname=priv_tls" in lab.proxy.rpc("dispatcher.list")
    assert not lab.proxy.problems(), lab.proxy.problems()


def test_a_silent_tls_genesis_goes_out_of_service_and_comes_back(
        lab: Lab, genesis: SipsFarEnd, registered: str) -> None:
    wait_for(lambda: flags(lab, registered) == "AP", timeout=4 * PING_INTERVAL,
             what="the Genesis in service")
    genesis.silent = True
    try:
        # an unanswered query (PING_INTERVAL s) marks it inactive (7.1.16)
        wait_for(lambda: flags(lab, registered).startswith("I"), timeout=5 * PING_INTERVAL,
                 what="the silent Genesis out of service")
    finally:
        genesis.silent = False
    wait_for(lambda: flags(lab, registered) == "AP", timeout=5 * PING_INTERVAL,
             what="the answering Genesis back in service")
    assert f"dispatcher.dst-down: {registered}" in lab.proxy.log()
    assert f"dispatcher.dst-up: {registered}" in lab.proxy.log()


def test_a_call_reaches_a_tls_genesis_from_the_private_tls_socket(
        lab: Lab, ports: TlsPorts, genesis: SipsFarEnd, registered: str) -> None:
    wait_for(lambda: flags(lab, registered) == "AP", timeout=4 * PING_INTERVAL,
             what="the Genesis in service")
    caller = SipClient(PROVIDER)
    try:
        reply = caller.request("INVITE", f"sip:5551234@{PUB}:{ports.public}", (PUB, ports.public),
                               headers=[f"Contact: <sip:caller@{PROVIDER}:{caller.port}>"],
                               timeout=8)
    finally:
        caller.close()
    assert reply and reply.code == 486, reply
    invites = genesis.requests("INVITE")
    assert len(invites) == 1 and from_private_tls(invites[0], ports), \
        [(item.peer, top_via(item)) for item in invites]
    # the queries that follow come over the same connection: one TLS connection from the
    # private socket carries both, with the client certificate of whichever opened it
    # (docs/tls.md)
    count = len(genesis.received)
    wait_for(lambda: genesis.requests("OPTIONS") and len(genesis.received) > count,
             timeout=4 * PING_INTERVAL, what="a query after the call")
    query = genesis.requests("OPTIONS")[-1]
    assert (query.peer, client_cn(query)) == (invites[0].peer, client_cn(invites[0]))


# -- requests within a dialog over TLS ------------------------------------------------------------


def tcp_peers(lab: Lab) -> str:
    """core.tcp_list: Kamailio's open TCP/TLS connections."""
    return lab.proxy.rpc("core.tcp_list")


def wait_closed(lab: Lab, far: SipsFarEnd, count: int) -> None:
    """The far end closed its connections; wait until Kamailio has noticed, so that the next
    request to it opens a new one (instead of being written into a closing one)."""
    wait_for(lambda: len(far.received) >= count, what=f"{count} requests at the far end")
    wait_for(lambda: far.ip not in tcp_peers(lab), timeout=5,
             what="Kamailio to drop the closed connection")


def in_dialog(method: str, client: SipClient, ok: Reply, cseq: int,
              target: tuple[str, int]) -> None:
    """ACK or BYE of the caller (UAC) for the dialog the 200 ``ok`` set up: to its Contact,
    along the reversed Record-Route."""
    routes = [route.strip() for name, value in ok.headers if name.lower() == "record-route"
              for route in value.split(",")]
    contact = (ok.header("Contact") or "").strip("<>")
    branch = uuid.uuid4().hex
    lines = [f"{method} {contact} SIP/2.0",
             f"Via: SIP/2.0/UDP {client.host}:{client.port};rport;branch=z9hG4bK{branch}",
             "Max-Forwards: 70", *(f"Route: {route}" for route in reversed(routes)),
             f"From: {ok.header('From')}", f"To: {ok.header('To')}",
             f"Call-ID: {ok.header('Call-ID')}", f"CSeq: {cseq} {method}", "Content-Length: 0",
             "", ""]
    client.sock.sendto("\r\n".join(lines).encode(), target)


def test_requests_in_a_dialog_open_tls_with_the_far_ends_client_section(
        lab: Lab, ports: TlsPorts, far: SipsFarEnd) -> None:
    """The far end closes its connection after the 200 and after the ACK: the ACK and the BYE
    each open a new TLS connection from the proxy, with the client certificate of the far end's
    own section (the default one would be "genproxy default")."""
    client = SipClient(RELAYED)
    try:
        call_id = uuid.uuid4().hex
        ok = client.request("INVITE", f"sip:5551234@{far.uri_host};transport=tls",
                            (PRIV, ports.private), call_id=call_id,
                            headers=[f"Contact: <sip:caller@{RELAYED}:{client.port}>"],
                            timeout=8)
        assert ok and ok.code == 200, ok
        wait_closed(lab, far, 1)
        in_dialog("ACK", client, ok, 1, (PRIV, ports.private))
        wait_closed(lab, far, 2)
        in_dialog("BYE", client, ok, 2, (PRIV, ports.private))
        bye = client.final_reply(call_id, 8)
    finally:
        client.close()
    assert bye and bye.code == 200, bye
    seen = [(item.message.raw.split(" ", 1)[0], client_cn(item), item.peer)
            for item in far.received]
    assert [method for method, _, _ in seen] == ["INVITE", "ACK", "BYE"], seen
    # three connections, each with the far end's section's certificate
    assert len({peer for _, _, peer in seen}) == 3, seen
    assert {cn for _, cn, _ in seen} == {"client"}, seen
