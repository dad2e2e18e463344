"""tls.cfg keeps Kamailio startable: a server profile only for a socket it listens on with TLS."""

from __future__ import annotations

from genweb.commit.snapshot import Snapshot
from genweb.kamailio.tlscfg import tls_cfg

SYSTEM = {"privateIP": "192.168.40.70", "privateSubnet": "24", "privatePing": "192.168.40.1"}


def test_a_server_section_for_a_foreign_address_is_left_out_and_said_so():
    snapshot = Snapshot.build(
        {"systemConfig": SYSTEM, "proxyConfig": {"enableTLS": "Yes"}},
        {"tlsProxyConfigs": [{"tlsDomain": "192.0.2.20:5061", "tlsRole": "server"},
                             {"tlsDomain": "192.0.2.20:5061", "tlsRole": "client"},
                             {"tlsDomain": "192.168.40.70:5061", "tlsRole": "server"}]})
    text = tls_cfg(snapshot)
    assert "\n[server:192.168.40.70:5061]\n" in text  # the proxy's own private TLS socket
    assert "\n[client:192.0.2.20:5061]\n" in text  # a client profile for a far end is fine
    assert "\n[server:192.0.2.20:5061]\n" not in text
    assert "# [server:192.0.2.20:5061] is not one of this proxy's TLS sockets" in text
