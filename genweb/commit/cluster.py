"""Corosync and Pacemaker: corosync.conf and its authkey on every node, the CIB as a crm script.

The cluster runs the manual's Figure 4:

- ``ip_group``: the floating IPs (IPaddr2): ``failover_ip1`` = privateIP, ``failover_ip2`` = the
  second address that must follow the service (publicIP when the nodes sit directly on the
  public network, mappedIP when a router forwards to it);
- ``kam_heartbeats``: Kamailio (the stock agent behind ``ocf:amtelco:kamailio``), only where
  the IPs are, started as soon as they are;
- ``redis_clone`` (stock ``ocf:heartbeat:redis``): a promotable clone, the primary beside the
  IPs and a replica on every other node (media.py renders its configuration);
- ``rtpeng_clone`` (``ocf:amtelco:rtpengine``, genweb/agents/ocf/rtpengine): promotable, the
  daemon runs on every node holding the active node's calls, promoted (taking them over) after
  the IPs and the redis primary (media.py's model, docs/media.md);
- ``ping_private_clone`` / ``ping_public_clone``: network checks that steer the IPs away from a
  node that lost a network;
- one stonith resource per fence record, with a ``fencing_topology`` from fencePriority.

Every value reaches the crm script through ``crm_quote`` only; the fence secrets never do: they
are root-only files on the nodes that the fence agents read (``fence_secrets``).
"""

from __future__ import annotations

import base64
import binascii
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..catalogue.validators import in_subnet, is_ipv4, parse_mask
from .media import FOREIGN_SCRIPT, REDIS_CONF, REDIS_PORT, RTPENGINE_CONF
from .render import File, crm_renderer, node_renderer
from .snapshot import Snapshot
from .templating import render_template

SYSTEM = "systemConfig"

KAMAILIO_CFG = "/etc/kamailio/kamailio.cfg"  # Debian's path, where genweb/kamailio renders it
COROSYNC_CONF = "/etc/corosync/corosync.conf"
COROSYNC_AUTHKEY = "/etc/corosync/authkey"
OCF_PROVIDER_DIR = "/usr/lib/ocf/resource.d/amtelco"  # genweb/agents/ocf/* are installed here

# Corosync token (ms): see the comment rendered into corosync.conf.
TOKEN_MS = 1000
TOKEN_COEFFICIENT_MS = 650  # corosync's default, stated here only to report the effective token
# The administrator's own token (app setting CLUSTER_TOKEN_MS, docs/install.md), passed to
# render as this generated value so that render stays a function of the snapshot: the whole
# timeout whatever the number of nodes (token_coefficient 0).
TOKEN_KEY = "clusterTokenMs"
TOKEN_RANGE_MS = (200, 60000)
# Pacemaker waits dc-deadtime for peers before electing a coordinator (default 20 s); Corosync
# membership is already known when Pacemaker starts, so 2 s (the lab's value) is enough.
DC_DEADTIME = "2s"
# Two-node split: the node holding the service (priority below) fences first and wins.
PRIORITY_FENCING_DELAY = "5s"
# Kamailio's shared and private memory (MB): Debian's 64 MB shm runs out under load (sip-lab).
KAMAILIO_SHM_MB = 1024
KAMAILIO_PKG_MB = 16

IP_GROUP = "ip_group"
PRIVATE_IP = "failover_ip1"
SECOND_IP = "failover_ip2"
KAMAILIO = "kam_heartbeats"
RTPENGINE, RTPENGINE_CLONE = "rtpeng_prim", "rtpeng_clone"
# How long rtpengine's start waits for its node's redis to be in sync (the agent's redis_wait).
RTPENGINE_REDIS_WAIT_S = 60
REDIS, REDIS_CLONE = "redis_prim", "redis_clone"

# Units Debian enables at install that would start the same engines with the same files.
ENGINE_UNITS = ("kamailio.service", "rtpengine-daemon.service", "mariadb.service")

# Where each manual key lands in the cluster's configuration (page, key, place): docs/engine-map.
ENGINE_MAP: tuple[tuple[str, str, str], ...] = (
    (SYSTEM, "systemName", "corosync.conf cluster_name; CIB property cluster-name"),
    (SYSTEM, "privateIP", "failover_ip1 ip; kam_heartbeats listen_address and monitoring_ip"),
    (SYSTEM, "privateSubnet", "failover_ip1 cidr_netmask (as a prefix); failover_ip2 inside it"),
    (SYSTEM, "privatePort", "kam_heartbeats port (the agent's OPTIONS check)"),
    (SYSTEM, "privatePing", "ping_private host_list; ip_group rule on pingd_private"),
    (SYSTEM, "publicIP", "failover_ip2 ip, when an IPv4 address and no mappedIP"),
    (SYSTEM, "publicPing", "ping_public host_list; ip_group rule on pingd_public"),
    (SYSTEM, "mappedIP", "failover_ip2 ip, unless equal to privateIP"),
    (SYSTEM, "startAtBoot", "boot_commands(): systemctl enable|disable corosync pacemaker"),
    (SYSTEM, "onFailMode", "on-fail of the IPs', Kamailio's and the promoted clones' monitors"),
    (SYSTEM, "startup-fencing", "CIB property startup-fencing"),
    ("haNodes", "nodeID", "corosync.conf nodelist nodeid"),
    ("haNodes", "nodeName", "corosync.conf nodelist name; fence targets (pcmk_host_list, bans, "
     "fencing_topology)"),
    ("haNodes", "privateIP", "corosync.conf ring0_addr (knet link 0)"),
    ("haNodes", "publicIP", "corosync.conf ring1_addr (knet link 1) when every node has one"),
    ("fences", "fenceName", "stonith_<fenceName>; /etc/genproxy/fence-secrets/<fenceName>.*"),
    ("fences", "fenceNodeName", "pcmk_host_list; -inf location; fencing_topology target"),
    ("fences", "fencePriority", "fencing_topology level (blank = 1)"),
    ("fences", "fenceAgent", "stonith:<fenceAgent>"),
    ("fences", "fenceDevicePlug", "plug"),
    ("fences", "fenceDeviceIP", "ip"),
    ("fences", "fenceDeviceIPPort", "ipport"),
    ("fences", "fenceSnmpVersion", "snmp_version"),
    ("fences", "fenceSnmpUser", "community (2c) or username (3)"),
    ("fences", "fenceSnmpAuthProt", "snmp_auth_prot; snmp_sec_level"),
    ("fences", "fenceSnmpAuthPass", "<fenceName>.auth file, read through password_script"),
    ("fences", "fenceSnmpPrivProt", "snmp_priv_prot; snmp_sec_level"),
    ("fences", "fenceSnmpPrivPass", "<fenceName>.priv file, read through snmp_priv_passwd_script"),
)


# -- crm shell syntax ------------------------------------------------------------------------

# What crmsh carries unchanged: printable ASCII. It turns other characters into XML character
# references and tabs into spaces; a line break ends the statement. It also re-reads each object
# it created from its own rendering, which does not escape backslashes ('a\\' then fails to
# load), so a backslash is refused as well: free-text secrets never come here (fence_secrets).
_CRM_CARRIES = re.compile(r"[\x20-\x5b\x5d-\x7e]*")
_CRM_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


class ClusterConfigError(ValueError):
    """A value the cluster engines cannot take as it is. The message names the place, never the
    value (it may be a secret)."""


def crm_quote(value: str | int, where: str = "value") -> str:
    """One value as a crm shell word.

    crmsh splits each line with POSIX shlex: inside double quotes only ``\\`` and ``"`` are
    special, and backslashes are refused, so escaping ``"`` confines any other printable text
    (``'``, ``;``, ``#``, ``$(…)``, ``=``, spaces) to its own value.
    """
    text = str(value)
    if not _CRM_CARRIES.fullmatch(text):
        raise ClusterConfigError(f"{where}: only printable ASCII characters other than '\\' (no "
                                 "tabs, line breaks or accented letters) can go into the cluster "
                                 "configuration")
    return '"' + text.replace('"', '\\"') + '"'


def crm_id(text: str) -> str:
    if not _CRM_ID.fullmatch(text):
        raise ClusterConfigError(f"'{text}' is not a valid cluster object id")
    return text


def nvpairs(where: str, pairs: Mapping[str, str | int]) -> str:
    return " ".join(f"{name}={crm_quote(value, f'{where} {name}')}" for name, value in pairs.items())


@dataclass(frozen=True)
class Op:
    action: str
    attrs: Mapping[str, str]


def op(action: str, **attrs: str) -> Op:
    """An operation; keyword ``on_fail`` stands for the ``on-fail`` attribute."""
    return Op(action, {name.replace("_", "-"): value for name, value in attrs.items()})


@dataclass(frozen=True)
class CrmObject:
    id: str  # the CIB id it defines ("" for property and defaults sets)
    text: str  # one crm shell statement, continued over lines with " \"


def statement(first: str, *rest: str) -> str:
    return " \\\n\t".join((first, *(part for part in rest if part)))


def primitive(rid: str, agent: str, params: Mapping[str, str | int],
              ops: Sequence[Op] = (), meta: Mapping[str, str] | None = None) -> CrmObject:
    parts = [f"params {nvpairs(rid, params)}"] if params else []
    parts += [f"op {o.action} {nvpairs(rid, o.attrs)}" for o in ops]
    if meta:
        parts.append(f"meta {nvpairs(rid, meta)}")
    return CrmObject(rid, statement(f"primitive {crm_id(rid)} {agent}", *parts))


def clone(cid: str, child: str, meta: Mapping[str, str]) -> CrmObject:
    return CrmObject(cid, statement(f"clone {crm_id(cid)} {child}", f"meta {nvpairs(cid, meta)}"))


def group(gid: str, members: Sequence[str]) -> CrmObject:
    return CrmObject(gid, f"group {crm_id(gid)} {' '.join(members)}")


def colocation(cid: str, dependent: str, anchor: str) -> CrmObject:
    """``dependent`` runs only where ``anchor`` runs (``rsc:Role`` narrows to a role)."""
    return CrmObject(cid, f"colocation {crm_id(cid)} inf: {dependent} {anchor}")


def order(oid: str, kind: str, first: str, then: str) -> CrmObject:
    return CrmObject(oid, f"order {crm_id(oid)} {kind}: {first} {then}")


def location(lid: str, rsc: str, rule: str) -> CrmObject:
    return CrmObject(lid, f"location {crm_id(lid)} {rsc} {rule}")


def node_word(name: str) -> str:
    """A node name as a bare word: nodeName's grammar (letters, digits, . _ -) needs no quotes."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ClusterConfigError(f"node name '{name}' cannot be used in the cluster configuration")
    return name


# -- what the configuration means for the cluster --------------------------------------------


def fencing_enabled(snapshot: Snapshot) -> bool:
    """stonith-enabled: true exactly when fences are configured (6.0)."""
    return bool(snapshot.rows("fences"))


def on_fail(snapshot: Snapshot) -> str:
    """onFailMode (3.16): 'Fence' fences on a failed check; otherwise the node goes standby.

    'Fence' needs fencing ("only applicable if fencing is enabled"): without it Pacemaker
    reports on-fail=fence as a configuration error. Start and stop keep Pacemaker's defaults: a
    start failure moves the resource (a bad configuration must not fence node after node), a
    stop failure fences when fencing is enabled, the manual's "Standby will only fence if a
    failed resource cannot be stopped gracefully".
    """
    if snapshot.value(SYSTEM, "onFailMode") == "Fence" and fencing_enabled(snapshot):
        return "fence"
    return "standby"


def second_floating_ip(snapshot: Snapshot) -> str:
    """The address that floats beside privateIP, or "".

    With mappedIP (3.12) the router forwards the public traffic to mappedIP, so mappedIP must
    follow the service and publicIP (the router's address, or a host name) is never on a node.
    Without it the nodes sit on the public network (3.7) and publicIP itself floats.
    """
    mapped = snapshot.value(SYSTEM, "mappedIP")
    public = snapshot.value(SYSTEM, "publicIP")
    second = mapped or (public if is_ipv4(public) else "")
    return "" if second == snapshot.value(SYSTEM, "privateIP") else second


def floating_ips(snapshot: Snapshot) -> list[tuple[str, dict[str, str]]]:
    """(resource id, IPaddr2 params) for each floating address.

    privateSubnet gives privateIP's prefix. The second address has no subnet key: it takes the
    private prefix when it lies in the private subnet, else IPaddr2 reads the prefix and the
    interface from the node's routing table.
    """
    private_ip = snapshot.value(SYSTEM, "privateIP")
    subnet = snapshot.value(SYSTEM, "privateSubnet")
    prefix = str(parse_mask(subnet))
    ips = [(PRIVATE_IP, {"ip": private_ip, "cidr_netmask": prefix})]
    second = second_floating_ip(snapshot)
    if second:
        params = {"ip": second}
        if in_subnet(second, private_ip, subnet):
            params["cidr_netmask"] = prefix
        ips.append((SECOND_IP, params))
    return ips


def pings(snapshot: Snapshot) -> list[tuple[str, str]]:
    """(network, host) for privatePing (3.6) and publicPing (3.10) when set."""
    return [(network, host) for network, host in (
        ("private", snapshot.value(SYSTEM, "privatePing")),
        ("public", snapshot.value(SYSTEM, "publicPing")),
    ) if host]


def sorted_fences(snapshot: Snapshot) -> list[dict[str, str]]:
    """Fences in a stable order (node by nodeID, priority, name), whatever the input order."""
    node_rank = {node["nodeName"]: int(node["nodeID"]) for node in snapshot.nodes}
    return sorted(snapshot.rows("fences"), key=lambda fence: (
        node_rank.get(fence["fenceNodeName"], 99), fence["fenceNodeName"],
        int(fence["fencePriority"] or 1), fence["fenceName"]))


def fence_name(name: str) -> str:
    """fenceName's grammar (6.2.1), checked again: it becomes an id, a file name and a word of a
    shell command."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
        raise ClusterConfigError(f"fence name '{name}' cannot be used in the cluster configuration")
    return name


def stonith_id(name: str) -> str:
    """The stonith resource of a fence record (fenceName may start with a digit; ids may not)."""
    return crm_id(f"stonith_{fence_name(name)}")


def boot_commands(snapshot: Snapshot) -> tuple[tuple[str, ...], ...]:
    """startAtBoot (3.15) is not in the CIB: the commit runs these on every node (Figure 26,
    "Configuring High Availability System startup mode"). The engines themselves never start
    at boot: only Pacemaker starts them, where the cluster says."""
    action = "enable" if snapshot.flag(SYSTEM, "startAtBoot") else "disable"
    return (("systemctl", action, "corosync.service", "pacemaker.service"),
            ("systemctl", "disable", *ENGINE_UNITS))


# -- corosync --------------------------------------------------------------------------------


def _corosync_word(text: str, what: str) -> str:
    # corosync.conf has no quoting: a value is everything to the end of the line.
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]*", text):
        raise ClusterConfigError(f"{what} '{text}' cannot be written to corosync.conf")
    return text


def cluster_token(snapshot: Snapshot) -> int | None:
    """The administrator's token (ms), or None for genweb's default."""
    text = snapshot.generated.get(TOKEN_KEY, "").strip()
    if not text:
        return None
    low, high = TOKEN_RANGE_MS
    if not text.isdigit() or not low <= int(text) <= high:
        raise ClusterConfigError(f"CLUSTER_TOKEN_MS '{text}' is not a number of milliseconds "
                                 f"from {low} to {high}")
    return int(text)


def corosync_conf(snapshot: Snapshot) -> str:
    nodes = snapshot.nodes
    two_links = bool(nodes) and all(node["publicIP"] for node in nodes)
    extra_nodes = max(len(nodes) - 2, 0)
    chosen = cluster_token(snapshot)
    return render_template(
        "genweb.commit", "corosync.conf.j2",
        cluster_name=_corosync_word(snapshot.value(SYSTEM, "systemName"), "systemName"),
        token=chosen or TOKEN_MS,
        chosen_token=chosen is not None,
        effective_token=chosen or TOKEN_MS + extra_nodes * TOKEN_COEFFICIENT_MS,
        two_links=two_links,
        two_node=len(nodes) == 2,
        nodes=[{
            "name": _corosync_word(node["nodeName"], "nodeName"),
            "nodeid": int(node["nodeID"]),
            "ring0_addr": _corosync_word(node["privateIP"], "privateIP"),
            "ring1_addr": _corosync_word(node["publicIP"], "publicIP") if two_links else "",
        } for node in nodes],
    )


def corosync_authkey(snapshot: Snapshot) -> str | None:
    """The authkey file's text, or None while the commit has not generated the key yet.

    The file holds the stored base64 text itself: corosync uses the file's bytes (128 to 512 of
    them) as the key, so ASCII loses no entropy and keeps File text-only.
    """
    key = snapshot.generated.get("corosyncAuthkey", "")
    if not key:
        return None
    try:
        base64.b64decode(key, validate=True)
    except binascii.Error as exc:
        raise ClusterConfigError("the generated corosyncAuthkey is not base64") from exc
    if len(key) < 128:
        raise ClusterConfigError("the generated corosyncAuthkey is too short: corosync needs 1024 bits")
    return key


@node_renderer
def cluster_files(snapshot: Snapshot, node: Mapping[str, str]) -> Iterable[File]:
    yield File(COROSYNC_CONF, corosync_conf(snapshot))
    key = corosync_authkey(snapshot)
    if key is not None:
        yield File(COROSYNC_AUTHKEY, key, mode=0o400)
    # Any node may fence another one: every node holds every fence's pass phrases.
    for fence in sorted_fences(snapshot):
        for path, phrase in fence_secrets(fence).values():
            yield File(path, phrase, mode=0o600)


# -- the CIB ---------------------------------------------------------------------------------


def cluster_properties(snapshot: Snapshot) -> list[CrmObject]:
    fencing = fencing_enabled(snapshot)
    properties = {
        "cluster-name": snapshot.value(SYSTEM, "systemName"),
        "stonith-enabled": "true" if fencing else "false",
        "startup-fencing": "true" if snapshot.flag(SYSTEM, "startup-fencing") else "false",
        # A partition without quorum stops its resources: the majority fences and takes over.
        "no-quorum-policy": "stop",
        "dc-deadtime": DC_DEADTIME,
        "priority-fencing-delay": PRIORITY_FENCING_DELAY,
    }
    return [
        CrmObject("", statement("property cib-bootstrap-options:", *(
            nvpairs("property", {name: value}) for name, value in properties.items()))),
        # Once failed over, the service stays: moving back would interrupt calls again.
        CrmObject("", f"rsc_defaults rsc-options: {nvpairs('rsc_defaults', {'resource-stickiness': '100'})}"),
    ]


def ip_resources(snapshot: Snapshot, fail: str) -> list[CrmObject]:
    ips = floating_ips(snapshot)
    objects = [primitive(rid, "ocf:heartbeat:IPaddr2", params,
                         [op("monitor", interval="10s", timeout="20s", on_fail=fail)])
               for rid, params in ips]
    objects.append(group(IP_GROUP, [rid for rid, _ in ips]))
    return objects


def kamailio_resource(snapshot: Snapshot, fail: str) -> CrmObject:
    """Kamailio with the stock agent's parameters, through genweb/agents/ocf/kamailio (which
    waits for the node's own MariaDB before the stock start); its listen sockets come from
    kamailio.cfg (proto conf_udp).

    The agent's monitor sends OPTIONS sip:monitor@privateIP:privatePort with sipsak (a node
    package): kamailio.cfg must answer it. kamctlrc "" turns off the agent's `kamctl monitor`
    check, which needs a FIFO kamailio.cfg does not open. The PID file and the control socket
    live in Debian's runtime directory, /run/kamailio.

    No kamuser: the agent then starts Kamailio as root, and Kamailio itself drops to
    kamailio:kamailio (``-u``/``-g``) once its PID file and sockets are made. With kamuser the
    agent starts it through ``su kamailio``, and that Kamailio cannot write into a
    /run/kamailio that root created first: the commit's own ``kamailio -c`` (verify.py, run as
    root) leaves it root:root 0700, and the start exits 255 at once on that node.
    """
    private_ip = snapshot.value(SYSTEM, "privateIP")
    return primitive(KAMAILIO, "ocf:amtelco:kamailio", {
        "conffile": KAMAILIO_CFG,
        "pidfile": "/run/kamailio/kamailio.pid",
        "listen_address": private_ip,
        "monitoring_ip": private_ip,
        "port": snapshot.value(SYSTEM, "privatePort"),
        "proto": "conf_udp",
        "kamctlrc": "",
        "kamgroup": "kamailio",
        "extra_options": f"-u kamailio -m {KAMAILIO_SHM_MB} -M {KAMAILIO_PKG_MB}",
    }, [
        op("start", timeout="60s", interval="0s"),
        op("stop", timeout="30s", interval="0s"),
        op("monitor", interval="10s", timeout="30s", on_fail=fail),
    ], meta={"priority": "10"})


def promotable(prim: CrmObject, clone_id: str, *, notify: bool = False) -> CrmObject:
    meta = {"promotable": "true", "promoted-max": "1", "promoted-node-max": "1",
            "clone-node-max": "1", "interleave": "true"}
    if notify:
        meta["notify"] = "true"
    return clone(clone_id, prim.id, meta)


def media_resources(fail: str) -> list[CrmObject]:
    """redis and rtpengine as promotable clones (Figure 4).

    Only the promoted role gets onFailMode: a standby's redis replica that restarts does not
    touch the service, and a replication hiccup must not fence or evict a standby node.
    """
    # The stock redis agent replicates from the promoted node by nodeName (/etc/hosts) and reads
    # requirepass from the configuration file.
    redis = primitive(REDIS, "ocf:heartbeat:redis", {"config": REDIS_CONF, "port": REDIS_PORT}, [
        op("start", timeout="120s", interval="0s"),
        op("stop", timeout="120s", interval="0s"),
        op("promote", timeout="120s", interval="0s"),
        op("demote", timeout="120s", interval="0s"),
        op("monitor", interval="10s", timeout="60s", role="Promoted", on_fail=fail),
        op("monitor", interval="30s", timeout="60s", role="Unpromoted"),
    ])
    # The daemon runs on every node, a standby holding the active node's calls as foreign ones
    # (media.py); start waits up to redis_wait for the node's redis, so that it restores them.
    rtpengine = primitive(RTPENGINE, "ocf:amtelco:rtpengine", {
        "config": RTPENGINE_CONF, "foreign_script": FOREIGN_SCRIPT,
        "redis_wait": RTPENGINE_REDIS_WAIT_S,
    }, [
        op("start", timeout=f"{RTPENGINE_REDIS_WAIT_S + 30}s", interval="0s"),
        op("stop", timeout="30s", interval="0s"),
        op("promote", timeout="30s", interval="0s"),
        op("demote", timeout="30s", interval="0s"),
        op("monitor", interval="10s", timeout="20s", role="Promoted", on_fail=fail),
        op("monitor", interval="30s", timeout="20s", role="Unpromoted"),
    ])
    return [redis, promotable(redis, REDIS_CLONE, notify=True),
            rtpengine, promotable(rtpengine, RTPENGINE_CLONE)]


def service_constraints() -> list[CrmObject]:
    """Everything follows the IPs. On a failover: the IPs, then Kamailio at once (not after the
    database's promotion: database.py) beside the media chain redis primary -> rtpengine
    promotion."""
    return [
        colocation("col_kam_with_ip", KAMAILIO, IP_GROUP),
        order("ord_ip_before_kam", "Mandatory", IP_GROUP, KAMAILIO),
        colocation("col_rtpeng_with_ip", f"{RTPENGINE_CLONE}:Promoted", IP_GROUP),
        colocation("col_redis_with_rtpeng", f"{REDIS_CLONE}:Promoted", f"{RTPENGINE_CLONE}:Promoted"),
        # A standby's sockets on the floating addresses exist already (ip_nonlocal_bind);
        # promotion takes the calls over once the IPs are here ...
        order("ord_ip_before_rtpeng", "Mandatory", IP_GROUP, f"{RTPENGINE_CLONE}:promote"),
        # ... and from then on writes them to its node's redis: the primary by then.
        order("ord_redis_before_rtpeng", "Mandatory", f"{REDIS_CLONE}:promote",
              f"{RTPENGINE_CLONE}:promote"),
        # rtpengine's start waits (up to its redis_wait) for its node's redis: start that first
        # when both start together, so a cluster start is not held up a minute. Optional: a
        # redis restart alone never restarts rtpengine.
        order("ord_redis_start_before_rtpeng", "Optional", REDIS_CLONE, RTPENGINE_CLONE),
        # No order between rtpengine's promotion and Kamailio's start: the standby rtpengine
        # already holds every call, so on a failover Kamailio starts with
        # the IPs instead of after the redis -> rtpengine promotion chain (8 s instead of 16 s
        # in the lab: docs/benchmarks.md).
    ]


def ping_resources(snapshot: Snapshot) -> list[CrmObject]:
    """A ping clone per network and a rule that adds its score to the nodes that reach it.

    Each reachable network is worth 1000 against a stickiness of 100, so a node that loses a
    network hands the IPs (and with them the service) to a node that still has it. It is a
    preference, not a ban: if the gateway itself dies every node scores the same and the
    service stays up for the network that still works.
    """
    objects: list[CrmObject] = []
    for network, host in pings(snapshot):
        rid, attribute = f"ping_{network}", f"pingd_{network}"
        objects += [
            primitive(rid, "ocf:pacemaker:ping", {
                "host_list": host, "name": attribute, "multiplier": "1000",
                "attempts": "3", "timeout": "2", "dampen": "5s",
            }, [op("monitor", interval="10s", timeout="60s")]),
            clone(f"{rid}_clone", rid, {"interleave": "true"}),
            location(f"loc_ip_{network}_network", IP_GROUP,
                     f"rule {attribute}: defined {attribute}"),
        ]
    return objects


FENCE_SECRETS_DIR = "/etc/genproxy/fence-secrets"
# net-snmp refuses SNMPv3 pass phrases shorter than this (USM key derivation).
SNMP_MIN_PASSPHRASE = 8


def secret_path(fence: Mapping[str, str], kind: str) -> str:
    """Where a fence's auth or priv pass phrase lives on every node."""
    return f"{FENCE_SECRETS_DIR}/{fence_name(fence['fenceName'])}.{kind}"


def fence_secrets(fence: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """{agent parameter: (file, pass phrase)} of an SNMPv3 fence.

    The CIB only names a command that prints the file (``password_script``,
    ``snmp_priv_passwd_script``, which every fence-agents SNMP agent runs at each action), so
    the pass phrases stay out of the CIB, crm_mon, crm_report and this script, and reach the
    agent byte for byte: no quoting layer touches them. The agent strips trailing white space
    from what the command prints, hence the check.
    """
    if fence["fenceSnmpVersion"] != "3" or fence["fenceSnmpAuthProt"] == "None":
        return {}
    secrets = {"password_script": ("auth", "fenceSnmpAuthPass")}
    if fence["fenceSnmpPrivProt"] != "None":
        secrets["snmp_priv_passwd_script"] = ("priv", "fenceSnmpPrivPass")
    found = {}
    for parameter, (kind, key) in secrets.items():
        phrase = fence[key]
        where = f"fence {fence['fenceName']}: {key}"
        if len(phrase) < SNMP_MIN_PASSPHRASE:
            raise ClusterConfigError(f"{where} needs at least {SNMP_MIN_PASSPHRASE} characters "
                                     "(SNMPv3 refuses shorter pass phrases)")
        if phrase != phrase.rstrip() or "\n" in phrase or "\r" in phrase:
            raise ClusterConfigError(f"{where} must not end with a space or hold a line break")
        found[parameter] = (secret_path(fence, kind), phrase)
    return found


def snmp_params(fence: Mapping[str, str]) -> dict[str, str]:
    """The SNMP options shared by the fence-agents SNMP family (fencing_snmp.py).

    fenceSnmpUser is the community for 2c and the user name for 3 (6.2.9); the security level
    follows from the protocols chosen (6.2.10-6.2.13).
    """
    params = {"snmp_version": fence["fenceSnmpVersion"]}
    if fence["fenceSnmpVersion"] != "3":
        params["community"] = fence["fenceSnmpUser"]
        return params
    params["username"] = fence["fenceSnmpUser"]
    auth, priv = fence["fenceSnmpAuthProt"], fence["fenceSnmpPrivProt"]
    if auth == "None":
        params["snmp_sec_level"] = "noAuthNoPriv"
        return params
    params["snmp_sec_level"] = "authNoPriv" if priv == "None" else "authPriv"
    params["snmp_auth_prot"] = auth
    if priv != "None":
        params["snmp_priv_prot"] = priv
    for parameter, (path, _) in fence_secrets(fence).items():
        params[parameter] = f"/bin/cat {shlex.quote(path)}"  # the agent runs it with /bin/sh
    return params


def stonith_resource(fence: Mapping[str, str]) -> list[CrmObject]:
    """One fence record: its agent, device, plug and SNMP access, never run on its own victim.

    The 'reboot' Pacemaker asks for becomes 'off': the node stays cut off until an operator
    uses UnFence (6.1.4), as the manual's procedure expects.
    """
    rid = stonith_id(fence["fenceName"])
    victim = node_word(fence["fenceNodeName"])
    params = {
        "ip": fence["fenceDeviceIP"],
        "ipport": fence["fenceDeviceIPPort"],
        "plug": fence["fenceDevicePlug"],
        **snmp_params(fence),
        "pcmk_host_list": victim,
        "pcmk_reboot_action": "off",
    }
    return [
        primitive(rid, f"stonith:{fence['fenceAgent']}", params,
                  [op("monitor", interval="60s", timeout="20s")]),
        location(f"loc_{rid}", rid, f"-inf: {victim}"),
    ]


def fencing_topology(fences: Sequence[Mapping[str, str]]) -> CrmObject | None:
    """fencePriority (6.2.3) as levels: every device of a level must succeed, else the next one.

    crmsh numbers the levels 1, 2, ... in the order given, so priorities 1, 3, 7 become levels
    1, 2, 3: the same order, which is all fencing uses.
    """
    levels: dict[str, dict[int, list[str]]] = {}
    for fence in fences:
        node_levels = levels.setdefault(node_word(fence["fenceNodeName"]), {})
        node_levels.setdefault(int(fence["fencePriority"] or 1), []).append(
            stonith_id(fence["fenceName"]))
    if not levels:
        return None
    targets = [f"{node}: " + " ".join(",".join(devices) for _, devices in sorted(by_level.items()))
               for node, by_level in levels.items()]
    return CrmObject("", statement("fencing_topology", *targets))


def fencing(snapshot: Snapshot) -> list[CrmObject]:
    fences = sorted_fences(snapshot)
    objects = [obj for fence in fences for obj in stonith_resource(fence)]
    topology = fencing_topology(fences)
    return objects + [topology] if topology else objects


def cluster_objects(snapshot: Snapshot) -> list[CrmObject]:
    fail = on_fail(snapshot)
    return [
        *cluster_properties(snapshot),
        *ip_resources(snapshot, fail),
        kamailio_resource(snapshot, fail),
        *media_resources(fail),
        *service_constraints(),
        *ping_resources(snapshot),
        *fencing(snapshot),
    ]


def cluster_object_ids(snapshot: Snapshot) -> tuple[str, ...]:
    """The CIB ids the script defines: `load update` never deletes, so the commit removes the
    ids of the previous commit that are no longer here (a deleted fence, a dropped ping)."""
    return tuple(obj.id for obj in cluster_objects(snapshot) if obj.id)


@crm_renderer
def cluster_crm(snapshot: Snapshot) -> str:
    return "\n".join(obj.text for obj in cluster_objects(snapshot)) + "\n"
