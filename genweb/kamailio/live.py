"""Which committed changes Kamailio takes without a restart, and the RPC that applies each.

The commit writes the new rows (rows.py) or files first, then runs the commands with ``kamcmd``
on the active node. Anything not listed here needs Kamailio restarted (a primary switch).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..commit.snapshot import Snapshot
from .model import build


@dataclass(frozen=True)
class LiveChange:
    page: str
    keys: tuple[str, ...]  # () = any change to the page's records
    rpc: tuple[tuple[str, ...], ...]  # kamcmd commands, each as argv after "kamcmd"
    why: str


ADDRESS_RELOAD = ("permissions.addressReload",)

LIVE_CHANGES = (
    LiveChange("proxyConfig", ("denyList", "allowList", "proxyList"), (ADDRESS_RELOAD,),
               "address groups 1-3 are cached by permissions and reloaded from the table"),
    LiveChange("mediaConfig", ("rtpList", "dtlsList", "sdesList"), (ADDRESS_RELOAD,),
               "the media lists are address groups 4-6, matched with allow_address()"),
    LiveChange("subscribers", (), (),
               "auth_db and is_subscriber() read the subscriber table on every request"),
    LiveChange("outboundRegistrations", (), (("uac.reg_reload",),),
               "uac re-reads uacreg; it refuses a reload within reg_gc_interval (30 s) of the last"),
    LiveChange("tlsProxyConfigs", (), (("tls.reload",),),
               "tls re-reads tls.cfg and its key files (only when the tls module is loaded)"),
)


def reload_commands(snapshot: Snapshot,
                    changed: Iterable[tuple[str, str | None]]) -> tuple[tuple[str, ...], ...] | None:
    """The RPCs for ``changed`` ((page, key) pairs; key None for a record change), in order and
    without repeats; None when one of the changes is not live (Kamailio must restart)."""
    commands: dict[tuple[str, ...], None] = {}
    tls_loaded = build(snapshot).tls_loaded
    for page, key in changed:
        match = next((item for item in LIVE_CHANGES if item.page == page
                      and (not item.keys or key in item.keys)), None)
        if match is None:
            return None
        for command in match.rpc:
            if command == ("tls.reload",) and not tls_loaded:
                continue
            commands[command] = None
    return tuple(commands)
