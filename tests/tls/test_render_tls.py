"""What tls.cfg and kamailio.cfg say for the TLS sections, without starting anything; the engine
tests beside this file show the effect."""

from __future__ import annotations

import dataclasses

from genweb.commit.snapshot import Snapshot
from genweb.kamailio import kamailio_cfg, kamailio_files
from genweb.kamailio.tlscfg import tls_cfg

SYSTEM = {"privateIP": "192.168.40.70", "privateSubnet": "24", "privatePing": "192.168.40.1"}
FAR_END = "203.0.113.5:5061"


def snapshot() -> Snapshot:
    return Snapshot.build({"systemConfig": SYSTEM, "proxyConfig": {"enableTLS": "Yes"},
                           "databaseConfig": {"dbEngine": "MySQL", "dbrwPass": "pw"}},
                          {"tlsProxyConfigs": [{"tlsDomain": FAR_END, "tlsRole": "client",
                                                "tlsVerify": "On"}],
                           "haNodes": [{"nodeID": "1", "nodeName": "n1",
                                        "privateIP": "192.168.40.71"}]})


def test_a_client_section_is_found_by_the_far_ends_address() -> None:
    # Kamailio 5.6 matches [client:ip:port] against its own local address; server_id, set by
    # the script to the next hop's ip:port, is what selects the section for that far end
    text = tls_cfg(snapshot())
    section = text.split(f"[client:{FAR_END}]\n", 1)[1].split("\n\n", 1)[0]
    assert f"server_id = {FAR_END}" in section.splitlines()
    default = text.split("[client:default]\n", 1)[1].split("\n\n", 1)[0]
    assert "server_id" not in default


def test_the_script_names_the_next_hop_for_tls() -> None:
    cfg = kamailio_cfg(snapshot())
    assert 'modparam("tls", "xavp_cfg", "tls")' in cfg
    assert '$xavp(tls=>server_id) = $(var(nh){uri.host}) + ":" + $var(tport);' in cfg
    # route SEND_SOCKET before every initial relay, route RELAY_INDLG before every in-dialog one
    assert cfg.count("route(TLS_CLIENT);") == 2
    indlg = cfg.split("route[RELAY_INDLG] {", 1)[1].split("\n}\n", 1)[0]
    assert indlg.index("route(TLS_CLIENT);") < indlg.index("t_relay()")


def test_genesis_destinations_name_their_send_socket() -> None:
    """A Genesis destination carries sockname= of its side's socket for its protocol, so the
    dispatcher's queries to a TLS Genesis leave from the private TLS socket (not from
    ds_default_socket, UDP)."""
    cfg = kamailio_cfg(snapshot())
    private_ip = SYSTEM["privateIP"]
    assert f'listen=tls:{private_ip}:5061 name "priv_tls"' in cfg
    assert f'listen=udp:{private_ip}:5060 name "priv_udp"' in cfg
    assert '$var(dsattrs) = "sockname=" + $var(out_name);' in cfg
    assert '"params":[$var(dsset),"$var(dsdst)",0,0,"$var(dsattrs)"]' in cfg


def test_keys_live_in_genproxy_pvt_readable_by_the_group() -> None:
    """9.0: key files in /etc/ssl/genproxy_pvt, group genproxy with read access; a section that
    names none uses the generated pair there (9.2.4, 9.2.5)."""
    snap = dataclasses.replace(snapshot(), generated={"kamailioDefaultKey": "KEY",
                                                      "kamailioDefaultCert": "CERT"})
    files = {item.path: item for item in kamailio_files(snap, snap.nodes[0])}
    for name in ("genproxy-default.key", "genproxy-default.crt"):
        item = files[f"/etc/ssl/genproxy_pvt/{name}"]
        assert (item.mode & 0o040, item.mode & 0o007, item.group) == (0o040, 0, "genproxy")
    text = tls_cfg(snap)
    assert 'private_key = "/etc/ssl/genproxy_pvt/genproxy-default.key"' in text
    named = Snapshot.build(
        {"systemConfig": SYSTEM, "proxyConfig": {"enableTLS": "Yes"}},
        {"tlsProxyConfigs": [{"tlsDomain": "default", "tlsRole": "server",
                              "tlsPrivateKey": "proxy.pem"}]})
    server = tls_cfg(named).split("[server:default]\n", 1)[1].split("\n\n", 1)[0]
    assert 'private_key = "/etc/ssl/genproxy_pvt/proxy.pem"' in server
    assert 'certificate = "/etc/ssl/genproxy_pvt/proxy.pem"' in server  # combined file
