"""http_client.cfg: one connection per notification destination (10.2), named notify1, notify2 ...
in index order, as kamailio.cfg's route NOTIFY_SEND calls them."""

from __future__ import annotations

from collections.abc import Mapping

from ..commit.snapshot import Snapshot
from .cfgsyntax import comment_text, ini_str
from .model import PVT_DIR, notify_names

# notifyTlsVersion is a minimum; libcurl reads these names (http_client.cfg) the same way.
# TLSv1.3+ has no name here: kamailio.cfg sets it as the module default instead.
_TLS_VERSIONS = {"TLSv1.0+": "TLSv1.0", "TLSv1.1+": "TLSv1.1", "TLSv1.2+": "TLSv1.2"}


def connection_url(url: str) -> str:
    """10.2.1: ``[http[s]://]<server>[:<port>]``; http when no scheme is given."""
    return url if "://" in url else f"http://{url}"


def connection_lines(name: str, row: Mapping[str, str]) -> list[str]:
    yes = {"Yes": "yes", "No": "no"}
    lines = [f"[{name}]", f"# notifyURL {comment_text(row['notifyURL'], 'notifyURL')}",
             f"url = {ini_str(connection_url(row['notifyURL']))}",
             f"useragent = {ini_str(row['notifyUserAgent'])}",
             # the module reads "httpredirect" (its README says http_follow_redirect)
             f"httpredirect = {yes[row['notifyRedirect']]}",
             f"verify_peer = {yes[row['notifyVerifyPeer']]}",
             f"verify_host = {yes[row['notifyVerifyHost']]}",
             "timeout = 4"]
    if row["notifyUser"]:
        # BASIC or DIGEST, whichever the server asks for (10.2.3)
        lines += [f"username = {ini_str(row['notifyUser'])}",
                  f"password = {ini_str(row['notifyPassword'], 'notifyPassword')}",
                  "authmethod = 3"]
    if row["notifyClientKey"] or row["notifyClientCert"]:
        key = row["notifyClientKey"] or row["notifyClientCert"]
        cert = row["notifyClientCert"] or row["notifyClientKey"]
        lines += [f"client_key = {ini_str(f'{PVT_DIR}/{key}')}",
                  f"client_cert = {ini_str(f'{PVT_DIR}/{cert}')}"]
    if row["notifyCipherList"]:
        lines.append(f"cipher_suites = {ini_str(row['notifyCipherList'])}")
    if row["notifyTlsVersion"] in _TLS_VERSIONS:
        lines.append(f"tlsversion = {_TLS_VERSIONS[row['notifyTlsVersion']]}")
    return lines


def http_client_cfg(snapshot: Snapshot) -> str:
    text = ["# Notification destinations (10.2), written by genweb at every commit: edits are lost.",
            ""]
    for name, row in zip(notify_names(snapshot), snapshot.rows("notifies"), strict=True):
        text += connection_lines(name, row) + [""]
    return "\n".join(text)
