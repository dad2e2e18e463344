"""SIPS behind a router (3.12-3.14) and rrIgnoreSips Yes (7.1.4).

With mappedIP the public TLS socket is bound on mappedIP:mappedPortTLS and advertised as
publicIP:publicPortTLS; rrIgnoreSips Yes makes every Record-Route ``sip:`` even for a sips:
Request-URI.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.render.kamailio_helpers import MariaDB, SipClient, free_port
from tests.sip.harness import PRIV, PUB, Lab
from tests.tls.pki import Pki
from tests.tls.tlslab import (
    SipsFarEnd,
    TlsPorts,
    client_context,
    sips_options,
    start_tls_lab,
    tls_sockets,
)

MAPPED = "127.0.0.4"
PEER, RELAYED, FAR = "127.0.0.130", "127.0.0.131", "127.0.0.124"


@pytest.fixture(scope="module")
def mapped_ports() -> tuple[int, int]:
    return free_port(host=MAPPED), free_port(host=MAPPED)


@pytest.fixture(scope="module")
def far(pki: Pki) -> Iterator[SipsFarEnd]:
    end = SipsFarEnd(FAR, pki.server)
    yield end
    end.stop()


@pytest.fixture(scope="module")
def ports() -> TlsPorts:
    return TlsPorts()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, tls_mariadb: MariaDB, ports: TlsPorts,
        mapped_ports: tuple[int, int], far: SipsFarEnd) -> Iterator[Lab]:
    mapped, mapped_tls = mapped_ports
    started = start_tls_lab(
        tmp_path_factory.mktemp("sips-mapped"), tls_mariadb, ports,
        {"enableTLS": "Yes", "rrIgnoreSips": "Yes", "allowList": PEER, "proxyList": RELAYED},
        {}, {}, system={"mappedIP": MAPPED, "mappedPort": str(mapped),
                        "mappedPortTLS": str(mapped_tls)})
    try:
        yield started
    finally:
        started.stop()


def test_tls_on_the_private_and_mapped_ports(lab: Lab, ports: TlsPorts,
                                             mapped_ports: tuple[int, int]) -> None:
    _, mapped_tls = mapped_ports
    for host, port in ((PRIV, ports.private_tls), (MAPPED, mapped_tls)):
        result = sips_options(host, port, client_context(), PEER)
        assert result.ok, (host, port, result)
    # the mapped TLS socket says it is the public one (3.12); the advertised port shows in
    # Record-Route (below)
    assert ("tls", MAPPED, str(mapped_tls), PUB) in tls_sockets(lab), tls_sockets(lab)
    # nothing listens on the public address itself: the router forwards to mappedIP
    assert not sips_options(PUB, ports.public_tls, client_context(), PEER, timeout=2).ok


def test_rr_ignore_sips_yes_records_sip_routes(lab: Lab, ports: TlsPorts,
                                               far: SipsFarEnd) -> None:
    client = SipClient(RELAYED)
    try:
        reply = client.request("INVITE", f"sips:5551234@{far.uri_host}", (PRIV, ports.private),
                               headers=[f"Contact: <sip:tls-test@{RELAYED}:{client.port}>"],
                               timeout=14)
    finally:
        client.close()
    assert reply and reply.code == 486, reply
    routes = [value for name, value in far.requests("INVITE")[-1].message.headers
              if name.lower() == "record-route"]
    assert routes and all(route.startswith("<sip:") for route in routes), routes
    # the far end is told the public (advertised) TLS address, not mappedIP
    assert any(f"{PUB}:{ports.public_tls};transport=tls" in route for route in routes), routes
