"""Values the system generates for itself: kept in the store, handed to render in the snapshot.

Render stays pure: randomness and clocks live here, called once when a value does not exist
yet (or when the operator asks for a new one, as updateRtpDbPass does).
"""

from __future__ import annotations

import base64
import datetime
import secrets
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def new_rtp_db_pass() -> str:
    """A redis password: URL-safe so it needs no quoting in rtpengine's `redis =` option."""
    return secrets.token_urlsafe(24)


def new_corosync_authkey() -> str:
    """Base64 of 256 random bytes, the size corosync-keygen writes."""
    return base64.b64encode(secrets.token_bytes(256)).decode()


def new_default_tls() -> tuple[str, str]:
    """A self-signed key and certificate for when no TLS section names one (9.2.4, 9.2.5)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "genproxy default")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM).decode()


_tls_pair: list[tuple[str, str]] = []


def _default_tls_part(index: int) -> Callable[[], str]:
    def make() -> str:
        if not _tls_pair:
            _tls_pair.append(new_default_tls())
        return _tls_pair[0][index]

    return make


MAKERS: dict[str, Callable[[], str]] = {
    "rtpDbPass": new_rtp_db_pass,
    "corosyncAuthkey": new_corosync_authkey,
    "kamailioDefaultKey": _default_tls_part(0),
    "kamailioDefaultCert": _default_tls_part(1),
}
