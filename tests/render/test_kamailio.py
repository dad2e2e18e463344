"""Kamailio's files and rows (7.0-12.0, Appendix A), checked by Kamailio 5.6 itself.

Each scenario is rendered, its rows written into a throw-away MariaDB (directly for MySQL, through
unixODBC's DSN for MS SQL, MariaDB's ODBC driver standing in for Microsoft's), checked with
``kamailio -c`` and then started on loopback (private side 127.0.0.1, public side 127.0.0.2,
free ports), because module initialisation errors only show at start. What a caller would see
is then asserted: SIP answers and headers, the dispatcher and address tables Kamailio loaded,
the HTTP control interface, the notifications it posts, the REGISTER it sends a provider.

Only paths and ports are rewritten in the rendered text: /etc/kamailio and /etc/ssl/genproxy_pvt
into the test folder, the MariaDB port and database in the MySQL URL, rtpengine's control port.
Everything else (addresses, SIP ports, credentials) is the snapshot's own.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from requests.auth import HTTPDigestAuth

from genweb.catalogue import PAGES
from genweb.commit import media
from genweb.commit.render import render
from genweb.commit.secrets import MAKERS, new_default_tls
from genweb.commit.snapshot import Snapshot
from genweb.kamailio import kamailio_cfg, kamailio_files, reload_commands
from genweb.kamailio.cfgsyntax import CfgValueError, cfg_str
from genweb.kamailio.keymap import KEY_MAP
from genweb.kamailio.rows import kamailio_rows
from tests.render.kamailio_helpers import (
    Daemon,
    Kamailio,
    MariaDB,
    SipClient,
    digest_authorization,
    free_port,
    odbc_environment,
    problems,
    tool_missing,
    wait_for,
)

pytestmark = pytest.mark.skipif(
    bool(tool_missing("kamailio", "kamcmd", "mariadbd", "mariadb-install-db", "mariadb",
                      "rtpengine")),
    reason=tool_missing("kamailio", "kamcmd", "mariadbd", "mariadb-install-db", "mariadb",
                        "rtpengine") or "")

PRIV, PUB = "127.0.0.1", "127.0.0.2"
DB_PASS = 'rw"pa\\ss@w:rd$1'  # quotes, backslash, '@' and ':' must survive the db_url
HTTP_USER, HTTP_REALM, HTTP_PASS = "genesis_is", "proxy.example.test", "s3cret'\"$x"
NODES = [{"nodeID": "1", "nodeName": "node1", "privateIP": PRIV, "publicIP": PUB},
         {"nodeID": "2", "nodeName": "node2", "privateIP": "127.0.0.3"}]


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@dataclass
class Ports:
    """Free ports for one scenario (SIP ones free for UDP and TCP alike)."""

    private: int = field(default_factory=free_port)
    private_tls: int = field(default_factory=free_port)
    public: int = field(default_factory=lambda: free_port(host=PUB))
    public_tls: int = field(default_factory=lambda: free_port(host=PUB))
    http: int = field(default_factory=free_port)
    https: int = field(default_factory=free_port)


def system(ports: Ports, **extra: str) -> dict[str, str]:
    # privateSubnet 32: 127.0.0.2 and every other loopback address count as the public side
    return {"privateIP": PRIV, "privatePort": str(ports.private),
            "privatePortTLS": str(ports.private_tls), "privateSubnet": "32",
            "privatePing": PRIV, **extra}


def _generated() -> dict[str, str]:
    """What the commit generates (secrets.py), made once: every engine's renderer needs it."""
    values = {name: make() for name, make in MAKERS.items()}
    values["kamailioDefaultKey"], values["kamailioDefaultCert"] = new_default_tls()
    return values


GENERATED = _generated()


# -- scenarios -------------------------------------------------------------------------------


def minimal_snapshot(ports: Ports) -> Snapshot:
    return Snapshot.build({"systemConfig": system(ports),
                           "databaseConfig": {"dbEngine": "MySQL", "dbrwPass": DB_PASS}},
                          {"haNodes": NODES[:1]}, GENERATED)


def public_mapped_tls_snapshot(ports: Ports) -> Snapshot:
    """publicIP a host name behind a router that forwards to mappedIP (3.7, 3.12), TLS, MS SQL."""
    settings = {
        "systemConfig": system(ports, publicIP="proxy.example.test", mappedIP=PUB,
                               mappedPort=str(ports.public), mappedPortTLS=str(ports.public_tls),
                               publicPort="5080", publicPortTLS="5081", publicPing=PUB,
                               alias="198.51.100.10:5080\nproxy.example.test:5081"),
        "proxyConfig": {"enableTLS": "Yes", "serverHeader": "None", "userAgent": "kamDefault",
                        "enableAstFailover": "No", "rrIgnoreSips": "Yes"},
        "databaseConfig": {"dbEngine": "MS SQL", "dbHost": "tcp:127.0.0.1", "dbrwUser": "kamrw",
                           "dbrwPass": DB_PASS},
    }
    return Snapshot.build(settings, {"haNodes": NODES}, GENERATED)


def all_features_snapshot(ports: Ports, notify_port: int, provider_port: int) -> Snapshot:
    """Every Kamailio feature of the manual switched on, MySQL."""
    proxy = {
        "serverHeader": "Acme Edge 1.0 #!define $x", "userAgent": "None", "enableTLS": "Yes",
        "rrIgnoreSips": "Yes", "enableRegAuth": "Yes", "enableInviteAuth": "Yes",
        "enableContactCheck": "Yes", "enableNAT": "Yes", "enableAntiFlood": "Yes",
        "astPersistentFailover": "Yes", "astPingMethod": "INFO", "astPingInterval": "1",
        "dispatchLimit": "3", "dispatchSize": "4", "regRetryInterval": "90",
        "notifyCaCert": "/etc/ssl/certs/ca-certificates.crt",
        "dispatchListenSock": f"{PRIV}:{ports.http} tls:{PRIV}:{ports.https}",
        "dispatchAuthUser": HTTP_USER, "dispatchAuthRealm": HTTP_REALM,
        "dispatchAuthPassword": HTTP_PASS,
        "denyList": "127.0.0.66\n127.0.0.64/255.255.255.252", "allowList": "127.0.0.32/28, 127.0.0.20:5060",
        "proxyList": "127.0.0.40",
    }
    media = {"amtelcoMediaEncryption": "X-Media.Enc",
             "rtpList": f"127.0.0.5:{provider_port} provider.example.test",
             "dtlsList": "127.0.0.6", "sdesList": "127.0.0.7:5061", "changeMediaEncryption": "Yes",
             "defaultMediaEncryption": "dtls", "enableAvpf": "Yes"}
    notifies = [
        {"notifyURL": f"http://{PRIV}:{notify_port}/events", "notifyUser": "proxy",
         "notifyPassword": 'n"p;w=#x', "notifyUserAgent": "Genesis Proxy Test"},
        {"notifyURL": f"https://{PRIV}:{free_port()}", "notifyRedirect": "No",
         "notifyVerifyPeer": "Yes", "notifyVerifyHost": "Yes", "notifyClientKey": "client.key",
         "notifyClientCert": "client.crt", "notifyCipherList": "HIGH:!aNULL",
         "notifyTlsVersion": "TLSv1.3+"},
    ]
    subscribers = [
        {"username": "genesis_a-1", "domain": PRIV, "password": "apw"},
        {"username": "genesis_b-1", "domain": PRIV, "password": "bpw"},
        {"username": "5000", "domain": PRIV, "ha1": md5(f"5000:{PRIV}:phonepw"),
         "ha1b": md5(f"5000@{PRIV}:{PRIV}:phonepw")},
    ]
    registrations = [{"l_uuid": "trunk1", "l_username": "acct1", "l_domain": "provider.test",
                      "r_username": "acct1", "r_domain": "provider.test", "realm": "provider",
                      "auth_username": "acct1", "auth_password": "acctpw",
                      "auth_proxy": f"127.0.0.5:{provider_port}", "expires": "600"}]
    tls_sections = [{"tlsDomain": "default", "tlsRole": "server"},
                    {"tlsDomain": "default", "tlsRole": "client", "method": "TLSv1.2+"},
                    {"tlsDomain": f"127.0.0.9:{ports.private_tls}", "tlsRole": "client",
                     "tlsPrivateKey": "proxy.key", "tlsCertificate": "proxy.crt",
                     # a small list: OpenSSL loads it once per Kamailio process (9.2.9)
                     "tlsVerify": "On", "tlsCaList": "/etc/ssl/genproxy_pvt/ca.pem",
                     "tlsCipherList": "HIGH:!aNULL", "tlsVerifyDepth": "3"}]
    return Snapshot.build(
        {"systemConfig": system(ports, publicIP=PUB, publicPort=str(ports.public),
                                publicPortTLS=str(ports.public_tls), publicPing=PUB),
         "proxyConfig": proxy, "mediaConfig": media,
         "databaseConfig": {"dbEngine": "MySQL", "dbrwPass": DB_PASS}},
        {"haNodes": NODES, "subscribers": subscribers, "outboundRegistrations": registrations,
         "notifies": notifies, "tlsProxyConfigs": tls_sections},
        GENERATED)


def hash_auth_snapshot(ports: Ports) -> Snapshot:
    """MS SQL (over ODBC): a Genesis registering without authentication, Kamailio's own Server
    header, HTTP dispatcher control with only the two hashes (7.1.28, 7.1.29)."""
    proxy = {"dispatchListenSock": f"tcp:{PRIV}:{ports.http}", "dispatchAuthUser": HTTP_USER,
             "dispatchAuthRealm": HTTP_REALM,
             "dispatchAuthHa1": md5(f"{HTTP_USER}:{HTTP_REALM}:{HTTP_PASS}"),
             "dispatchAuthHa1b": md5(f"{HTTP_USER}@{HTTP_REALM}:{HTTP_REALM}:{HTTP_PASS}"),
             "astPersistentFailover": "No", "serverHeader": "kamDefault"}
    return Snapshot.build({"systemConfig": system(ports), "proxyConfig": proxy,
                           "databaseConfig": {"dbEngine": "MS SQL", "dbrwUser": "kamrw",
                                              "dbrwPass": DB_PASS}},
                          {"haNodes": NODES[:1],
                           "subscribers": [{"username": "genesis_b", "domain": PRIV}]},
                          GENERATED)


# -- engines ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    server = MariaDB(tmp_path_factory.mktemp("mariadb")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def rtpengine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """rtpengine with the priv/pub interfaces media.py configures, on a free control port."""
    folder = tmp_path_factory.mktemp("rtpengine")
    port = free_port((socket.SOCK_DGRAM,))
    low = 30000 + (port % 300) * 100
    daemon = Daemon(["rtpengine", "--config-file=none", f"--interface=priv/{PRIV}",
                     f"--interface=pub/{PUB}", f"--listen-ng={PRIV}:{port}", "-f", "-E",
                     f"--port-min={low}", f"--port-max={low + 99}", "--table=-1"],
                    folder / "rtpengine.log")
    wait_for(lambda: "Startup complete" in daemon.text(), what="rtpengine")
    yield port
    daemon.stop()


_databases = iter(range(1, 1000))


def deploy(snapshot: Snapshot, folder: Path, mariadb: MariaDB, rtpengine_port: int | None = None,
           start: bool = True) -> tuple[Kamailio, str]:
    """Render, write the rows into a fresh database, check and (by default) start Kamailio."""
    rendered = render(snapshot)
    files = [item for item in rendered.files[snapshot.nodes[0]["nodeName"]]
             if item.path.startswith(("/etc/kamailio/", "/etc/ssl/genproxy_pvt/"))]
    database = f"kam{next(_databases)}"
    mysql = snapshot.value("databaseConfig", "dbEngine") == "MySQL"
    user = "amtelco" if mysql else snapshot.value("databaseConfig", "dbrwUser")
    mariadb.create_kamailio_database(database, user, DB_PASS)
    mariadb.insert_rows(database, rendered.db_rows)
    pvt = folder / "pvt"
    pvt.mkdir(parents=True)
    replace = {"/etc/kamailio/": f"{folder}/etc/", "/etc/ssl/genproxy_pvt/": f"{pvt}/"}
    if mysql:
        replace["@127.0.0.1/kamailio\""] = f"@127.0.0.1:{mariadb.port}/{database}\""
    if rtpengine_port:
        replace[f"udp:{media.NG_LISTEN}"] = f"udp:127.0.0.1:{rtpengine_port}"
    kamailio = Kamailio(folder)
    kamailio.install([item for item in files if not item.path.startswith("/etc/ssl/")], replace)
    for item in files:
        if item.path.startswith("/etc/ssl/"):
            (pvt / Path(item.path).name).write_text(item.content)
    # key files a TLS section names (9.2.4, 9.2.5): the operator installs them on every node
    if (pvt / "genproxy-default.key").exists():
        for name, source in (("proxy.key", "genproxy-default.key"),
                             ("proxy.crt", "genproxy-default.crt"),
                             ("ca.pem", "genproxy-default.crt")):
            (pvt / name).write_text((pvt / source).read_text())
    if not mysql:
        kamailio.env.update(odbc_environment(folder / "odbc", "genproxy", mariadb, database))
    kamailio.check()
    if start:
        kamailio.start()
    return kamailio, database


@pytest.fixture
def stopper() -> Iterator[list]:
    """Everything a test starts is stopped at its end, by PID."""
    running: list = []
    yield running
    failures = []
    for item in reversed(running):
        try:
            item.stop()
        except Exception as exc:  # stop the rest all the same, then report
            failures.append(exc)
    assert not failures, failures


# -- render-only checks ----------------------------------------------------------------------


def test_render_is_deterministic_and_files_are_private() -> None:
    snapshot = all_features_snapshot(Ports(), 8080, 5070)
    first, second = render(snapshot), render(snapshot)
    assert first.files == second.files and first.db_rows == second.db_rows
    files = {item.path: item for item in kamailio_files(snapshot, snapshot.nodes[0])}
    assert set(files) == {"/etc/kamailio/kamailio.cfg", "/etc/kamailio/tls.cfg",
                          "/etc/kamailio/http_client.cfg",
                          "/etc/ssl/genproxy_pvt/genproxy-default.key",
                          "/etc/ssl/genproxy_pvt/genproxy-default.crt"}
    for path in ("/etc/kamailio/kamailio.cfg", "/etc/kamailio/tls.cfg",
                 "/etc/kamailio/http_client.cfg"):
        assert (files[path].mode, files[path].owner, files[path].group) == (0o640, "root",
                                                                             "kamailio")
    key = files["/etc/ssl/genproxy_pvt/genproxy-default.key"]
    assert (key.mode, key.group) == (0o640, "genproxy")
    # every node gets the same configuration
    assert files["/etc/kamailio/kamailio.cfg"] == next(
        item for item in kamailio_files(snapshot, snapshot.nodes[1])
        if item.path == "/etc/kamailio/kamailio.cfg")


def test_rows_use_kamailio_columns_and_keep_plain_passwords_out() -> None:
    snapshot = all_features_snapshot(Ports(), 8080, 5070)
    rows = kamailio_rows(snapshot)
    genesis = next(row for row in rows["subscriber"] if row["username"] == "genesis_a-1")
    assert genesis == {"username": "genesis_a-1", "domain": PRIV, "password": "",
                       "ha1": md5(f"genesis_a-1:{PRIV}:apw"),
                       "ha1b": md5(f"genesis_a-1@{PRIV}:{PRIV}:apw")}
    (trunk,) = rows["uacreg"]
    assert trunk["auth_password"] == "" and trunk["auth_ha1"] == md5("acct1:provider:acctpw")
    assert trunk["auth_proxy"].startswith("sip:127.0.0.5:")
    assert trunk["socket"] == f"udp:{PUB}:{snapshot.value('systemConfig', 'publicPort')}"
    assert trunk["contact_addr"] == f"{PUB}:{snapshot.value('systemConfig', 'publicPort')}"
    groups = {(row["grp"], row["ip_addr"], row["mask"], row["port"]) for row in rows["address"]}
    assert {(1, "127.0.0.66", 32, 0), (1, "127.0.0.64", 30, 0), (2, "127.0.0.32", 28, 0),
            (2, "127.0.0.20", 32, 5060), (2, PRIV, 32, 0), (2, PUB, 32, 0),
            (2, "127.0.0.3", 32, 0), (3, "127.0.0.40", 32, 0), (4, "127.0.0.5", 32, 5070),
            (4, "provider.example.test", 32, 0), (5, "127.0.0.6", 32, 0),
            (6, "127.0.0.7", 32, 5061)} <= groups


def test_outbound_registration_defaults_follow_12_2() -> None:
    ports = Ports()
    snapshot = Snapshot.build(
        {"systemConfig": system(ports, publicIP="203.0.113.10", mappedIP=PUB,
                                mappedPort="5062", mappedPortTLS="5063", publicPing=PUB),
         "proxyConfig": {"enableTLS": "Yes"}},
        {"haNodes": NODES[:1], "outboundRegistrations": [
            {"l_uuid": "a", "l_username": "a", "l_domain": "d.test", "r_username": "a",
             "r_domain": "d.test", "auth_proxy": "sips:d.test;transport=tls"},
            {"l_uuid": "b", "l_username": "b", "l_domain": "d.test", "r_username": "b",
             "r_domain": "d.test", "auth_ha1": "A" * 32, "socket": "203.0.113.10:5063"},
            {"l_uuid": "c", "l_username": "c", "l_domain": "d.test", "r_username": "c",
             "r_domain": "d.test", "socket": f"tcp:{PRIV}", "reg_contact_addr": "x.test"}]})
    a, b, c = kamailio_rows(snapshot)["uacreg"]
    assert (a["socket"], a["contact_addr"]) == (f"tls:{PUB}:5063", "203.0.113.10:5061;transport=tls")
    assert (b["socket"], b["auth_proxy"], b["auth_ha1"]) == (f"tls:{PUB}:5063", "sip:d.test", "a" * 32)
    assert (c["socket"], c["contact_addr"]) == (f"tcp:{PRIV}:{ports.private}", "x.test")


def test_operator_text_cannot_escape_a_cfg_string() -> None:
    assert cfg_str('a"b\\c') == '"a\\"b\\\\c"'
    with pytest.raises(CfgValueError):
        cfg_str("line\n#!define X")
    snapshot = Snapshot.build({"systemConfig": system(Ports()),
                               "databaseConfig": {"dbEngine": "MySQL", "dbrwPass": "has/slash"}},
                              {"haNodes": NODES[:1]})
    with pytest.raises(CfgValueError, match="'/'"):
        kamailio_cfg(snapshot)


def test_key_map_names_catalogue_keys() -> None:
    for page, key in KEY_MAP:
        assert PAGES[page].key(key), (page, key)


def test_live_changes_name_their_rpc() -> None:
    snapshot = minimal_snapshot(Ports())
    assert reload_commands(snapshot, [("proxyConfig", "denyList"), ("mediaConfig", "rtpList"),
                                      ("subscribers", None), ("outboundRegistrations", None)]) \
        == (("permissions.addressReload",), ("uac.reg_reload",))
    assert reload_commands(snapshot, [("tlsProxyConfigs", None)]) == ()  # no tls module loaded
    assert reload_commands(snapshot, [("proxyConfig", "serverHeader")]) is None


# -- engine scenarios ------------------------------------------------------------------------


def options(client: SipClient, port: int, host: str = PRIV, timeout: float = 2.0):
    return client.request("OPTIONS", f"sip:{host}:{port}", (host, port), timeout=timeout)


NO_ANSWER = 0.5  # seconds to wait for an answer that must not come


def test_minimal_system_starts_and_answers_the_cluster(tmp_path: Path, mariadb: MariaDB,
                                                        stopper: list) -> None:
    ports = Ports()
    kamailio, _ = deploy(minimal_snapshot(ports), tmp_path, mariadb)
    stopper.append(kamailio)
    node = SipClient(PRIV)
    stranger = SipClient("127.0.0.12")
    stopper += [node, stranger]
    reply = options(node, ports.private)
    assert reply and reply.code == 200 and reply.header("Server") == "Genesis Proxy"
    # the cluster monitor's probe (ocf:heartbeat:kamailio)
    reply = node.request("OPTIONS", f"sip:monitor@{PRIV}:{ports.private}", (PRIV, ports.private))
    assert reply and reply.code == 200
    assert options(stranger, ports.private, PRIV, NO_ANSWER) is None  # neither allowList nor proxyList
    # enableRegAuth off: subscribers only, still
    reply = stranger.request("REGISTER", f"sip:{PRIV}:{ports.private}", (PRIV, ports.private),
                             headers=[f"Contact: <sip:x@127.0.0.12:{stranger.port}>"],
                             to=f"sip:nobody@{PRIV}")
    assert reply and reply.code == 403
    assert not problems(kamailio.log()), kamailio.log()


def test_public_mapped_tls_on_ms_sql(tmp_path: Path, mariadb: MariaDB, stopper: list) -> None:
    ports = Ports()
    snapshot = public_mapped_tls_snapshot(ports)
    kamailio, _ = deploy(snapshot, tmp_path, mariadb)
    stopper.append(kamailio)
    sockets = kamailio.rpc("corex.list_sockets")
    assert re.search(rf"{PUB}.*\n(.*\n)*?.*advertise.*198\.51\.100\.10.*5080", sockets) or \
        "198.51.100.10" in sockets, sockets
    client = SipClient(PRIV)
    stopper.append(client)
    reply = options(client, ports.private)
    assert reply and reply.code == 200 and reply.header("Server") is None  # serverHeader None
    assert not problems(kamailio.log()), kamailio.log()
    # SIPS on the private TLS port with the generated default certificate (9.2.4)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection((PRIV, ports.private_tls), 5) as raw, \
            context.wrap_socket(raw) as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        certificate = ssl.DER_cert_to_PEM_cert(tls.getpeercert(binary_form=True))
    assert certificate.strip() == GENERATED["kamailioDefaultCert"].strip()
    # a TLS section change is taken live (live.py)
    assert reload_commands(snapshot, [("tlsProxyConfigs", None)]) == (("tls.reload",),)
    assert "reloaded" in kamailio.rpc("tls.reload").lower()


def test_more_variants_pass_kamailio_check(tmp_path: Path, mariadb: MariaDB) -> None:
    """The hairpin case of 3.12 (the router maps to the private socket itself) and a system
    sitting on the public network, with the options the other scenarios leave at default."""
    ports = Ports()
    hairpin = Snapshot.build(
        {"systemConfig": system(ports, publicIP="203.0.113.5", mappedIP=PRIV,
                                mappedPort=str(ports.private), publicPing=PUB),
         "proxyConfig": {"enableNAT": "Yes", "enableTLS": "Yes", "enableAntiFlood": "No",
                         "enableAstFailover": "No", "astPersistentFailover": "No"},
         "databaseConfig": {"dbEngine": "MySQL", "dbrwPass": DB_PASS}},
        {"haNodes": NODES[:1]}, GENERATED)
    direct = Snapshot.build(
        {"systemConfig": system(ports, publicIP=PUB, publicPort=str(ports.public), publicPing=PUB),
         "proxyConfig": {"enableNAT": "Yes", "enableRegCheck": "Yes"},
         "mediaConfig": {"changeMediaEncryption": "Yes", "amtelcoMediaEncryption": "X-Enc"},
         "databaseConfig": {"dbEngine": "MS SQL", "dbrwPass": DB_PASS}},
        {"haNodes": NODES}, GENERATED)
    kamailio, _ = deploy(hairpin, tmp_path / "hairpin", mariadb, start=False)
    # the socket's name (priv_udp, for the Genesis destinations) is listed before advertise
    assert re.search(rf"\[{re.escape(PRIV)}\]:{ports.private}( name \S+)? advertise "
                     r"203\.0\.113\.5:5060", kamailio.check())
    kamailio, _ = deploy(direct, tmp_path / "direct", mariadb, start=False)
    assert f"udp: {PUB} [{PUB}]:{ports.public}" in kamailio.check()


class Recorder(http.server.BaseHTTPRequestHandler):
    """A notification server (10.0): asks for basic auth, records what arrives."""

    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not self.headers.get("Authorization"):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="events"')
            self.end_headers()
            return
        self.received.append({"agent": self.headers.get("User-Agent"),
                              "auth": self.headers.get("Authorization"),
                              "event": json.loads(body)})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Genesis:
    """A fake Genesis: registers as ``user`` and answers whatever the proxy sends it."""

    client: SipClient
    user: str
    password: str
    code: int = 200
    invites: list = field(default_factory=list)
    running: bool = True

    def serve(self) -> None:
        while self.running:
            got = self.client.receive(0.2)
            if not got:
                continue
            message, peer = got
            if message.code:  # a reply (to our REGISTER): not for this loop
                continue
            method = message.raw.split(" ", 1)[0]
            if method == "INVITE":
                self.invites.append(message.raw)
            if method != "ACK":
                self.client.answer(message, peer, self.code, "Down" if self.code >= 500 else "OK")

    def stop(self) -> None:
        self.running = False


def register(client: SipClient, user: str, password: str, port: int, contact: str = ""):
    """REGISTER, answer the 401 (enableRegAuth), return the final reply."""
    uri = f"sip:{PRIV}:{port}"
    headers = [f"Contact: <{contact or f'sip:{user}@{client.host}:{client.port}'}>",
               "Expires: 600"]
    call_id = f"reg-{user}-{client.port}"
    reply = client.request("REGISTER", uri, (PRIV, port), headers, to=f"sip:{user}@{PRIV}",
                           from_uri=f"sip:{user}@{PRIV}", call_id=call_id)
    assert reply and reply.code == 401, reply and reply.raw
    auth = digest_authorization(reply.header("WWW-Authenticate"), "REGISTER", uri, user, password)
    return client.request("REGISTER", uri, (PRIV, port), [*headers, auth],
                          to=f"sip:{user}@{PRIV}", from_uri=f"sip:{user}@{PRIV}", call_id=call_id)


def next_request(client: SipClient, method: str, timeout: float = 5.0):
    """The next ``method`` request that reaches client (other messages are skipped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = client.receive(max(0.05, deadline - time.monotonic()))
        if got and not got[0].code and got[0].raw.startswith(method + " "):
            return got
    return None


SDP = ("v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
       "m=audio 40000 {proto} 0\r\na=rtpmap:0 PCMU/8000\r\n{extra}")
CRYPTO = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"


def invite(client: SipClient, uri: str, target: tuple[str, int], headers=(), proto="RTP/AVP",
           extra="", timeout: float = 5.0, call_id: str | None = None,
           from_uri: str | None = None, contact: str | None = None):
    body = SDP.format(host=client.host, proto=proto, extra=extra)
    contact = contact or f"sip:c@{client.host}:{client.port}"
    return client.request("INVITE", uri, target, body=body, call_id=call_id, timeout=timeout,
                          from_uri=from_uri, headers=["Content-Type: application/sdp",
                                                      f"Contact: <{contact}>", *headers])


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_all_features(tmp_path: Path, mariadb: MariaDB, rtpengine: int, stopper: list) -> None:
    ports = Ports()
    Recorder.received = []
    notify_port = free_port((socket.SOCK_STREAM,))
    receiver = http.server.ThreadingHTTPServer((PRIV, notify_port), Recorder)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    provider = SipClient("127.0.0.5")
    stopper.append(provider)
    try:
        kamailio, database = deploy(all_features_snapshot(ports, notify_port, provider.port),
                                    tmp_path, mariadb, rtpengine)
        stopper.append(kamailio)
        world = World(kamailio, database, ports, mariadb, provider)
        stopper.append(world)
        world.check_tables_and_outbound_registration()
        world.check_lists()
        world.check_genesis_registrations()
        world.check_http_control()
        world.check_call_to_genesis()
        world.check_call_routing_rules()
        world.check_persistent_failover()
        world.check_notifications()
        world.check_anti_flood()
        world.check_unregister()
        world.check_live_list_change()
        assert not problems(kamailio.log()), kamailio.log()
        world.check_live_uacreg_change()
    finally:
        receiver.shutdown()
        receiver.server_close()


@dataclass
class World:
    """The all-features scenario: the proxy and the endpoints around it."""

    kamailio: Kamailio
    database: str
    ports: Ports
    mariadb: MariaDB
    provider: SipClient
    clients: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sip = (PRIV, self.ports.private)
        self.genesis_a = Genesis(self.client(PRIV), "genesis_a-1", "apw")
        self.genesis_b = Genesis(self.client(PRIV), "genesis_b-1", "bpw")
        self.url = f"http://{PRIV}:{self.ports.http}/dispatcher"
        self.auth = HTTPDigestAuth(HTTP_USER, HTTP_PASS)

    def client(self, host: str) -> SipClient:
        self.clients.append(SipClient(host))
        return self.clients[-1]

    def stop(self) -> None:
        self.genesis_a.stop()
        self.genesis_b.stop()
        time.sleep(0.3)  # the serve loops notice within 0.2 s
        for client in self.clients:
            client.close()

    def check_tables_and_outbound_registration(self) -> None:
        # the address groups Kamailio loaded (7.1.11-7.1.13, 8.1.10-8.1.12, cluster in allow)
        dump = (self.kamailio.rpc("permissions.addressDump")
                + self.kamailio.rpc("permissions.subnetDump")
                + self.kamailio.rpc("permissions.domainDump"))
        for address in ("127.0.0.66", "127.0.0.64", "127.0.0.32", "127.0.0.20", "127.0.0.3",
                        "127.0.0.40", "127.0.0.6", "provider.example.test"):
            assert address in dump, dump
        # the outbound registration (12.0): Contact user l_uuid, digest from the HA1 genweb
        # stored (12.2.9), no User-Agent (userAgent None)
        got = next_request(self.provider, "REGISTER")
        assert got, "no REGISTER from uac"
        request, peer = got
        assert request.raw.startswith("REGISTER sip:provider.test")
        assert "sip:trunk1@" in (request.header("Contact") or "")
        assert request.header("User-Agent") is None
        self.provider.answer(request, peer, 401, "Unauthorized",
                             ['WWW-Authenticate: Digest realm="provider", nonce="n0nce"'])
        got = next_request(self.provider, "REGISTER")
        assert got, "no authenticated REGISTER"
        request, peer = got
        params = dict(re.findall(r'(\w+)="([^"]*)"', request.header("Authorization") or ""))
        expected = md5(f"{md5('acct1:provider:acctpw')}:n0nce:"
                       f"{md5('REGISTER:' + params['uri'])}")
        assert params["username"] == "acct1" and params["response"] == expected
        self.provider.answer(request, peer, 200, "OK",
                             [f"Contact: {request.header('Contact')};expires=600"])

    def check_lists(self) -> None:
        # denyList drops; proxyList gets OPTIONS answered with the configured Server header
        assert options(self.client("127.0.0.66"), self.ports.private, timeout=NO_ANSWER) is None
        reply = options(self.client("127.0.0.40"), self.ports.private)
        assert reply and reply.code == 200
        assert reply.header("Server") == "Acme Edge 1.0 #!define $x"

    def check_genesis_registrations(self) -> None:
        # Genesis registrations fill the dispatcher sets (7.1.20, 7.1.21), after a 401
        for genesis in (self.genesis_a, self.genesis_b):
            reply = register(genesis.client, genesis.user, genesis.password, self.ports.private)
            assert reply and reply.code == 200, reply and reply.raw
            threading.Thread(target=genesis.serve, daemon=True).start()
        a, b = (f"sip:{PRIV}:{g.client.port}" for g in (self.genesis_a, self.genesis_b))
        # save() answers the REGISTER before the script adds the destination
        wait_for(lambda: all(uri in self.kamailio.rpc("dispatcher.list") for uri in (a, b)),
                 what="both Genesis systems in the dispatcher")
        rows = self.mariadb.rows("SELECT setid, destination FROM dispatcher ORDER BY setid",
                                 self.database)
        assert rows == [["0", b], ["1", a]]

    def check_http_control(self) -> None:
        # digest with the password (7.1.25-7.1.27); GET the primary set; POST validates
        assert requests.get(self.url, timeout=5).status_code == 401
        state = requests.get(self.url, auth=self.auth, timeout=5)
        assert state.status_code == 200, state.text
        assert state.json() == {"primary": 1, "backup": 0, "primaryActive": True,
                                "backupActive": True}
        bad = requests.post(self.url, auth=self.auth, json={"primary": 7}, timeout=5)
        assert bad.status_code == 400 and "primary" in bad.json()["error"]
        listing = requests.get(self.url + "/list", auth=self.auth, timeout=5)
        assert listing.status_code == 200 and "result" in listing.json()
        # the tls: socket serves the same over HTTPS with the default certificate (9.0)
        secure = requests.get(f"https://{PRIV}:{self.ports.https}/dispatcher", auth=self.auth,
                              timeout=5, verify=False)
        assert secure.status_code == 200 and secure.json()["primary"] == 1

    def check_call_to_genesis(self) -> None:
        # from the allowList to the proxy's address: the primary set, media relayed, the
        # encryption header obeyed and removed (Appendix A step 1)
        caller = self.client("127.0.0.33")  # allowList 127.0.0.32/28
        reply = invite(caller, f"sip:5551234@{PRIV}:{self.ports.private}", self.sip,
                       ["X-Media.Enc: sdes"])
        assert reply and reply.code == 200, reply and reply.raw
        wait_for(lambda: self.genesis_a.invites, what="the INVITE at Genesis A")
        request = self.genesis_a.invites[-1]
        assert "X-Media.Enc" not in request and "RTP/SAVP " in request and "a=crypto" in request
        assert "a=fingerprint" not in request  # SDES only
        assert "c=IN IP4 127.0.0.1" in request  # rtpengine's private side towards Genesis
        assert ";gpm=sdes;gpi=none" in request  # both legs' modes in our Record-Route
        # enableInviteAuth (7.1.6), enableContactCheck (7.1.7) for everyone else: a phone
        # registers (its subscriber row has only HA1/HA1B), then calls with and without the
        # registered Contact
        phone = self.client("127.0.0.50")
        assert register(phone, "5000", "phonepw", self.ports.private).code == 200
        uri = f"sip:5551234@{PRIV}:{self.ports.private}"
        me, registered = f"sip:5000@{PRIV}", f"sip:5000@127.0.0.50:{phone.port}"
        reply = invite(phone, uri, self.sip, from_uri=me, contact=registered)
        assert reply and reply.code == 407
        auth = digest_authorization(reply.header("Proxy-Authenticate"), "INVITE", uri, "5000",
                                    "phonepw", "Proxy-Authorization")
        count = len(self.genesis_a.invites)
        reply = invite(phone, uri, self.sip, [auth], from_uri=me, contact=registered)
        assert reply and reply.code == 200, reply and reply.raw
        assert len(self.genesis_a.invites) == count + 1
        reply = invite(phone, uri, self.sip, from_uri=me, contact="sip:5000@127.0.0.50:1")
        auth = digest_authorization(reply.header("Proxy-Authenticate"), "INVITE", uri, "5000",
                                    "phonepw", "Proxy-Authorization")
        reply = invite(phone, uri, self.sip, [auth], from_uri=me, contact="sip:5000@127.0.0.50:1",
                       timeout=NO_ANSWER)
        assert reply is None  # ignored (7.1.7)

    def check_call_routing_rules(self) -> None:
        # 1: Genesis to the proxy's address: the registered user (phone 5000, public side)
        phone = next(c for c in self.clients if c.host == "127.0.0.50")
        genesis = self.client(PRIV)  # any port of a Genesis address is Genesis
        genesis.request("INVITE", f"sip:5000@{PRIV}:{self.ports.private}", self.sip,
                        ["Content-Type: application/sdp"], timeout=0.01,
                        body=SDP.format(host=PRIV, proto="RTP/AVP", extra=""))
        got = next_request(phone, "INVITE")
        assert got, "the registered phone got no INVITE"
        assert f"SIP/2.0/UDP {PUB}:{self.ports.public}" in got[0].raw  # public socket (3.7)
        assert f"c=IN IP4 {PUB}" in got[0].raw  # rtpengine's public side
        # 2: Genesis to another domain, to the provider: rtpList (step 2) with enableAvpf
        genesis.request("INVITE", f"sip:555@127.0.0.5:{self.provider.port}", self.sip,
                        ["Content-Type: application/sdp"], timeout=0.01,
                        body=SDP.format(host=PRIV, proto="RTP/SAVP", extra=CRYPTO))
        got = next_request(self.provider, "INVITE")
        assert got, "the provider got no INVITE"
        assert "RTP/AVPF" in got[0].raw and "a=crypto" not in got[0].raw
        # 4: proxyList may relay elsewhere, anyone else may not
        reply = invite(self.client("127.0.0.51"), "sip:x@198.51.100.99", self.sip)
        assert reply and reply.code == 403
        relay = self.client("127.0.0.40")
        relay.request("OPTIONS", f"sip:x@127.0.0.5:{self.provider.port}", self.sip,
                      timeout=0.01)
        assert next_request(self.provider, "OPTIONS"), "proxyList could not relay"

    def check_persistent_failover(self) -> None:
        # 7.1.17: set 1's only system fails its pings (INFO, 7.1.18), set 0 takes over for good
        self.genesis_a.code = 503
        wait_for(lambda: self.mariadb.rows("SELECT key_value FROM htable WHERE "
                                           "key_name='primary'", self.database) == [["0"]],
                 timeout=8, what="set 0 to become primary")
        state = requests.get(self.url, auth=self.auth, timeout=5).json()
        assert (state["primary"], state["backup"]) == (0, 1)
        # the node that takes over (here: the same one restarted) keeps the sets and the roles
        self.kamailio.stop()
        self.kamailio.start()
        state = requests.get(self.url, auth=self.auth, timeout=5).json()
        assert (state["primary"], state["backup"]) == (0, 1)
        listing = self.kamailio.rpc("dispatcher.list")
        assert all(f"sip:{PRIV}:{g.client.port}" in listing
                   for g in (self.genesis_a, self.genesis_b))
        # a POST moves it back (7.1.17: "forced by issuing an appropriate POST")
        state = requests.post(self.url, auth=self.auth, json={"primary": 1}, timeout=5)
        assert state.status_code == 200 and state.json()["primary"] == 1
        assert self.mariadb.rows("SELECT key_value FROM htable WHERE key_name='primary'",
                                 self.database) == [["1"]]

    def check_notifications(self) -> None:
        # 10.0: every event posted as JSON with the configured agent and credentials
        wait_for(lambda: {"dispatcher.dst-added", "dispatcher.dst-down",
                          "dispatcher.primary-changed"}
                 <= {item["event"]["event"] for item in Recorder.received},
                 timeout=5, what="notifications")
        first = Recorder.received[0]
        assert first["agent"] == "Genesis Proxy Test"
        assert base64.b64decode(first["auth"].split()[1]).decode() == 'proxy:n"p;w=#x'
        assert first["event"]["system"] == "genproxysa" and first["event"]["time"] > 0
        down = next(item["event"] for item in Recorder.received
                    if item["event"]["event"] == "dispatcher.dst-down")
        assert (down["set"], down["destination"]) == (1, f"sip:{PRIV}:{self.genesis_a.client.port}")

    def check_unregister(self) -> None:
        # a Genesis that unregisters leaves its set (row and memory)
        genesis = self.genesis_b
        genesis.stop()
        time.sleep(0.3)
        uri = f"sip:{PRIV}:{self.ports.private}"
        headers = [f"Contact: <sip:{genesis.user}@{PRIV}:{genesis.client.port}>", "Expires: 0"]
        call_id = f"unreg-{genesis.user}"
        kwargs = {"to": f"sip:{genesis.user}@{PRIV}", "from_uri": f"sip:{genesis.user}@{PRIV}",
                  "call_id": call_id}
        reply = genesis.client.request("REGISTER", uri, self.sip, headers, **kwargs)
        auth = digest_authorization(reply.header("WWW-Authenticate"), "REGISTER", uri,
                                    genesis.user, genesis.password)
        reply = genesis.client.request("REGISTER", uri, self.sip, [*headers, auth], **kwargs)
        assert reply and reply.code == 200
        wait_for(lambda: self.mariadb.rows("SELECT setid FROM dispatcher", self.database)
                 == [["1"]], what="the row to go")
        assert f"sip:{PRIV}:{genesis.client.port}" not in self.kamailio.rpc("dispatcher.list")

    def check_live_list_change(self) -> None:
        # a denyList change is taken live: new rows, then permissions.addressReload (live.py)
        newcomer = self.client("127.0.0.60")
        assert options(newcomer, self.ports.private, timeout=NO_ANSWER) is None  # no list yet
        self.mariadb.sql("INSERT INTO address (grp, ip_addr, mask, port, tag) "
                         "VALUES (3, '127.0.0.60', 32, 0, 'proxyList')", self.database)
        self.kamailio.rpc("permissions.addressReload")
        reply = options(newcomer, self.ports.private)
        assert reply and reply.code == 200

    def check_live_uacreg_change(self) -> None:
        # a new uacreg row is loaded by uac.reg_reload (live.py); uac registers it at its next
        # timer run (reg_timer_interval, 7.1.9)
        columns = ("l_username, l_domain, r_username, r_domain, realm, auth_username, "
                   "auth_password, auth_ha1, auth_proxy, expires, flags, reg_delay, "
                   "contact_addr, socket")
        self.mariadb.sql(f"INSERT INTO uacreg (l_uuid, {columns}) SELECT 'trunk2', {columns} "
                         "FROM uacreg WHERE l_uuid = 'trunk1'", self.database)
        self.kamailio.rpc("uac.reg_reload")
        assert "trunk2" in self.kamailio.rpc("uac.reg_dump")

    def check_anti_flood(self) -> None:
        # 7.1.15: a burst from one address is cut off and the address stays banned
        flood = self.client("127.0.0.77")
        answered = sum(1 for _ in range(60)
                       if flood.request("OPTIONS", f"sip:{PRIV}:{self.ports.private}", self.sip,
                                        timeout=0.05))
        assert answered < 60
        assert options(flood, self.ports.private, timeout=NO_ANSWER) is None
        assert "127.0.0.77" in self.kamailio.rpc("htable.dump", "ipban")


def test_ms_sql_registration_and_http_with_only_hashes(tmp_path: Path, mariadb: MariaDB,
                                          stopper: list) -> None:
    ports = Ports()
    kamailio, database = deploy(hash_auth_snapshot(ports), tmp_path, mariadb)
    stopper.append(kamailio)
    url = f"http://{PRIV}:{ports.http}/dispatcher"
    # a Genesis registers without authentication (enableRegAuth No): its row goes in over ODBC
    genesis = SipClient(PRIV)
    stopper.append(genesis)
    reply = genesis.request("REGISTER", f"sip:{PRIV}:{ports.private}", (PRIV, ports.private),
                            [f"Contact: <sip:genesis_b@{PRIV}:{genesis.port}>"],
                            to=f"sip:genesis_b@{PRIV}", from_uri=f"sip:genesis_b@{PRIV}")
    assert reply and reply.code == 200, reply and reply.raw
    assert reply.header("Server").startswith("kamailio (5.6")  # serverHeader kamDefault
    wait_for(lambda: mariadb.rows("SELECT setid, destination FROM dispatcher", database) == [
        ["0", f"sip:{PRIV}:{genesis.port}"]], what="the dispatcher row")
    # db_unixodbc sends values unescaped: a "'" never reaches the database, a "\" is plain
    for agent, code in (("O'Brien", 400), ("back\\slash", 200)):
        reply = genesis.request("REGISTER", f"sip:{PRIV}:{ports.private}", (PRIV, ports.private),
                                [f"Contact: <sip:genesis_b@{PRIV}:{genesis.port}>",
                                 f"User-Agent: {agent}"],
                                to=f"sip:genesis_b@{PRIV}", from_uri=f"sip:genesis_b@{PRIV}")
        assert reply and reply.code == code, reply and reply.raw
    stored = mariadb.rows("SELECT user_agent FROM location", database)
    assert stored == [["back\\\\slash"]]  # one backslash, printed doubled by `mariadb -B`
    # HA1 answers the plain user name, HA1B the user@realm form (7.1.28, 7.1.29)
    for user in (HTTP_USER, f"{HTTP_USER}@{HTTP_REALM}"):
        reply = requests.get(url, auth=HTTPDigestAuth(user, HTTP_PASS), timeout=5)
        assert reply.status_code == 200, (user, reply.text)
        assert reply.json()["primary"] == 1
    assert requests.get(url, auth=HTTPDigestAuth(HTTP_USER, "wrong"), timeout=5).status_code == 401
    # astPersistentFailover No: a POST still sets the primary set, written over ODBC
    posted = requests.post(url, auth=HTTPDigestAuth(HTTP_USER, HTTP_PASS), json={"primary": 0},
                           timeout=5)
    assert posted.json() == {"primary": 0, "backup": 1, "primaryActive": True,
                             "backupActive": False}
    assert mariadb.rows("SELECT key_value FROM htable WHERE key_name='primary'", database) == [
        ["0"]]
    # a SIP port does not serve HTTP
    with socket.create_connection((PRIV, ports.private), 5) as raw:
        raw.sendall(b"GET /dispatcher HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.recv(200).startswith(b"HTTP/1.1 403")
