"""TLS around the rendered proxy: the SIP harness's proxy with its key files, SIPS clients and far
ends made with Python's ssl module, and an https notification receiver.

Debian's sipp 3.6.1 is built without TLS (no ``-t l1``, not linked to libssl), so SIP over TLS is
spoken here with Python's ssl module, on 127.0.0.0/8 and free ports only.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from genweb.commit.secrets import new_default_tls
from genweb.commit.snapshot import Snapshot
from genweb.kamailio import kamailio_files
from genweb.kamailio.model import PVT_DIR
from genweb.kamailio.tlscfg import tls_cfg
from tests.render.kamailio_helpers import MariaDB, Reply, free_port, parse_message
from tests.sip.harness import PRIV, PUB, Agents, Lab, NotifyServer, Ports, Proxy, snapshot
from tests.tls.pki import Pair

TCP = (socket.SOCK_STREAM,)

# Made once a session, as the commit makes it once (secrets.py): the default pair of 9.2.4
DEFAULT_KEY_PEM, DEFAULT_CERT_PEM = new_default_tls()


def tcp_port(host: str = PRIV) -> int:
    return free_port(TCP, host)


@dataclass
class TlsPorts(Ports):
    private_tls: int = field(default_factory=tcp_port)
    public_tls: int = field(default_factory=lambda: tcp_port(PUB))


def tls_snapshot(ports: TlsPorts, proxy: Mapping[str, str], records: Mapping[str, list],
                 system: Mapping[str, str] | None = None) -> Snapshot:
    """The SIP harness's snapshot with the TLS ports and the generated default key pair."""
    base = snapshot(ports, proxy, records, {"privatePortTLS": str(ports.private_tls),
                                            "publicPortTLS": str(ports.public_tls),
                                            **(system or {})})
    return dataclasses.replace(base, generated={"kamailioDefaultKey": DEFAULT_KEY_PEM,
                                                "kamailioDefaultCert": DEFAULT_CERT_PEM})


class TlsProxy(Proxy):
    """The harness's proxy plus /etc/ssl/genproxy_pvt: the generated default pair and the
    operator's key files (``keys``: file name there -> source), moved into the test folder."""

    def __init__(self, snap: Snapshot, ports: Ports, folder: Path, mariadb: MariaDB,
                 keys: Mapping[str, Path]):
        super().__init__(snap, ports, folder, mariadb)
        self.keys = dict(keys)
        self.pvt = folder / "pvt"

    def prepare(self) -> TlsProxy:
        super().prepare()
        self.pvt.mkdir(parents=True, exist_ok=True)
        for item in kamailio_files(self.snapshot, self.snapshot.nodes[0]):
            if item.path.startswith(f"{PVT_DIR}/"):
                (self.pvt / Path(item.path).name).write_text(item.content)
        for name, source in self.keys.items():
            shutil.copyfile(source, self.pvt / name)
        for path in (self.folder / "etc").iterdir():
            path.write_text(self.local(path.read_text()))
        self.kamailio.check()
        return self

    def local(self, text: str) -> str:
        return text.replace(f"{PVT_DIR}/", f"{self.pvt}/")

    def reload_tls(self, sections: list[Mapping[str, str]]) -> None:
        """What a live commit of the TLS sections does: a new tls.cfg, then tls.reload."""
        current = self.snapshot
        rebuilt = Snapshot.build(
            {page: dict(values) for page, values in current.settings.items()},
            {**{page: [dict(row) for row in rows] for page, rows in current.records.items()},
             "tlsProxyConfigs": list(sections)}, current.generated)
        self.snapshot = rebuilt
        (self.folder / "etc" / "tls.cfg").write_text(self.local(tls_cfg(rebuilt)))
        answer = self.rpc("tls.reload")
        assert "reloaded" in answer.lower(), answer


def start_tls_lab(folder: Path, mariadb: MariaDB, ports: TlsPorts, proxy: Mapping[str, str],
                  records: Mapping[str, list], keys: Mapping[str, Path],
                  system: Mapping[str, str] | None = None, expected_errors: str = "") -> Lab:
    started = TlsProxy(tls_snapshot(ports, proxy, records, system), ports,
                       folder / "kamailio", mariadb, keys)
    if expected_errors:
        started.expect_errors(expected_errors)
    try:
        started.start()
    except BaseException:
        started.stop()
        raise
    return Lab(started, Agents(folder / "sipp"))


def tls_sockets(lab: Lab) -> set[tuple[str, str, str, str]]:
    """corex.list_sockets as (proto, address, port, advertised address)."""
    found = set()
    for block in lab.proxy.rpc("corex.list_sockets").split("}\n{"):
        fields = dict(line.strip().split(": ", 1) for line in block.splitlines()
                      if ": " in line and not line.strip().startswith("ADDRLIST"))
        found.add((fields.get("PROTO", ""), fields.get("ADDR", ""), fields.get("PORT", ""),
                   fields.get("ADVERTISE", "")))
    return found


# -- SIP over TLS ----------------------------------------------------------------------------


def client_context(cert: Pair | None = None, ca: Path | None = None, *,
                   minimum: ssl.TLSVersion | None = None, maximum: ssl.TLSVersion | None = None,
                   ciphers: str = "") -> ssl.SSLContext:
    """A TLS client: presents ``cert`` if given, checks the server against ``ca`` if given
    (names included), else accepts any server."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca:
        context.load_verify_locations(ca)
    else:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    if cert:
        context.load_cert_chain(cert.cert, cert.key)
    if minimum:
        context.minimum_version = minimum
    if maximum:
        context.maximum_version = maximum
    if ciphers:
        context.set_ciphers(ciphers)
    return context


def sip_request(method: str, uri: str, via: str, extra: tuple[str, ...] = (),
                to: str = "") -> tuple[str, bytes]:
    call_id = uuid.uuid4().hex
    target = to or uri
    lines = [f"{method} {uri} SIP/2.0",
             f"Via: SIP/2.0/{via};rport;branch=z9hG4bK{uuid.uuid4().hex}",
             "Max-Forwards: 70", f"From: <{to or f'sip:tls-test@{PRIV}'}>;tag={uuid.uuid4().hex[:8]}",
             f"To: <{target}>", f"Call-ID: {call_id}", f"CSeq: 1 {method}", *extra,
             "Content-Length: 0", "", ""]
    return call_id, "\r\n".join(lines).encode()


@dataclass
class SipsResult:
    """What a SIPS client saw: the reply, or why there was none; the server's certificate."""

    reply: Reply | None
    error: str = ""
    server_cert: bytes = b""
    version: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.reply and self.reply.code == 200)


def read_message(stream: ssl.SSLSocket, buffer: bytearray) -> bytes | None:
    """One SIP message from a stream (head, then Content-Length bytes of body)."""
    while b"\r\n\r\n" not in buffer:
        data = stream.recv(65535)
        if not data:
            return None
        buffer += data
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"content-length", b"l"):
            length = int(value.strip() or 0)
    while len(rest) < length:
        data = stream.recv(65535)
        if not data:
            return None
        rest += data
    buffer[:] = rest[length:]
    return head + b"\r\n\r\n" + rest[:length]


def sips_request(host: str, port: int, context: ssl.SSLContext, source: str, method: str,
                 uri: str, *, to: str = "", extra: tuple[str, ...] = (),
                 server_name: str | None = None, timeout: float = 4) -> SipsResult:
    """One request over a new TLS connection from ``source``; the final reply, if any."""
    result = SipsResult(None)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as raw:
            raw.settimeout(timeout)
            raw.bind((source, 0))
            raw.connect((host, port))
            with context.wrap_socket(raw, server_hostname=server_name) as stream:
                result.server_cert = stream.getpeercert(binary_form=True) or b""
                result.version = stream.version() or ""
                local = stream.getsockname()
                call_id, data = sip_request(method, uri, f"TLS {local[0]}:{local[1]}", extra, to)
                stream.sendall(data)
                buffer = bytearray()
                while (message := read_message(stream, buffer)) is not None:
                    reply = parse_message(message)
                    if reply.code >= 200 and reply.header("Call-ID") == call_id:
                        result.reply = reply
                        break
                else:
                    result.error = "connection closed"
    except (OSError, ssl.SSLError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    return result


def sips_options(host: str, port: int, context: ssl.SSLContext, source: str,
                 server_name: str | None = None, timeout: float = 4) -> SipsResult:
    """OPTIONS for the proxy itself over TLS: 200 when the TLS session stood."""
    return sips_request(host, port, context, source, "OPTIONS",
                        f"sip:monitor@{host}:{port};transport=tls", server_name=server_name,
                        timeout=timeout)


def cert_requested(host: str, port: int) -> bool:
    """Whether the server asks for a client certificate (a CertificateRequest in the handshake:
    openssl s_client prints the signature algorithms it carries)."""
    result = subprocess.run(["openssl", "s_client", "-connect", f"{host}:{port}"],
                            input="", capture_output=True, text=True, timeout=20)
    return "Requested Signature Algorithms" in result.stdout


def pem(path: Path) -> bytes:
    """The first certificate of a PEM file, DER-encoded (what getpeercert returns)."""
    text = path.read_text()
    first = text[:text.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")]
    return ssl.PEM_cert_to_DER_cert(first[first.index("-----BEGIN CERTIFICATE-----"):])


# -- a far end: a Genesis or provider that speaks SIP over TLS -----------------------------------


@dataclass
class Received:
    message: Reply
    peer_cert: dict | None
    peer: tuple[str, int] = ("", 0)  # the proxy's end of the TLS connection it came over


# what a far end answers, by method (ACK and anything else: nothing)
FINAL = {"OPTIONS": (200, "OK"), "INFO": (200, "OK"), "BYE": (200, "OK")}


class SipsFarEnd:
    """A SIP endpoint on ``ip`` over TLS presenting ``pair``; with ``client_ca`` it requires a
    client certificate from that CA. Records every request (with the connection's client
    certificate and source) and handshake failure; answers OPTIONS, INFO and BYE 200, INVITE
    ``invite_code`` (486, or 200 with a ``;transport=tls`` Contact to set up a dialog); ACKs are
    absorbed. ``silent`` answers nothing (a Genesis that stopped). ``close_after`` closes the
    connection after each answer (and ACK), so that the proxy's next request makes (and
    verifies) a new one."""

    def __init__(self, ip: str, pair: Pair, client_ca: Path | None = None,
                 close_after: bool = False, also_trusted: str = "", invite_code: int = 486):
        self.ip, self.close_after, self.invite_code = ip, close_after, invite_code
        self.silent = False
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(pair.cert, pair.key)
        if client_ca:
            self.context.verify_mode = ssl.CERT_REQUIRED
            self.context.load_verify_locations(client_ca)
        if also_trusted:
            # a PEM certificate trusted beside client_ca (e.g. the generated default one)
            self.context.load_verify_locations(cadata=also_trusted)
        self.received: list[Received] = []
        self.failures: list[str] = []
        self.open = 0  # connections being served (the GIL makes += on it safe enough here)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((ip, 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(16)
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def uri_host(self) -> str:
        return f"{self.ip}:{self.port}"

    def _accept(self) -> None:
        while self.running:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        self.open += 1
        try:
            self._converse(raw)
        finally:
            self.open -= 1

    def _converse(self, raw: socket.socket) -> None:
        raw.settimeout(15)
        try:
            peer_address = raw.getpeername()
            with self.context.wrap_socket(raw, server_side=True) as stream:
                peer = stream.getpeercert()
                buffer = bytearray()
                while (data := read_message(stream, buffer)) is not None:
                    message = parse_message(data)
                    if message.code:
                        continue
                    self.received.append(Received(message, peer, peer_address))
                    if self.silent:
                        continue
                    method = message.raw.split(" ", 1)[0]
                    final = (self.invite_code, "OK" if self.invite_code == 200 else "Busy Here"
                             ) if method == "INVITE" else FINAL.get(method)
                    if final:
                        stream.sendall(self._answer(message, *final, contact=self._contact(
                            method, final[0])))
                    if self.close_after and (final or method == "ACK"):
                        return
        except (OSError, ssl.SSLError) as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")

    def _contact(self, method: str, code: int) -> str:
        """A 200 for an INVITE starts a dialog: where its in-dialog requests go."""
        if method == "INVITE" and code == 200:
            return f"<sip:farend@{self.uri_host};transport=tls>"
        return ""

    @staticmethod
    def _answer(request: Reply, code: int, reason: str, contact: str = "") -> bytes:
        keep = [f"{name}: {value}" for name, value in request.headers
                if name.lower() in ("via", "from", "call-id", "cseq", "record-route")]
        to = request.header("To") or ""
        keep.append(f"To: {to};tag=farend" if code > 100 and "tag=" not in to else f"To: {to}")
        if contact:
            keep.append(f"Contact: {contact}")
        return "\r\n".join([f"SIP/2.0 {code} {reason}", *keep, "Content-Length: 0", "",
                            ""]).encode()

    def requests(self, method: str) -> list[Received]:
        return [item for item in self.received if item.message.raw.startswith(f"{method} ")]

    def stop(self) -> None:
        self.running = False
        self.listener.close()


def client_cn(received: Received) -> str:
    """The commonName of the client certificate a request's connection presented."""
    return dict(item[0] for item in received.peer_cert["subject"])["commonName"]


# -- an https notification receiver --------------------------------------------------------------


def server_context(pair: Pair, *, client_ca: Path | None = None,
                   maximum: ssl.TLSVersion | None = None, ciphers: str = "") -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pair.cert, pair.key)
    if client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    if maximum:
        context.maximum_version = maximum
    if ciphers:
        context.set_ciphers(ciphers)
    return context


class HttpsNotifyServer(NotifyServer):
    """The harness's notification receiver behind TLS (``context``); handshakes that fail are
    kept in ``failures``."""

    def __init__(self, context: ssl.SSLContext):
        super().__init__()
        self.failures: list[str] = []
        # no client knows the port yet: swapping the listening socket now races with nobody.
        # The handshake runs in each request's thread (on its first read), not in the accept loop
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True,
                                                do_handshake_on_connect=False)
        self.httpd.handle_error = self._failed  # type: ignore[method-assign]

    def _failed(self, request: object, address: object) -> None:
        self.failures.append(repr(sys.exc_info()[1]))

    def url(self, path: str) -> str:
        return f"https://{PRIV}:{self.port}{path}"
