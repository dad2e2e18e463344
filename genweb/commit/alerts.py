"""Cluster-event notifications (10.0): the Pacemaker alert and its destinations file.

Kamailio posts the dispatcher events (genweb/kamailio, http_client.cfg); node and fence events
come from Pacemaker, which runs the alert agent genweb/agents/alert/genproxy_alert on every node
for each event it selects. The agent posts the same JSON document to the same destinations with
the same options, read from the file rendered here (docs/notifications.md, "Node and fence
events").

The destinations file holds the notification passwords: root writes it, group haclient reads
it, because Pacemaker runs alert agents as hacluster (primary group haclient) and drops every
other group. Nothing secret reaches the CIB: the crm part names only the agent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..kamailio.httpclient import connection_url
from ..kamailio.model import PVT_DIR, notify_names
from .cluster import crm_id, crm_quote
from .render import File, crm_renderer, node_renderer
from .snapshot import Snapshot

PROXY = "proxyConfig"
ALERT_ID = "genproxy_alert"
# Where commit, Rebuild Nodes (steps.agent_files) and install.sh put genweb/agents/alert/*:
# Pacemaker's own folder for alert agents.
ALERT_AGENT = "/usr/share/pacemaker/alerts/genproxy_alert"
DESTINATIONS_FILE = "/etc/genproxy/alert-destinations.json"
DESTINATIONS_MODE, DESTINATIONS_GROUP = 0o640, "haclient"
# Pacemaker kills an alert agent after this; the agent gives up on its destinations at 15 s.
ALERT_TIMEOUT = "20s"


def destination(name: str, row: Mapping[str, str]) -> dict[str, Any]:
    """One notification record (10.2) as the agent reads it: the effective values, paths whole."""
    key, cert = row["notifyClientKey"], row["notifyClientCert"]
    return {
        "name": name,
        "url": connection_url(row["notifyURL"]),
        "redirect": row["notifyRedirect"] == "Yes",
        "user": row["notifyUser"],
        "password": row["notifyPassword"],
        "user_agent": row["notifyUserAgent"],
        "verify_peer": row["notifyVerifyPeer"] == "Yes",
        "verify_host": row["notifyVerifyHost"] == "Yes",
        "client_key": f"{PVT_DIR}/{key}" if key else "",
        "client_cert": f"{PVT_DIR}/{cert}" if cert else "",
        "ciphers": row["notifyCipherList"],
        "tls_version": row["notifyTlsVersion"],
    }


def alert_config(snapshot: Snapshot, node: Mapping[str, str]) -> dict[str, Any]:
    """What the alert agent of one node needs: who it is, and where to send."""
    rows = snapshot.rows("notifies")
    return {
        "system": snapshot.value("systemConfig", "systemName"),
        "node": node["nodeName"],
        "ca_file": snapshot.value(PROXY, "notifyCaCert"),
        # The same names (notify1, notify2 …) as Kamailio's connections, for matching logs.
        "destinations": [destination(name, row)
                         for name, row in zip(notify_names(snapshot), rows, strict=True)],
    }


@node_renderer
def alert_files(snapshot: Snapshot, node: Mapping[str, str]) -> Iterable[File]:
    # Always written, even with no destination: the alert always exists and reads it.
    text = json.dumps(alert_config(snapshot, node), indent=2, sort_keys=True) + "\n"
    yield File(DESTINATIONS_FILE, text, DESTINATIONS_MODE, "root", DESTINATIONS_GROUP)


def alert_statement() -> str:
    """The crm alert: node and fencing events only (resource events are not notified).

    It is defined at every commit whether or not destinations exist (the agent then does
    nothing), so no commit ever has to delete it.
    """
    return (f"alert {crm_id(ALERT_ID)} {crm_quote(ALERT_AGENT, 'alert path')} \\\n"
            f"\tmeta timeout={crm_quote(ALERT_TIMEOUT)} \\\n"
            "\tselect nodes fencing\n")


@crm_renderer
def alert_crm(snapshot: Snapshot) -> str:
    return alert_statement()
