"""Kamailio: kamailio.cfg, tls.cfg, http_client.cfg and the default TLS key pair on every node,
and the proxy database rows it reads (subscriber, uacreg, address).

The model (model.py) reads the snapshot; the template (templates/kamailio.cfg.j2) lays out the
feature blocks; cfgsyntax.py quotes every operator value. live.py says which changes need no
restart. docs/dispatcher-http.md and docs/notifications.md describe the two interfaces the
configuration offers to other systems.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..commit.render import File, node_renderer, rows_renderer
from ..commit.snapshot import Snapshot
from ..commit.templating import environment, render_template
from . import model
from .cfgsyntax import cfg_str
from .httpclient import http_client_cfg
from .live import LIVE_CHANGES, reload_commands
from .rows import KAMAILIO_TABLES, RUNTIME_TABLES, kamailio_rows
from .tlscfg import tls_cfg

__all__ = ["KAMAILIO_TABLES", "LIVE_CHANGES", "RUNTIME_TABLES", "kamailio_cfg", "kamailio_files",
           "kamailio_rows", "reload_commands"]

environment("genweb.kamailio").filters["q"] = cfg_str

# Kamailio reads its files as group kamailio; the private keys are the genproxy group's (9.0),
# which the kamailio user belongs to.
_CFG_MODE, _CFG_GROUP = 0o640, "kamailio"
_KEY_MODE, _KEY_GROUP = 0o640, "genproxy"


def kamailio_cfg(snapshot: Snapshot) -> str:
    built = model.build(snapshot)
    groups = {"deny": model.GRP_DENY, "allow": model.GRP_ALLOW, "proxy": model.GRP_PROXY,
              "rtp": model.GRP_RTP, "dtls": model.GRP_DTLS, "sdes": model.GRP_SDES}
    return render_template(
        "genweb.kamailio", "kamailio.cfg.j2", m=built, f=built.flags, d=built.dispatch,
        grp=groups, tls_cfg=model.TLS_CFG, http_client_cfg=model.HTTP_CLIENT_CFG,
        notify_ca=snapshot.value(model.PROXY, "notifyCaCert"),
    )


@node_renderer
def kamailio_files(snapshot: Snapshot, node: Mapping[str, str]) -> Iterable[File]:
    # The same files on every node: nothing in them depends on which node runs them.
    yield File(model.KAMAILIO_CFG, kamailio_cfg(snapshot), _CFG_MODE, "root", _CFG_GROUP)
    yield File(model.TLS_CFG, tls_cfg(snapshot), _CFG_MODE, "root", _CFG_GROUP)
    if snapshot.rows("notifies"):
        yield File(model.HTTP_CLIENT_CFG, http_client_cfg(snapshot), _CFG_MODE, "root",
                   _CFG_GROUP)
    key, cert = (snapshot.generated.get(name, "") for name in ("kamailioDefaultKey",
                                                               "kamailioDefaultCert"))
    if key and cert:
        yield File(model.DEFAULT_KEY, key, _KEY_MODE, "root", _KEY_GROUP)
        yield File(model.DEFAULT_CERT, cert, _KEY_MODE, "root", _KEY_GROUP)


@rows_renderer
def proxy_rows(snapshot: Snapshot) -> Mapping[str, Iterable[dict]]:
    return kamailio_rows(snapshot)
