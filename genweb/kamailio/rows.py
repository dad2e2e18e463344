"""The proxy database rows Kamailio reads, in Kamailio 5.6's column names
(/usr/share/kamailio/mysql/*-create.sql): subscriber (11), uacreg (12), address (7.1.11-7.1.13,
8.1.10-8.1.12, and the cluster's own addresses, 7.1.12).

The commit replaces these tables' contents with the rows; ``RUNTIME_TABLES`` belong to Kamailio
(registrations, Genesis destinations, the primary set) and must never be replaced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..catalogue import validators as v
from ..commit.snapshot import Snapshot
from . import model as m

Row = dict[str, str | int | None]

# Tables kamailio.cfg needs in the proxy database (module schema files of the same names).
KAMAILIO_TABLES = ("version", "subscriber", "location", "location_attrs", "address", "uacreg",
                   "dispatcher", "htable")
# Written by Kamailio at run time: usrloc (location), GENESIS_REGISTER (dispatcher) and the
# persistent primary set (htable key 'primary').
RUNTIME_TABLES = ("location", "location_attrs", "dispatcher", "htable")


# -- subscriber ------------------------------------------------------------------------------


def subscriber_row(record: Mapping[str, str]) -> Row:
    """11.2: HA1/HA1B from the password when one is set (it overrides the hashes, 11.2.3), else
    the operator's hashes. The plain password stays in genweb: Kamailio only needs the hashes
    (auth_db calculate_ha1 = 0), and the database is replicated and downloadable (14.0)."""
    user, domain, password = record["username"], record["domain"], record["password"]
    if password:
        ha1 = m.md5_hex(f"{user}:{domain}:{password}")
        ha1b = m.md5_hex(f"{user}@{domain}:{domain}:{password}")
    else:
        ha1, ha1b = record["ha1"].lower(), record["ha1b"].lower()
    return {"username": user, "domain": domain, "password": "", "ha1": ha1, "ha1b": ha1b}


# -- uacreg ----------------------------------------------------------------------------------


def _uri_transport(uri: str) -> str:
    params = uri.lower().split(";")[1:]
    for param in params:
        name, _, value = param.partition("=")
        if name == "transport" and value in ("tcp", "tls"):
            return value
    return "tls" if uri.lower().startswith("sips:") else "udp"


def _socket_ports(snapshot: Snapshot) -> dict[str, tuple[str, int, int]]:
    """Addresses an operator may name in `socket` (12.2.14) -> the address Kamailio binds and
    its SIP / SIPS ports; publicIP maps to mappedIP when a router forwards to it."""
    s = m.SYSTEM
    ports = {snapshot.value(s, "privateIP"): (snapshot.value(s, "privateIP"),
                                             int(snapshot.value(s, "privatePort")),
                                             int(snapshot.value(s, "privatePortTLS")))}
    mapped_ip, public_ip = snapshot.value(s, "mappedIP"), snapshot.value(s, "publicIP")
    if mapped_ip:
        bound = (mapped_ip, int(snapshot.value(s, "mappedPort")),
                 int(snapshot.value(s, "mappedPortTLS")))
        ports[mapped_ip] = bound
        if public_ip:
            ports[public_ip] = bound
    elif public_ip:
        ports[public_ip] = (public_ip, int(snapshot.value(s, "publicPort")),
                            int(snapshot.value(s, "publicPortTLS")))
    return ports


def default_socket_ip(snapshot: Snapshot) -> str:
    """12.2.14: the public network's socket, or the private one without a public network."""
    s = m.SYSTEM
    return (snapshot.value(s, "mappedIP") or snapshot.value(s, "publicIP")
            or snapshot.value(s, "privateIP"))


def uac_socket(snapshot: Snapshot, value: str, transport: str) -> str:
    """12.2.14: ``[<proto>:]<ip>[:<port>]`` completed to proto:ip:port. The port defaults by
    protocol and address; with a port and no protocol, a SIPS port means tls."""
    parts = value.split(":") if value else [default_socket_ip(snapshot)]
    proto = parts.pop(0).lower() if not v.is_ipv4(parts[0]) else ""
    ip, port = parts[0], int(parts[1]) if len(parts) > 1 else None
    bound_ip, sip_port, sips_port = _socket_ports(snapshot).get(ip, (ip, 5060, 5061))
    if not proto:
        if port is not None:
            proto = "tls" if port == sips_port else "udp"
        else:
            proto = transport if not value else "udp"
    if port is None:
        port = sips_port if proto == "tls" else sip_port
    return f"{proto}:{bound_ip}:{port}"


def auth_proxy(value: str, r_domain: str) -> str:
    """12.2.10: sip: when no scheme is given; the remote domain when blank."""
    value = value or r_domain
    return value if value.lower().startswith(("sip:", "sips:")) else f"sip:{value}"


# uac ignores a uacreg row without auth_username or without any password ("empty value not
# allowed", "no password value provided"), but a provider may register without authentication
# (12.2.7 only applies "when authentication is required"): such a row gets r_username and this
# stand-in, which only a registrar that does challenge ever sees (and refuses, as it should).
NO_PASSWORD = "-"


def uacreg_row(snapshot: Snapshot, record: Mapping[str, str]) -> Row:
    """12.2: with a password and a realm the row carries their HA1 instead of the password
    (auth_ha1 has priority in uac); without a realm uac needs the password itself."""
    proxy = auth_proxy(record["auth_proxy"], record["r_domain"])
    transport = _uri_transport(proxy)
    password, realm = record["auth_password"], record["realm"]
    user = record["auth_username"] or record["r_username"]
    if password and realm:
        auth_password, auth_ha1 = "", m.md5_hex(f"{user}:{realm}:{password}")
    elif password:
        auth_password, auth_ha1 = password, ""
    elif record["auth_ha1"]:
        auth_password, auth_ha1 = "", record["auth_ha1"].lower()
    else:
        auth_password, auth_ha1 = NO_PASSWORD, ""
    return {
        "l_uuid": record["l_uuid"], "l_username": record["l_username"],
        "l_domain": record["l_domain"], "r_username": record["r_username"],
        "r_domain": record["r_domain"], "realm": realm, "auth_username": user,
        "auth_password": auth_password, "auth_ha1": auth_ha1, "auth_proxy": proxy,
        "expires": int(record["expires"]), "flags": 0, "reg_delay": int(record["reg_delay"]),
        "contact_addr": record["reg_contact_addr"] or m.default_contact(
            snapshot, tls=transport == "tls"),
        "socket": uac_socket(snapshot, record["socket"], transport),
    }


# -- address ---------------------------------------------------------------------------------


def address_entries(text: str) -> Iterable[tuple[str, int, int]]:
    """``<IP>[:<port>][/<subnet>]`` entries -> (ip, prefix length, port; 0 = any port)."""
    for entry in v.split_entries(text):
        head, _, mask = entry.partition("/")
        ip, _, port = head.partition(":")
        yield ip, v.parse_mask(mask) if mask else 32, int(port) if port else 0


def host_entries(text: str) -> Iterable[tuple[str, int, int]]:
    """``<address>[:<port>]`` or ``<host>[:<port>]``: permissions matches host names exactly."""
    for entry in v.split_entries(text):
        host, _, port = entry.partition(":")
        yield host.lower(), 32, int(port) if port else 0


def cluster_addresses(snapshot: Snapshot) -> Iterable[tuple[str, str]]:
    """7.1.12: every node's addresses, and the floating ones (a node's own probes come from
    them), for the allow group."""
    for node in snapshot.nodes:
        for key in ("privateIP", "publicIP"):
            if node.get(key):
                yield node[key], f"node {node['nodeName']} {key}"
    for key in ("privateIP", "publicIP", "mappedIP"):
        address = snapshot.value(m.SYSTEM, key)
        if v.is_ipv4(address):
            yield address, f"system {key}"


def address_rows(snapshot: Snapshot) -> list[Row]:
    rows: dict[tuple[int, str, int, int], Row] = {}

    def add(group: int, entries: Iterable[tuple[str, int, int]], tag: str) -> None:
        for ip, mask, port in entries:
            rows.setdefault((group, ip, mask, port),
                            {"grp": group, "ip_addr": ip, "mask": mask, "port": port, "tag": tag})

    proxy, media = m.PROXY, m.MEDIA
    add(m.GRP_DENY, address_entries(snapshot.value(proxy, "denyList")), "denyList")
    add(m.GRP_ALLOW, address_entries(snapshot.value(proxy, "allowList")), "allowList")
    for address, tag in cluster_addresses(snapshot):
        add(m.GRP_ALLOW, [(address, 32, 0)], tag)
    add(m.GRP_PROXY, address_entries(snapshot.value(proxy, "proxyList")), "proxyList")
    add(m.GRP_RTP, host_entries(snapshot.value(media, "rtpList")), "rtpList")
    add(m.GRP_DTLS, host_entries(snapshot.value(media, "dtlsList")), "dtlsList")
    add(m.GRP_SDES, host_entries(snapshot.value(media, "sdesList")), "sdesList")
    return list(rows.values())


def kamailio_rows(snapshot: Snapshot) -> dict[str, list[Row]]:
    return {
        "subscriber": [subscriber_row(record) for record in snapshot.rows("subscribers")],
        "uacreg": [uacreg_row(snapshot, record)
                   for record in snapshot.rows("outboundRegistrations")],
        "address": address_rows(snapshot),
    }
