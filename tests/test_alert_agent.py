"""The Pacemaker alert agent (genweb/agents/alert/genproxy_alert) and its renderer (alerts.py).

The agent runs as Pacemaker runs it: a subprocess of the system python3 with only CRM_alert_*
variables, against small HTTP and HTTPS receivers on 127.0.0.1 that check Basic and Digest
credentials, certificates and redirects the way a notification server would. The crm part is
loaded offline by crmsh into an empty CIB file and checked by crm_verify.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.server
import json
import os
import py_compile
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from genweb.commit import alerts
from genweb.commit.render import render
from genweb.commit.snapshot import Snapshot
from tests.tls.pki import Pair
from tests.tls.tlslab import server_context

AGENTS = Path(__file__).resolve().parents[1] / "genweb" / "agents"
AGENT = AGENTS / "alert" / "genproxy_alert"
FENCE_AGENTS = (AGENTS / "fence" / "fence_ether_snmp", AGENTS / "fence" / "fence_cisco_sgx00")
SYSTEM_PYTHON = Path("/usr/bin/python3")
EPOCH = 1764423000
USER, PASSWORD = "proxy", "s3cret-Pa55;word"

needs_system_python = pytest.mark.skipif(not SYSTEM_PYTHON.exists(),
                                         reason="the agents run with /usr/bin/python3 (python3)")


# -- a notification server on loopback ------------------------------------------------------


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - digest auth is MD5 by definition


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What the server demands and what it got."""

    auth: str = "none"  # none, basic, digest
    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)  # path -> (code, to)
    received: list[Received] = field(default_factory=list)
    refused: int = 0  # requests answered 401
    realm: str = "genproxy-test"
    nonce: str = field(default_factory=lambda: secrets.token_hex(16))

    def authorized(self, header: str, method: str) -> bool:
        if self.auth == "basic":
            expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            return header == f"Basic {expected}"
        if self.auth == "digest":
            return self.digest_ok(header, method)
        return True

    def digest_ok(self, header: str, method: str) -> bool:
        if not header.startswith("Digest "):
            return False
        fields = {name: quoted or bare for name, quoted, bare
                  in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', header[7:])}
        ha1 = md5(f"{USER}:{self.realm}:{PASSWORD}")
        ha2 = md5(f"{method}:{fields.get('uri', '')}")
        expected = md5(f"{ha1}:{self.nonce}:{fields.get('nc')}:{fields.get('cnonce')}:"
                       f"{fields.get('qop')}:{ha2}")
        return (fields.get("username") == USER and fields.get("nonce") == self.nonce
                and fields.get("response") == expected)

    def challenge(self) -> str:
        if self.auth == "basic":
            return f'Basic realm="{self.realm}"'
        return (f'Digest realm="{self.realm}", nonce="{self.nonce}", qop="auth", '
                'algorithm=MD5')


def handler_for(receiver: Receiver) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not receiver.authorized(self.headers.get("Authorization", ""), "POST"):
                receiver.refused += 1
                self.answer(401, {"WWW-Authenticate": receiver.challenge()})
                return
            if self.path in receiver.redirects:
                code, target = receiver.redirects[self.path]
                self.answer(code, {"Location": target})
                return
            receiver.received.append(Received(self.path, dict(self.headers.items()), body))
            self.answer(200)

        def answer(self, code: int, headers: Mapping[str, str] | None = None) -> None:
            self.send_response(code)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@dataclass
class Server:
    url: str
    receiver: Receiver


@pytest.fixture
def serve() -> Iterator[Any]:
    """Start receivers on 127.0.0.1 (plain, or TLS with a given context); all stopped after."""
    started: list[http.server.ThreadingHTTPServer] = []

    def start(receiver: Receiver | None = None, tls: ssl.SSLContext | None = None) -> Server:
        receiver = receiver or Receiver()
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_for(receiver))
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        scheme = "https" if tls else "http"
        return Server(f"{scheme}://127.0.0.1:{server.server_address[1]}", receiver)

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


# -- certificates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    wrong_name_cert: Path  # signed by the CA, for other.example only
    wrong_name_key: Path
    client_cert: Path
    client_key: Path


def _key_and_cert(folder: Path, name: str, subject: str, sans: list[Any], issuer: Any = None,
                  ca: bool = False) -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name_ = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    signer_key, signer_name = (issuer if issuer else (key, name_))
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(name_).issuer_name(signer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(signer_key, hashes.SHA256())
    (folder / f"{name}.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (folder / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, name_


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    import ipaddress

    from cryptography import x509

    folder = tmp_path_factory.mktemp("pki")
    ca = _key_and_cert(folder, "ca", "genweb test CA", [], ca=True)
    _key_and_cert(folder, "server", "127.0.0.1",
                  [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))], issuer=ca)
    _key_and_cert(folder, "wrong", "other.example", [x509.DNSName("other.example")], issuer=ca)
    _key_and_cert(folder, "client", "genproxy node", [], issuer=ca)
    return Pki(folder / "ca.crt", folder / "server.crt", folder / "server.key",
               folder / "wrong.crt", folder / "wrong.key", folder / "client.crt",
               folder / "client.key")


def server_tls(pki: Pki, wrong_name: bool = False, client_ca: Path | None = None,
               maximum: ssl.TLSVersion | None = None, ciphers: str = "") -> ssl.SSLContext:
    pair = (Pair(pki.wrong_name_key, pki.wrong_name_cert) if wrong_name
            else Pair(pki.server_key, pki.server_cert))
    return server_context(pair, client_ca=client_ca, maximum=maximum, ciphers=ciphers)


# -- running the agent ------------------------------------------------------------------------


def destination(url: str, **options: Any) -> dict[str, Any]:
    return {"name": "notify1", "url": url, "redirect": True, "user": "", "password": "",
            "user_agent": "Genesis Proxy", "verify_peer": False, "verify_host": False,
            "client_key": "", "client_cert": "", "ciphers": "", "tls_version": "TLSv1.2+",
            **options}


NODE_OFFLINE = {"CRM_alert_kind": "node", "CRM_alert_node": "node2", "CRM_alert_desc": "lost",
                "CRM_alert_nodeid": "2"}
NODE_ONLINE = {"CRM_alert_kind": "node", "CRM_alert_node": "node2", "CRM_alert_desc": "member",
               "CRM_alert_nodeid": "2"}
FENCE_REF = "0bd56e33-5e08-4ef8-a6c3-2e5c0f6c1b5a"
FENCED = {"CRM_alert_kind": "fencing", "CRM_alert_node": "node3", "CRM_alert_task": "reboot",
          "CRM_alert_rc": "0",
          "CRM_alert_desc": f"Operation reboot of node3 by node1 for pacemaker-controld.1723@node2: "
                            f"OK (ref={FENCE_REF})"}


def run_agent(tmp_path: Path, destinations: list[dict[str, Any]], alert: Mapping[str, str],
              ca_file: str = "", config: dict[str, Any] | None = None,
              ) -> subprocess.CompletedProcess[str]:
    """The agent as Pacemaker runs it: its own environment, nothing inherited."""
    path = tmp_path / "alert-destinations.json"
    path.write_text(json.dumps(config or {"system": "genproxysa", "node": "node1",
                                          "ca_file": ca_file, "destinations": destinations}))
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "GENPROXY_ALERT_CONFIG": str(path),
           "CRM_alert_version": "2.1.5", "CRM_alert_recipient": "", "CRM_alert_node_sequence": "7",
           "CRM_alert_timestamp": "12:30:00.000000", "CRM_alert_timestamp_epoch": str(EPOCH),
           "CRM_alert_timestamp_usec": "123456", **alert}
    return subprocess.run([str(AGENT)], env=env, capture_output=True, text=True, timeout=60)


def expect_delivered(done: subprocess.CompletedProcess[str], server: Server, path: str = "/",
                     ) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    assert len(server.receiver.received) == 1, server.receiver.received
    got = server.receiver.received[0]
    assert got.path == path
    assert got.headers["Content-Type"] == "application/json"
    return got.event


pytestmark = needs_system_python


# -- events ------------------------------------------------------------------------------------


def test_node_offline_reaches_a_plain_http_server(tmp_path: Path, serve) -> None:
    server = serve()
    done = run_agent(tmp_path, [destination(server.url)], NODE_OFFLINE)
    event = expect_delivered(done, server)
    assert event == {"source": "genproxy", "event": "node.offline", "system": "genproxysa",
                     "node": "node1", "time": EPOCH, "target": "node2", "target_id": "2",
                     "state": "lost"}
    assert server.receiver.received[0].headers["User-Agent"] == "Genesis Proxy"


def test_node_online_with_basic_auth_and_own_user_agent(tmp_path: Path, serve) -> None:
    server = serve(Receiver(auth="basic"))
    done = run_agent(tmp_path, [destination(server.url, user=USER, password=PASSWORD,
                                            user_agent="HA Cluster 1")], NODE_ONLINE)
    event = expect_delivered(done, server)
    assert event["event"] == "node.online" and event["target"] == "node2"
    assert server.receiver.refused == 1  # asked without credentials, then answered the challenge
    assert server.receiver.received[0].headers["User-Agent"] == "HA Cluster 1"


def test_fence_event_with_digest_auth(tmp_path: Path, serve) -> None:
    server = serve(Receiver(auth="digest"))
    done = run_agent(tmp_path, [destination(server.url + "/events/ha", user=USER,
                                            password=PASSWORD)], FENCED)
    event = expect_delivered(done, server, "/events/ha")
    assert event == {"source": "genproxy", "event": "fence.off", "system": "genproxysa",
                     "node": "node1", "time": EPOCH, "target": "node3", "action": "reboot",
                     "rc": 0, "detail": FENCED["CRM_alert_desc"], "id": FENCE_REF}
    assert server.receiver.received[0].headers["Authorization"].startswith("Digest ")


@pytest.mark.parametrize(("task", "rc", "event_name"), [
    ("on", "0", "fence.on"), ("off", "0", "fence.off"), ("reboot", "1", "fence.failed"),
    ("off", "-62", "fence.failed")])
def test_fence_outcomes(tmp_path: Path, serve, task: str, rc: str, event_name: str) -> None:
    server = serve()
    alert = {"CRM_alert_kind": "fencing", "CRM_alert_node": "node2", "CRM_alert_task": task,
             "CRM_alert_rc": rc, "CRM_alert_desc": f"Operation {task} of node2 by node1: x"}
    event = expect_delivered(run_agent(tmp_path, [destination(server.url)], alert), server)
    assert (event["event"], event["action"], event["rc"]) == (event_name, task, int(rc))
    assert "id" not in event


def test_wrong_password_fails_without_showing_it(tmp_path: Path, serve) -> None:
    server = serve(Receiver(auth="digest"))
    done = run_agent(tmp_path, [destination(server.url, user=USER, password="not-the-password")],
                     NODE_OFFLINE)
    assert done.returncode == 1
    assert "notification node.offline to notify1 failed: HTTP 401" in done.stderr
    assert "not-the-password" not in done.stderr + done.stdout
    assert server.receiver.received == []


def test_every_destination_gets_it_and_a_dead_one_is_reported(tmp_path: Path, serve) -> None:
    first, second = serve(), serve(Receiver(auth="basic"))
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    destinations = [destination(first.url), {**destination(dead), "name": "notify2"},
                    {**destination(second.url, user=USER, password=PASSWORD), "name": "notify3"}]
    started = time.monotonic()
    done = run_agent(tmp_path, destinations, NODE_OFFLINE)
    assert time.monotonic() - started < 10
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "notification node.offline to notify2 failed: [Errno 111] Connection refused"]
    assert [len(s.receiver.received) for s in (first, second)] == [1, 1]


def test_redirects_follow_the_setting(tmp_path: Path, serve) -> None:
    server = serve(Receiver(redirects={"/old": (307, "/new"), "/moved": (301, "/new")}))
    for path in ("/old", "/moved"):
        done = run_agent(tmp_path, [destination(server.url + path)], NODE_ONLINE)
        assert done.returncode == 0, done.stderr
    assert [(r.path, r.event["event"]) for r in server.receiver.received] == [
        ("/new", "node.online"), ("/new", "node.online")]
    done = run_agent(tmp_path, [destination(server.url + "/old", redirect=False)], NODE_ONLINE)
    assert done.returncode == 1 and "failed: HTTP 307" in done.stderr
    assert len(server.receiver.received) == 2


def test_resource_events_and_empty_destinations_send_nothing(tmp_path: Path, serve) -> None:
    server = serve()
    resource = {"CRM_alert_kind": "resource", "CRM_alert_rsc": "failover_ip1",
                "CRM_alert_task": "monitor", "CRM_alert_rc": "7", "CRM_alert_node": "node1"}
    assert run_agent(tmp_path, [destination(server.url)], resource).returncode == 0
    assert run_agent(tmp_path, [], NODE_OFFLINE).returncode == 0
    assert server.receiver.received == []


def test_a_missing_configuration_is_reported(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "GENPROXY_ALERT_CONFIG": str(tmp_path / "none.json"),
           **NODE_OFFLINE}
    done = subprocess.run([str(AGENT)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and "cannot read" in done.stderr


# -- TLS ---------------------------------------------------------------------------------------


def test_https_without_verification_accepts_a_self_signed_server(tmp_path: Path, serve,
                                                                  pki: Pki) -> None:
    server = serve(tls=server_tls(pki))
    event = expect_delivered(run_agent(tmp_path, [destination(server.url)], FENCED), server)
    assert event["event"] == "fence.off"


def test_https_peer_and_host_verification_with_the_ca_file(tmp_path: Path, serve,
                                                           pki: Pki) -> None:
    good, wrong_name = serve(tls=server_tls(pki)), serve(tls=server_tls(pki, wrong_name=True))
    verify = {"verify_peer": True, "verify_host": True}
    # notifyCaCert trusts the CA: the server's certificate and name check out
    done = run_agent(tmp_path, [destination(good.url, **verify)], NODE_OFFLINE, str(pki.ca))
    expect_delivered(done, good)
    # the system's CA list does not know the test CA
    done = run_agent(tmp_path, [destination(good.url, **verify)], NODE_OFFLINE)
    assert done.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in done.stderr
    # a trusted certificate for another name fails host verification only
    done = run_agent(tmp_path, [destination(wrong_name.url, **verify)], NODE_OFFLINE, str(pki.ca))
    assert done.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in done.stderr
    assert "IP address mismatch" in done.stderr
    done = run_agent(tmp_path, [destination(wrong_name.url, verify_peer=True)], NODE_OFFLINE,
                     str(pki.ca))
    expect_delivered(done, wrong_name)


def test_https_client_certificate(tmp_path: Path, serve, pki: Pki) -> None:
    server = serve(tls=server_tls(pki, client_ca=pki.ca))
    done = run_agent(tmp_path, [destination(server.url)], NODE_OFFLINE)
    assert done.returncode == 1 and server.receiver.received == []
    done = run_agent(tmp_path, [destination(server.url, client_key=str(pki.client_key),
                                            client_cert=str(pki.client_cert))], NODE_OFFLINE)
    expect_delivered(done, server)
    combined = tmp_path / "client.pem"  # one file holding both (10.2.9: cert may be blank)
    combined.write_text(pki.client_key.read_text() + pki.client_cert.read_text())
    server.receiver.received.clear()
    done = run_agent(tmp_path, [destination(server.url, client_key=str(combined))], NODE_OFFLINE)
    expect_delivered(done, server)


def test_https_minimum_tls_version_and_ciphers(tmp_path: Path, serve, pki: Pki) -> None:
    tls12 = serve(tls=server_tls(pki, maximum=ssl.TLSVersion.TLSv1_2,
                                 ciphers="ECDHE-ECDSA-AES128-GCM-SHA256"))
    done = run_agent(tmp_path, [destination(tls12.url, tls_version="TLSv1.3+")], NODE_OFFLINE)
    assert done.returncode == 1 and tls12.receiver.received == []
    done = run_agent(tmp_path, [destination(tls12.url, ciphers="ECDHE-ECDSA-AES256-GCM-SHA384")],
                     NODE_OFFLINE)
    assert done.returncode == 1 and tls12.receiver.received == []
    done = run_agent(tmp_path, [destination(tls12.url, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")],
                     NODE_OFFLINE)
    expect_delivered(done, tls12)


# -- the agents compile with the nodes' python -------------------------------------------------


@pytest.mark.parametrize("agent", [AGENT, *FENCE_AGENTS], ids=lambda p: p.name)
def test_agents_compile_with_the_system_python(agent: Path, tmp_path: Path) -> None:
    """ruff checks only *.py: the agents (no suffix) are at least compiled, by the nodes' python."""
    assert os.access(agent, os.X_OK), f"{agent} is not executable"
    assert agent.read_text().startswith("#!/usr/bin/python3\n")
    done = subprocess.run([str(SYSTEM_PYTHON), "-c", "import py_compile, sys; "
                           "py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)",
                           str(agent), str(tmp_path / "agent.pyc")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    py_compile.compile(str(agent), cfile=str(tmp_path / "venv.pyc"), doraise=True)
    ruff = Path(sys.executable).with_name("ruff")
    if ruff.exists():  # given by name, ruff checks a file whatever its suffix
        linted = subprocess.run([str(ruff), "check", str(agent)], capture_output=True, text=True,
                                timeout=60, cwd=AGENTS.parents[1])
        assert linted.returncode == 0, linted.stdout


# -- alerts.py: the rendered file and the crm alert ---------------------------------------------


def snapshot(notifies: list[dict[str, str]], ca: str = "") -> Snapshot:
    return Snapshot.build(
        settings={"systemConfig": {"privateIP": "127.0.0.100", "privateSubnet": "8",
                                   "privatePing": "127.0.0.1", "systemName": "genproxysa"},
                  "proxyConfig": {"notifyCaCert": ca}},
        records={"haNodes": [{"nodeID": "1", "nodeName": "node1", "privateIP": "127.0.0.1"},
                             {"nodeID": "2", "nodeName": "node2", "privateIP": "127.0.0.2"}],
                 "notifies": notifies},
        generated={"corosyncAuthkey": "QUJD" * 64, "rtpDbPass": "Zq3_x-9TfL0wNs7uVbYc2dEe"})


def test_destinations_file_carries_every_option_root_and_haclient_only() -> None:
    snap = snapshot([
        {"notifyURL": "https://is.example.com:8443/ha", "notifyUser": "proxy",
         "notifyPassword": "pw-1", "notifyVerifyPeer": "Yes", "notifyVerifyHost": "Yes",
         "notifyClientKey": "notify.key", "notifyCipherList": "HIGH:!aNULL",
         "notifyTlsVersion": "TLSv1.3+", "notifyRedirect": "No", "notifyUserAgent": "GP 2"},
        {"notifyURL": "192.0.2.10:8080"}], ca="/etc/ssl/certs/notify-ca.pem")
    rendered = render(snap)
    for number in (1, 2):
        file = rendered.file(f"node{number}", alerts.DESTINATIONS_FILE)
        assert (file.mode, file.owner, file.group) == (0o640, "root", "haclient")
        config = json.loads(file.content)
        assert config["node"] == f"node{number}" and config["system"] == "genproxysa"
    assert config == {
        "system": "genproxysa", "node": "node2", "ca_file": "/etc/ssl/certs/notify-ca.pem",
        "destinations": [
            {"name": "notify1", "url": "https://is.example.com:8443/ha", "redirect": False,
             "user": "proxy", "password": "pw-1", "user_agent": "GP 2", "verify_peer": True,
             "verify_host": True, "client_key": "/etc/ssl/genproxy_pvt/notify.key",
             "client_cert": "", "ciphers": "HIGH:!aNULL", "tls_version": "TLSv1.3+"},
            {"name": "notify2", "url": "http://192.0.2.10:8080", "redirect": True, "user": "",
             "password": "", "user_agent": "Genesis Proxy", "verify_peer": False,
             "verify_host": False, "client_key": "", "client_cert": "", "ciphers": "",
             "tls_version": "TLSv1.2+"}]}
    assert "pw-1" not in rendered.crm  # secrets stay out of the CIB
    assert rendered.crm.count("alert genproxy_alert ") == 1


def test_rendered_file_drives_the_agent(tmp_path: Path, serve) -> None:
    """notifyURL without a scheme, Basic auth: from the snapshot to the server's JSON."""
    server = serve(Receiver(auth="basic"))
    snap = snapshot([{"notifyURL": server.url.removeprefix("http://"), "notifyUser": USER,
                      "notifyPassword": PASSWORD}])
    config = json.loads(render(snap).file("node2", alerts.DESTINATIONS_FILE).content)
    event = expect_delivered(run_agent(tmp_path, [], NODE_OFFLINE, config=config), server)
    assert (event["node"], event["system"], event["event"]) == ("node2", "genproxysa",
                                                                  "node.offline")


CRM_TOOLS = ("crm", "cibadmin", "crm_verify")


@pytest.mark.skipif(not all(shutil.which(tool) for tool in CRM_TOOLS),
                    reason="needs crmsh and pacemaker (scripts/test.sh installs them)")
def test_crm_alert_loads_offline_and_verifies(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    cib = tmp_path / "cib.xml"
    cib.write_text(subprocess.run(["cibadmin", "--empty"], capture_output=True, text=True,
                                  check=True, env=env).stdout)
    script = tmp_path / "alert.crm"
    # alone, the CIB needs fencing off to verify: the alert part is what is checked here
    script.write_text("property cib-bootstrap-options: stonith-enabled=false\n"
                      + alerts.alert_crm(snapshot([])))
    env["CIB_file"] = str(cib)
    loaded = subprocess.run(["crm", "-D", "plain", "configure", "load", "update", str(script)],
                            capture_output=True, text=True, env=env, timeout=120)
    complaints = [line for line in loaded.stderr.splitlines() if "lack of quorum" not in line]
    assert loaded.returncode == 0 and complaints == [], loaded.stderr
    verified = subprocess.run(["crm_verify", "--xml-file", str(cib), "-V"], capture_output=True,
                              text=True, env=env, timeout=120)
    assert verified.returncode == 0, verified.stderr
    alert = ET.parse(cib).getroot().find("configuration/alerts/alert")
    assert alert is not None
    assert (alert.get("id"), alert.get("path")) == ("genproxy_alert", alerts.ALERT_AGENT)
    assert sorted(child.tag for child in alert.find("select")) == ["select_fencing",
                                                                   "select_nodes"]
    meta = {nv.get("name"): nv.get("value") for nv in alert.iter("nvpair")}
    assert meta == {"timeout": "20s"}


@pytest.mark.parametrize(("action", "rc", "event_name"), [
    ("reboot", "0", "fence.off"), ("on", "0", "fence.on"), ("off", "1", "fence.failed")])
def test_pacemaker_2_1_fence_alerts_name_the_action_only_in_the_description(
        tmp_path: Path, serve, action: str, rc: str, event_name: str) -> None:
    """What Pacemaker 2.1.5 really passes (seen in tests/lab/test_alerts_lab.py): the task is
    the notification's name, the action is in the description."""
    server = serve()
    alert = {**FENCED, "CRM_alert_task": "st_notify_fence", "CRM_alert_rc": rc,
             "CRM_alert_desc": f"Operation {action} of node3 by node1 for "
                               f"stonith_admin.361@node1: OK (ref={FENCE_REF})"}
    event = expect_delivered(run_agent(tmp_path, [destination(server.url)], alert), server)
    assert (event["event"], event["action"], event["rc"], event["id"]) == (
        event_name, action, int(rc), FENCE_REF)
