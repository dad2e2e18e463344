"""What kamailio.cfg needs, read from a snapshot: sockets, headers, database, dispatcher, media.

Everything here is plain data computed once; the template only lays it out. Operator text is
quoted with ``cfgsyntax`` by the template filter ``q``; the few values written unquoted (a
header name, a realm, hashes, the system name) pass ``plain_token`` here first.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..catalogue import validators as v
from ..catalogue.pages import DB_MYSQL
from ..commit import media
from ..commit.snapshot import Snapshot
from .cfgsyntax import db_url_password, plain_token

SYSTEM, PROXY, MEDIA, DATABASE = "systemConfig", "proxyConfig", "mediaConfig", "databaseConfig"

# -- fixed names shared with the database rows, the docs and the other engines ---------------

# permissions `address` groups (rows.py fills them, live.py reloads them). The media lists live
# here too: allow_address() matches IPs, subnets and host names.
GRP_DENY, GRP_ALLOW, GRP_PROXY = 1, 2, 3
GRP_RTP, GRP_DTLS, GRP_SDES = 4, 5, 6
# Dispatcher sets as in the manual's Figure 4: "1 (Primary)" holds the dispatchPriUser systems,
# "0 (Backup)" the dispatchSecUser ones. Which of them is primary now is in htable dsrole.
SET_PRI_USER, SET_SEC_USER = 1, 0
# seconds a Genesis has to answer an astPingMethod query (7.1.16-7.1.19) at most
PING_TIMEOUT_MAX = 4

MYSQL_DATABASE = "kamailio"
MYSQL_USER = "amtelco"
ODBC_DSN = "genproxy"
PVT_DIR = "/etc/ssl/genproxy_pvt"
DEFAULT_KEY = f"{PVT_DIR}/genproxy-default.key"
DEFAULT_CERT = f"{PVT_DIR}/genproxy-default.crt"
KAMAILIO_DIR = "/etc/kamailio"
KAMAILIO_CFG = f"{KAMAILIO_DIR}/kamailio.cfg"
TLS_CFG = f"{KAMAILIO_DIR}/tls.cfg"
HTTP_CLIENT_CFG = f"{KAMAILIO_DIR}/http_client.cfg"
PRODUCT = "Genesis Proxy"


@dataclass(frozen=True)
class Listen:
    """One ``listen=`` line."""

    proto: str  # udp, tcp or tls
    ip: str
    port: int
    advertise: str = ""  # host:port written into Via/Record-Route instead of ip:port
    comment: str = ""
    name: str = ""  # the socket's name (listen ... name), e.g. priv_tls; blank: none

    @property
    def socket(self) -> str:
        return f"{self.proto}:{self.ip}:{self.port}"


@dataclass(frozen=True)
class Side:
    """The sockets of one network side (priv or pub), by protocol, for forcing the send socket."""

    name: str
    sockets: Mapping[str, str]  # proto -> "proto:ip:port"
    bind_ip: str
    ports: tuple[int, ...]
    # proto -> the socket's name: a Genesis destination names its send socket by it (attrs
    # sockname=), which stays valid when the address or port behind it changes
    names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpAuth:
    user: str
    realm: str
    ha1: str  # for username "user"; blank when only HA1b was given
    ha1b: str  # for username "user@realm"; blank when only HA1 was given


@dataclass(frozen=True)
class KamailioModel:
    system_name: str
    listens: tuple[Listen, ...]
    aliases: tuple[tuple[str, int], ...]
    server_header: str | None  # None: Kamailio's own; "": no header
    user_agent: str | None
    tls_loaded: bool  # tls module (SIPS or an HTTPS control socket)
    db_module: str
    db_url: str
    flags: Mapping[str, bool]
    private_net: str  # privateIP/prefix, for "is this destination on the private side"
    sides: tuple[Side, ...]  # priv first; pub when the system has a public network
    public_by_source: bool  # the public socket is the private one (3.12's hairpin case)
    ping_from: str
    dispatch: Mapping[str, object]
    http_sockets: tuple[Listen, ...]  # every dispatchListenSock socket (serves HTTP)
    http_listens: tuple[Listen, ...]  # those not already a SIP socket (own listen= line)
    http_auth: HttpAuth | None
    uac_contact: str
    uac_retry: int
    notify_names: tuple[str, ...]
    notify_tls13: bool
    rtpengine_sock: str
    media_header: str
    media_default: str
    media: Mapping[str, bool] = field(default_factory=dict)


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - digest auth is MD5 by definition


# -- sockets ---------------------------------------------------------------------------------


def _int(snapshot: Snapshot, page: str, key: str) -> int:
    return int(snapshot.value(page, key))


def public_advertise_host(snapshot: Snapshot) -> str:
    """publicIP, or for a hostname publicIP the IPv4 alias 3.7 requires (see media.py): Kamailio
    resolves an advertised name at start and refuses to start when DNS fails."""
    return media.public_address(snapshot)


def sip_listens(snapshot: Snapshot) -> tuple[tuple[Listen, ...], tuple[Side, ...], bool]:
    """The SIP sockets, each side's socket per protocol, and whether the public side shares the
    private socket (3.12's hairpin case, where only the source address tells the sides apart)."""
    tls = snapshot.flag(PROXY, "enableTLS")
    kinds = ("udp", "tls") if tls else ("udp",)
    private_ip = snapshot.value(SYSTEM, "privateIP")
    priv_ports = {"udp": _int(snapshot, SYSTEM, "privatePort"),
                  "tls": _int(snapshot, SYSTEM, "privatePortTLS")}
    private_adv: dict[str, str] = {}
    public: list[Listen] = []
    pub_sockets: dict[str, str] = {}
    pub_names: dict[str, str] = {}
    shared = False
    public_ip, mapped_ip = snapshot.value(SYSTEM, "publicIP"), snapshot.value(SYSTEM, "mappedIP")
    for kind in kinds if public_ip else ():
        pub_port = _int(snapshot, SYSTEM, "publicPortTLS" if kind == "tls" else "publicPort")
        bind_ip, bind_port, advertise = public_ip, pub_port, ""
        if mapped_ip:
            bind_ip = mapped_ip
            bind_port = _int(snapshot, SYSTEM, "mappedPortTLS" if kind == "tls" else "mappedPort")
            advertise = f"{public_advertise_host(snapshot)}:{pub_port}"
        protos = ("udp", "tcp") if kind == "udp" else ("tls",)
        if (bind_ip, bind_port) == (private_ip, priv_ports[kind]):
            # 3.12: the router forwards to the private socket itself: one socket, advertised as
            # public, so local devices reach it through the router too (not recommended)
            private_adv[kind] = advertise
            shared = True
            pub_sockets.update({proto: f"{proto}:{bind_ip}:{bind_port}" for proto in protos})
            pub_names.update({proto: f"priv_{proto}" for proto in protos})
            continue
        for proto in protos:
            public.append(Listen(proto, bind_ip, bind_port, advertise, "public side",
                                 f"pub_{proto}"))
            pub_sockets[proto] = f"{proto}:{bind_ip}:{bind_port}"
            pub_names[proto] = f"pub_{proto}"
    private = [Listen(proto, private_ip, priv_ports[kind], private_adv.get(kind, ""),
                      "private side", f"priv_{proto}")
               for kind in kinds for proto in (("udp", "tcp") if kind == "udp" else ("tls",))]
    sides = [Side("priv", {item.proto: item.socket for item in private}, private_ip,
                  tuple(sorted({item.port for item in private})),
                  {item.proto: item.name for item in private})]
    if pub_sockets:
        sides.append(Side("pub", pub_sockets, public[0].ip if public else private_ip,
                          tuple(sorted({item.port for item in public})), pub_names))
    return tuple(private + public), tuple(sides), shared


def http_listens(snapshot: Snapshot) -> tuple[Listen, ...]:
    """dispatchListenSock (7.1.24): ``[<proto>:]<ip>[:<port>]``, tcp:80 / tls:443 by default."""
    found: list[Listen] = []
    for entry in v.split_entries(snapshot.value(PROXY, "dispatchListenSock")):
        parts = entry.split(":")
        proto = parts.pop(0).lower() if not v.is_ipv4(parts[0]) else "tcp"
        port = int(parts[1]) if len(parts) > 1 else (443 if proto == "tls" else 80)
        found.append(Listen(proto, parts[0], port, comment="HTTP dispatcher control (7.1.24)"))
    return tuple(dict.fromkeys(found))


def aliases(snapshot: Snapshot) -> tuple[tuple[str, int], ...]:
    """3.11 alias lines (port 5060 when none) plus the public name and ports, so that requests
    addressed to the public side count as ``myself`` even where Kamailio binds mappedIP."""
    found: list[tuple[str, int]] = []
    for line in v.split_lines(snapshot.value(SYSTEM, "alias")):
        host, _, port = line.partition(":")
        found.append((host, int(port) if port else 5060))
    public_ip = snapshot.value(SYSTEM, "publicIP")
    if public_ip:
        found.append((public_ip, _int(snapshot, SYSTEM, "publicPort")))
        if snapshot.flag(PROXY, "enableTLS"):
            found.append((public_ip, _int(snapshot, SYSTEM, "publicPortTLS")))
    return tuple(dict.fromkeys(found))


# -- headers ---------------------------------------------------------------------------------


def header_value(value: str) -> str | None:
    """7.1.1/7.1.2: blank -> 'Genesis Proxy' (the catalogue's default), 'None' -> no header,
    'kamDefault' -> Kamailio's own (None: leave the core parameter unset)."""
    if value == "kamDefault":
        return None
    if value == "None":
        return ""
    return value or PRODUCT


# -- database --------------------------------------------------------------------------------


def db_module(snapshot: Snapshot) -> str:
    return "db_mysql" if snapshot.value(DATABASE, "dbEngine") == DB_MYSQL else "db_unixodbc"


def db_url(snapshot: Snapshot) -> str:
    """MySQL: the local server (every node runs one, 13.0) as amtelco; MS SQL: the ODBC DSN
    (database.py writes /etc/odbc.ini) with dbrwUser/dbrwPass (13.1.5, 13.1.6)."""
    password = db_url_password(snapshot.value(DATABASE, "dbrwPass"))
    if db_module(snapshot) == "db_mysql":
        return f"mysql://{MYSQL_USER}:{password}@127.0.0.1/{MYSQL_DATABASE}"
    user = snapshot.value(DATABASE, "dbrwUser")
    return f"unixodbc://{user}:{password}@localhost/{ODBC_DSN}"


# -- dispatcher ------------------------------------------------------------------------------


def dispatch(snapshot: Snapshot) -> dict[str, object]:
    ping = snapshot.flag(PROXY, "enableAstFailover")
    return {
        "pri_prefix": snapshot.value(PROXY, "dispatchPriUser"),
        "sec_prefix": snapshot.value(PROXY, "dispatchSecUser"),
        "set_pri": SET_PRI_USER,
        "set_sec": SET_SEC_USER,
        "limit": _int(snapshot, PROXY, "dispatchLimit"),
        "total": 2 ** _int(snapshot, PROXY, "dispatchSize"),
        "ping": ping,
        "ping_method": snapshot.value(PROXY, "astPingMethod"),
        "ping_interval": _int(snapshot, PROXY, "astPingInterval") if ping else 0,
        # a query unanswered this long (ms) marks the system down: at most the interval, so a
        # silent Genesis is noticed within about astPingInterval (7.1.19), not tm's fr_timer
        # (10 s) later; at most 4 s, so a busy but healthy Genesis has time to answer
        "ping_timeout": min(_int(snapshot, PROXY, "astPingInterval"), PING_TIMEOUT_MAX) * 1000,
        "persistent": snapshot.flag(PROXY, "astPersistentFailover"),
    }


def http_auth(snapshot: Snapshot) -> HttpAuth | None:
    """7.1.25-7.1.29 as two HA1 values: computed from the password when one is given (so no
    password is written anywhere), else the operator's HA1/HA1b."""
    user = snapshot.value(PROXY, "dispatchAuthUser")
    if not user:
        return None
    # the realm goes into pv_www_authenticate()'s format string: no '$', quote or space
    realm = plain_token(snapshot.value(PROXY, "dispatchAuthRealm"), r"[A-Za-z0-9_.:@+-]+",
                        "dispatchAuthRealm")
    password = snapshot.value(PROXY, "dispatchAuthPassword")
    if password:
        return HttpAuth(user, realm, md5_hex(f"{user}:{realm}:{password}"),
                        md5_hex(f"{user}@{realm}:{realm}:{password}"))
    hashes = (snapshot.value(PROXY, key).lower() for key in ("dispatchAuthHa1",
                                                            "dispatchAuthHa1b"))
    ha1, ha1b = (plain_token(value, r"[0-9a-f]{32}|", "dispatchAuthHa1") for value in hashes)
    return HttpAuth(user, realm, ha1, ha1b)


# -- outbound registrations ------------------------------------------------------------------


def default_contact(snapshot: Snapshot, tls: bool = False) -> str:
    """12.2.13: publicIP (with its port), or privateIP when the system has no public side."""
    public_ip = snapshot.value(SYSTEM, "publicIP")
    if public_ip:
        port = _int(snapshot, SYSTEM, "publicPortTLS" if tls else "publicPort")
        host = public_ip
    else:
        port = _int(snapshot, SYSTEM, "privatePortTLS" if tls else "privatePort")
        host = snapshot.value(SYSTEM, "privateIP")
    return f"{host}:{port}" + (";transport=tls" if tls else "")


# -- the whole model -------------------------------------------------------------------------


def private_network(snapshot: Snapshot) -> str:
    prefix = v.parse_mask(snapshot.value(SYSTEM, "privateSubnet"))
    net = ipaddress.IPv4Network(f"{snapshot.value(SYSTEM, 'privateIP')}/{prefix}", strict=False)
    return str(net)


def notify_names(snapshot: Snapshot) -> tuple[str, ...]:
    return tuple(f"notify{index}" for index, _ in enumerate(snapshot.rows("notifies"), 1))


def build(snapshot: Snapshot) -> KamailioModel:
    listens, side_list, shared = sip_listens(snapshot)
    http = http_listens(snapshot)
    sip_sockets = {item.socket for item in listens}
    nat = snapshot.flag(PROXY, "enableNAT")
    tls = snapshot.flag(PROXY, "enableTLS")
    flags = {key: snapshot.flag(PROXY, key) for key in (
        "enableTLS", "rrIgnoreSips", "enableRegAuth", "enableInviteAuth", "enableContactCheck",
        "enableRegCheck", "enableNAT", "enableAntiFlood")}
    media_flags = {
        "encryption": tls and nat,  # Appendix A: only with enableTLS and enableNAT
        "change": snapshot.flag(MEDIA, "changeMediaEncryption"),
        "avpf": snapshot.flag(MEDIA, "enableAvpf"),
    }
    ng_host, _, ng_port = media.NG_LISTEN.rpartition(":")
    return KamailioModel(
        system_name=plain_token(snapshot.value(SYSTEM, "systemName"), r"[A-Za-z0-9._-]+",
                                "systemName"),
        listens=listens,
        aliases=aliases(snapshot),
        server_header=header_value(snapshot.value(PROXY, "serverHeader")),
        user_agent=header_value(snapshot.value(PROXY, "userAgent")),
        tls_loaded=tls or any(item.proto == "tls" for item in http),
        db_module=db_module(snapshot),
        db_url=db_url(snapshot),
        flags=flags,
        private_net=private_network(snapshot),
        sides=side_list,
        public_by_source=shared,
        ping_from=f"sip:genproxy@{snapshot.value(SYSTEM, 'privateIP')}",
        dispatch=dispatch(snapshot),
        http_sockets=http,
        http_listens=tuple(item for item in http if item.socket not in sip_sockets),
        http_auth=http_auth(snapshot),
        uac_contact=default_contact(snapshot),
        uac_retry=_int(snapshot, PROXY, "regRetryInterval"),
        notify_names=notify_names(snapshot),
        notify_tls13=any(row["notifyTlsVersion"] == "TLSv1.3+"
                         for row in snapshot.rows("notifies")),
        rtpengine_sock=f"udp:{ng_host}:{ng_port}",
        # a header name inside $hdr(...): letters, digits, '.', '_', '-' only
        media_header=plain_token(snapshot.value(MEDIA, "amtelcoMediaEncryption"),
                                 r"([A-Za-z0-9][A-Za-z0-9._-]*)?", "amtelcoMediaEncryption"),
        media_default=plain_token(snapshot.value(MEDIA, "defaultMediaEncryption"), "sdes|dtls",
                                  "defaultMediaEncryption"),
        media=media_flags,
    )
