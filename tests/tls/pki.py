"""A throw-away PKI made with the openssl command line: a test CA and another CA nobody trusts,
server and client certificates, one client certificate revoked in the CA's CRL.

Every key is EC P-256 (quick to make). Server certificates name 127.0.0.1/.2/.4 and localhost in
subjectAltName, except ``wrongname`` (only ``other.test``), for host-name checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.render.kamailio_helpers import run

LOOPBACK_NAMES = "IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.4,DNS:localhost"

# `openssl ca` (used for revocation and the CRL) needs a database and a config naming it
_CA_CONFIG = """\
[ca]
default_ca = test_ca
[test_ca]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = $dir/ca.crt
private_key = $dir/ca.key
default_md = sha256
default_crl_days = 30
policy = anything
[anything]
commonName = supplied
"""


@dataclass(frozen=True)
class Pair:
    key: Path
    cert: Path

    @property
    def name(self) -> str:
        return self.cert.stem


@dataclass(frozen=True)
class Pki:
    folder: Path
    ca: Pair  # the test CA: what the proxy and the far ends trust
    other_ca: Pair  # another CA nobody here trusts
    server: Pair  # CA-signed, loopback names
    wrongname: Pair  # CA-signed, names only other.test
    untrusted_server: Pair  # other_ca-signed, loopback names
    client: Pair  # CA-signed client
    untrusted_client: Pair  # other_ca-signed client
    revoked_client: Pair  # CA-signed, revoked in crl
    deep_client: Pair  # CA -> inter1 -> inter2 -> client; cert file holds the chain below CA
    crl: Path  # the test CA's CRL (PEM)
    ca_path: Path  # a directory with the test CA, hashed (openssl rehash), for tlsCaPath

    def combined(self, pair: Pair) -> Path:
        """Key and certificate in one file (9.2.5: tlsCertificate may then be blank)."""
        target = self.folder / f"{pair.name}-combined.pem"
        if not target.exists():
            target.write_text(pair.key.read_text() + pair.cert.read_text())
        return target


def _openssl(*args: str | Path) -> None:
    run(["openssl", *map(str, args)], timeout=30)


def _key(path: Path) -> Path:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    return path


def _ca(folder: Path, name: str) -> Pair:
    key = _key(folder / f"{name}.key")
    cert = folder / f"{name}.crt"
    _openssl("req", "-x509", "-new", "-key", key, "-out", cert, "-days", "30",
             "-subj", f"/CN=genweb {name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return Pair(key, cert)


def _issue(folder: Path, ca: Pair, name: str, names: str, usage: str) -> Pair:
    """A certificate signed by ``ca``; usage "CA" makes an intermediate CA."""
    key = _key(folder / f"{name}.key")
    csr, cert, ext = (folder / f"{name}.{suffix}" for suffix in ("csr", "crt", "ext"))
    _openssl("req", "-new", "-key", key, "-out", csr, "-subj", f"/CN={name}")
    if usage == "CA":
        ext.write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
    else:
        ext.write_text(f"basicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n"
                       + (f"subjectAltName={names}\n" if names else ""))
    _openssl("x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial",
             "-out", cert, "-days", "30", "-extfile", ext)
    return Pair(key, cert)


def _revoke_and_publish(folder: Path, ca: Pair, revoked: Pair) -> Path:
    base = folder / "ca-db"
    (base / "newcerts").mkdir(parents=True)
    (base / "index.txt").write_text("")
    (base / "crlnumber").write_text("01\n")
    (base / "serial").write_text("1000\n")
    for pair, target in ((ca, base / "ca"),):
        target.with_suffix(".key").write_bytes(pair.key.read_bytes())
        target.with_suffix(".crt").write_bytes(pair.cert.read_bytes())
    config = base / "ca.cnf"
    config.write_text(_CA_CONFIG.format(dir=base))
    _openssl("ca", "-config", config, "-revoke", revoked.cert)
    crl = folder / "ca.crl"
    _openssl("ca", "-config", config, "-gencrl", "-out", crl)
    return crl


def _deep_client(folder: Path, ca: Pair) -> Pair:
    """Four levels (client, inter2, inter1, CA): refused with tlsVerifyDepth 1, fine with 2."""
    inter1 = _issue(folder, ca, "inter1", "", "CA")
    inter2 = _issue(folder, inter1, "inter2", "", "CA")
    leaf = _issue(folder, inter2, "deep-client", "", "clientAuth")
    chain = folder / "deep-client-chain.crt"
    chain.write_text(leaf.cert.read_text() + inter2.cert.read_text() + inter1.cert.read_text())
    return Pair(leaf.key, chain)


def make_pki(folder: Path) -> Pki:
    folder.mkdir(parents=True, exist_ok=True)
    ca, other = _ca(folder, "ca"), _ca(folder, "other-ca")
    server_usage, client_usage = "serverAuth,clientAuth", "clientAuth"
    revoked = _issue(folder, ca, "revoked-client", "", client_usage)
    ca_path = folder / "ca-path"
    ca_path.mkdir()
    (ca_path / "ca.pem").write_bytes(ca.cert.read_bytes())
    _openssl("rehash", ca_path)
    return Pki(folder, ca, other,
               server=_issue(folder, ca, "server", LOOPBACK_NAMES, server_usage),
               wrongname=_issue(folder, ca, "wrongname", "DNS:other.test", server_usage),
               untrusted_server=_issue(folder, other, "untrusted-server", LOOPBACK_NAMES,
                                       server_usage),
               client=_issue(folder, ca, "client", "", client_usage),
               untrusted_client=_issue(folder, other, "untrusted-client", "", client_usage),
               revoked_client=revoked, deep_client=_deep_client(folder, ca), crl=_revoke_and_publish(folder, ca, revoked),
               ca_path=ca_path)
