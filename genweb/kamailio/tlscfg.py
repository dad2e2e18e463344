"""tls.cfg from the Proxy TLS Configuration sections (9.2): one ``[role:domain]`` profile each,
with ``[server:default]`` and ``[client:default]`` always present (9.1)."""

from __future__ import annotations

from collections.abc import Mapping

from ..catalogue.pages import TLS_DEFAULT_DOMAIN
from ..commit.snapshot import Snapshot
from .cfgsyntax import ini_str, plain_token
from .model import DEFAULT_CERT, DEFAULT_KEY, PVT_DIR

# Kamailio 5.6's tls module knows no TLSv1.3 method names: the nearest method that still
# accepts TLSv1.3 is "TLSv1.2+" (a TLSv1.3-only floor needs a newer Kamailio).
_METHODS_56 = {"TLSv1.3+": "TLSv1.2+", "TLSv1.3": "TLSv1.2+"}

# 9.2.6: a server's tlsVerify asks for (and checks) a client certificate; a client's checks the
# server's. "Optional No CA" only exists as verify_client.
_SERVER_VERIFY = {
    "Off": {"verify_certificate": "no", "require_certificate": "no"},
    "On": {"verify_certificate": "yes", "require_certificate": "yes"},
    "Optional": {"verify_certificate": "yes", "require_certificate": "no"},
    "Optional No CA": {"verify_client": "optional_no_ca"},
}


def _client_verify(choice: str) -> dict[str, str]:
    # 9.2.6: Optional / Optional No CA "probably behave as On" for a client
    return {"verify_certificate": "no" if choice == "Off" else "yes",
            "require_certificate": "no"}


def key_and_certificate(section: Mapping[str, str]) -> tuple[str, str]:
    """9.2.4/9.2.5: files in /etc/ssl/genproxy_pvt; one file serves both when only one is named;
    the generated default pair when neither is."""
    key, cert = section.get("tlsPrivateKey", ""), section.get("tlsCertificate", "")
    if not key and not cert:
        return DEFAULT_KEY, DEFAULT_CERT
    key_path = f"{PVT_DIR}/{key or cert}"
    return key_path, f"{PVT_DIR}/{cert or key}"


def section_lines(section: Mapping[str, str]) -> list[str]:
    role = plain_token(section["tlsRole"], "server|client", "tlsRole")
    domain = plain_token(section["tlsDomain"], r"default|[0-9.]+:[0-9]+", "tlsDomain")
    method = plain_token(section["method"], r"[A-Za-z0-9.+]+", "method")
    lines = [f"[{role}:{domain}]"]
    if role == "client" and domain != TLS_DEFAULT_DOMAIN:
        # Kamailio 5.6 looks client profiles up by its own local address, not the far end's:
        # kamailio.cfg names the far end's <ip>:<port> as server_id before every TLS relay
        # (route TLS_CLIENT), and this finds the section the operator wrote for it (9.2.1).
        lines.append(f"server_id = {domain}")
    if method in _METHODS_56:
        lines.append(f"# method {method} requested: Kamailio 5.6 offers {_METHODS_56[method]}")
    lines.append(f"method = {_METHODS_56.get(method, method)}")
    key, cert = key_and_certificate(section)
    lines += [f"private_key = {ini_str(key)}", f"certificate = {ini_str(cert)}"]
    verify = (_SERVER_VERIFY[section["tlsVerify"]] if role == "server"
              else _client_verify(section["tlsVerify"]))
    lines += [f"{name} = {value}" for name, value in verify.items()]
    lines.append(f"verify_depth = {int(section['tlsVerifyDepth'])}")
    # 9.2.9: tlsCaList wins over tlsCaPath
    if section.get("tlsCaList"):
        lines.append(f"ca_list = {ini_str(section['tlsCaList'])}")
    else:
        lines.append(f"ca_path = {ini_str(section['tlsCaPath'])}")
    if section.get("tlsCrl"):
        lines.append(f"crl = {ini_str(section['tlsCrl'])}")
    if section.get("tlsCipherList"):
        lines.append(f"cipher_list = {ini_str(section['tlsCipherList'])}")
    return lines


def tls_sockets(snapshot: Snapshot) -> set[str]:
    """``ip:port`` of every socket Kamailio listens on with TLS (SIPS and HTTPS control)."""
    from .model import build

    built = build(snapshot)
    return {f"{listen.ip}:{listen.port}" for listen in (*built.listens, *built.http_sockets)
            if listen.proto == "tls"}


def default_section(snapshot: Snapshot, role: str) -> dict[str, str]:
    """A default section nobody has edited yet: the catalogue's defaults."""
    from ..catalogue import TLS_CONFIGS

    values = {key.name: key.effective(None) for key in TLS_CONFIGS.keys}
    return {**values, "tlsDomain": TLS_DEFAULT_DOMAIN, "tlsRole": role}


def tls_cfg(snapshot: Snapshot) -> str:
    sections = {(row["tlsRole"], row["tlsDomain"]): row
                for row in snapshot.rows("tlsProxyConfigs")}
    for role in ("server", "client"):
        sections.setdefault((role, TLS_DEFAULT_DOMAIN), default_section(snapshot, role))
    # defaults first, then by role and domain: stable output
    order = sorted(sections, key=lambda item: (item[1] != TLS_DEFAULT_DOMAIN, item[0], item[1]))
    text = ["# Kamailio TLS profiles (9.2), written by genweb at every commit: edits are lost.",
            "# Used by SIPS sockets (enableTLS) and tls: dispatchListenSock sockets.", ""]
    listening = tls_sockets(snapshot)
    for key in order:
        role, domain = key
        if role == "server" and domain != TLS_DEFAULT_DOMAIN and domain not in listening:
            # Kamailio refuses to start with a server profile for an address it does not listen
            # on with TLS ("No listening socket found"): keep the section, out of Kamailio's way.
            text += [f"# [server:{plain_token(domain, r'[0-9.]+:[0-9]+', 'tlsDomain')}] is not one "
                     "of this proxy's TLS sockets, so it is left out.", ""]
            continue
        text += section_lines(sections[key]) + [""]
    return "\n".join(text)
