"""Corosync and Pacemaker configuration (cluster.py), checked offline by the engines themselves.

Each case's crm script is loaded by crmsh into an empty CIB file that holds the case's nodes,
as a running cluster's CIB does (``CIB_file``: no daemon runs), then checked by ``crm_verify``;
crmsh checks every parameter name against the agents' metadata, so a misspelt fence option
fails here. ``crm_simulate`` then plays the cluster: where the service starts, and where it goes
when its node fails or loses a network. ``corosync -t`` parses each corosync.conf (it exits 0
only when one nodelist address is local: node1 is 127.0.0.1 in every case).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from genweb.catalogue import FENCES, PAGES
from genweb.commit import cluster
from genweb.commit.render import render
from genweb.commit.secrets import MAKERS
from genweb.commit.snapshot import Snapshot

TOOLS = ("crm", "cibadmin", "crm_verify", "crm_simulate", "crm_mon", "crm_resource", "corosync")
pytestmark = pytest.mark.skipif(not all(shutil.which(tool) for tool in TOOLS),
                                reason="needs crmsh, pacemaker and corosync (scripts/test.sh installs them)")

AGENTS = Path(__file__).resolve().parents[2] / "genweb" / "agents" / "ocf"
AUTHKEY = base64.b64encode(bytes(range(256))).decode()  # fixed: render must be deterministic
GENERATED = {"corosyncAuthkey": AUTHKEY, "rtpDbPass": "Zq3_x-9TfL0wNs7uVbYc2dEe"}
# What crmsh says offline about a configuration that is right: a CIB file never has quorum,
# and startup-fencing false (the manual's default) is "blind faith" by Pacemaker's words.
EXPECTED_NOISE = ("lack of quorum", "Blind faith: not fencing unseen nodes")
# SNMPv3 pass phrases (8+ characters) with everything a quoting layer could trip on.
HOSTILE_SECRETS = ('p"a\'ss\\;#x $(id) `id`', "\\" * 8, "abcdefg\\", '\\"' * 4, "two  spaces  in",
                   "#!/bin/sh -e", "x'; crm configure erase; '", 'end"quote"', "caf\u00e9-pa\u00df",
                   "tab\there!", "--option=1", "lrm://x-y-z")


# -- snapshots -------------------------------------------------------------------------------


def node(number: int, public: bool = False) -> dict[str, str]:
    record = {"nodeID": str(number), "nodeName": f"node{number}", "privateIP": f"127.0.0.{number}"}
    if public:
        record["publicIP"] = f"127.0.1.{number}"
    return record


def fence(name: str, victim: int, **values: str) -> dict[str, str]:
    return {"fenceName": name, "fenceNodeName": f"node{victim}", "fenceAgent": "fence_ifmib",
            "fenceDevicePlug": f"sw-n{victim}", "fenceDeviceIP": "127.0.0.250",
            "fenceSnmpUser": "private", **values}


def v3_fence(name: str, victim: int, **values: str) -> dict[str, str]:
    return fence(name, victim, **{
        "fenceAgent": "fence_tripplite_snmp", "fenceDevicePlug": str(victim),
        "fenceDeviceIP": "127.0.0.251", "fenceDeviceIPPort": "1161", "fenceSnmpVersion": "3",
        "fenceSnmpUser": "pdu-admin", "fenceSnmpAuthProt": "SHA", "fenceSnmpAuthPass": "auth-pass-1",
        "fenceSnmpPrivProt": "AES", "fenceSnmpPrivPass": "priv-pass-1", **values})


SYSTEM = {"privateIP": "127.0.0.100", "privateSubnet": "8", "privatePing": "127.0.0.1"}


def snapshot(system: Mapping[str, str] | None = None, nodes: list[dict[str, str]] | None = None,
             fences: list[dict[str, str]] | None = None) -> Snapshot:
    return Snapshot.build(settings={"systemConfig": {**SYSTEM, **(system or {})}},
                          records={"haNodes": nodes or [node(1)], "fences": fences or []},
                          generated=GENERATED)


def fifteen_fenced_nodes() -> Snapshot:
    """15 nodes, each with a network fence (2c) at priority 1 (blank = 1) and a PDU (SNMPv3
    authPriv) at 2; every third node also a second PDU (v3 authNoPriv) at 5 and a fourth
    device sharing level 1 (both must succeed)."""
    fences = []
    for number in range(1, 16):
        fences += [fence(f"net{number}", number), v3_fence(f"pdu{number}", number, fencePriority="2")]
        if number % 3 == 0:
            fences += [
                v3_fence(f"pdu{number}b", number, fencePriority="5", fenceAgent="fence_apc_snmp",
                         fenceSnmpPrivProt="None", fenceSnmpPrivPass=""),
                fence(f"net{number}b", number, fencePriority="1", fenceSnmpVersion="2c"),
            ]
    return snapshot({"onFailMode": "Fence", "startup-fencing": "Yes"},
                    [node(n) for n in range(1, 16)], fences)


CASES = {
    "minimal": snapshot(),
    "public_mapped_3": snapshot(
        {"publicIP": "127.0.2.10", "mappedIP": "127.0.0.101", "mappedPort": "5062",
         "publicPing": "127.0.0.254", "startAtBoot": "Yes"},
        [node(n, public=True) for n in (1, 2, 3)],
        [fence("f1", 1), fence("f2", 2), fence("f3", 3)]),
    "fenced_15": fifteen_fenced_nodes(),
    "two_nodes": snapshot({"publicIP": "127.0.2.10", "publicPing": "127.0.0.254"},
                          [node(1, public=True), node(2, public=True)],
                          [fence("n1_net", 1), fence("n2_net", 2)]),
}


# -- the engines, offline --------------------------------------------------------------------


# Every engine command of this module carries this in its environment, so that a daemon one of
# them left behind is recognised even while a lab elsewhere on the machine runs its own.
MARKER = f"GENWEB_CLUSTER_TEST={os.getpid()}"


def stack_daemons_started_here() -> list[int]:
    """Corosync and Pacemaker daemons whose environment holds MARKER."""
    pids = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            name = comm.read_text().strip()
            daemon = name in ("corosync", "pacemakerd") or name.startswith("pacemaker-")
            if daemon and MARKER.encode() in (comm.parent / "environ").read_bytes().split(b"\0"):
                pids.append(int(comm.parent.name))
        except OSError:
            continue
    return pids


@pytest.fixture(scope="module", autouse=True)
def no_daemon_left() -> Iterator[None]:
    yield
    assert stack_daemons_started_here() == [], "an offline check left a cluster daemon running"


@pytest.fixture(scope="module")
def crm_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """crmsh's environment: a private HOME, and a crm_resource that knows genweb's own agents.

    crmsh reads every agent's metadata through crm_resource; ours are installed on the nodes
    (ocf:amtelco), not on this machine, so a wrapper answers for them from genweb/agents.
    """
    folder = tmp_path_factory.mktemp("crm")
    wrapper = folder / "bin" / "crm_resource"
    wrapper.parent.mkdir()
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --show-metadata ] && [ "${2#ocf:amtelco:}" != "$2" ]; then\n'
        f'  exec env OCF_ROOT=/usr/lib/ocf "{AGENTS}/${{2#ocf:amtelco:}}" meta-data\n'
        "fi\n"
        f'exec {shutil.which("crm_resource")} "$@"\n')
    wrapper.chmod(0o755)
    home = folder / "home"
    home.mkdir()
    name, _, value = MARKER.partition("=")
    return {**os.environ, "PATH": f"{wrapper.parent}:{os.environ['PATH']}", "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
            name: value}


def run(command: list[str], env: Mapping[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, env=dict(env), timeout=120)
    if check:
        assert result.returncode == 0, f"{command[0]} exited {result.returncode}:\n{result.stderr}{result.stdout}"
    return result


def load(snap: Snapshot, folder: Path, env: Mapping[str, str]) -> tuple[Path, ET.Element]:
    """The crm script loaded into a fresh CIB file with the snapshot's nodes, then verified."""
    cib = folder / "cib.xml"
    cib.write_text(run(["cibadmin", "--empty"], env).stdout)
    env = {**env, "CIB_file": str(cib)}
    for record in snap.nodes:
        element = ET.Element("node", id=record["nodeID"], uname=record["nodeName"])
        run(["cibadmin", "--create", "-o", "nodes", "-X", ET.tostring(element, encoding="unicode")], env)
    script = folder / "cluster.crm"
    script.write_text(cluster.cluster_crm(snap))
    loaded = run(["crm", "-D", "plain", "configure", "load", "update", str(script)], env)
    complaints = [line for line in loaded.stderr.splitlines()
                  if line.strip() and not any(noise in line for noise in EXPECTED_NOISE)]
    assert complaints == [], "crmsh complained:\n" + "\n".join(complaints)
    # crm_verify judges the configuration against a status: give it the cluster it will run
    # in, quorate with every node online (an empty status reads as nodes never seen, which
    # startup-fencing=true rightly reports as nodes to fence).
    online = folder / "online.xml"
    run(["crm_simulate", "--xml-file", str(cib), "--quorum", "true", "--save-output", str(online),
         *(arg for record in snap.nodes for arg in ("--node-up", record["nodeName"]))], env)
    run(["crm_verify", "--xml-file", str(online), "-V"], env)
    return cib, ET.parse(cib).getroot()


def corosync_parses(snap: Snapshot, folder: Path) -> subprocess.CompletedProcess[str]:
    """corosync -t on the rendered file, its authkey and log file moved to a temporary folder."""
    files = {file.path: file for file in cluster.cluster_files(snap, snap.nodes[0])}
    key = folder / "authkey"
    key.write_text(files[cluster.COROSYNC_AUTHKEY].content)
    key.chmod(0o400)
    conf = files[cluster.COROSYNC_CONF].content.replace(
        "\tcrypto_hash: sha256\n", f"\tcrypto_hash: sha256\n\tkeyfile: {key}\n", 1).replace(
        "logfile: /var/log/corosync/corosync.log", f"logfile: {folder / 'corosync.log'}", 1)
    assert f"keyfile: {key}" in conf and str(folder / "corosync.log") in conf
    path = folder / "corosync.conf"
    path.write_text(conf)
    name, _, value = MARKER.partition("=")
    return subprocess.run(["corosync", "-t", "-c", str(path)], capture_output=True, text=True,
                          timeout=30, env={**os.environ, name: value})


# -- reading the CIB -------------------------------------------------------------------------


def attributes(element: ET.Element, kind: str) -> dict[str, str]:
    found = element.find(kind)
    return {} if found is None else {pair.get("name"): pair.get("value") for pair in found.iter("nvpair")}


def primitives(cib: ET.Element) -> dict[str, ET.Element]:
    return {element.get("id"): element for element in cib.iter("primitive")}


def agent(element: ET.Element) -> str:
    provider = f"{element.get('provider')}:" if element.get("provider") else ""
    return f"{element.get('class')}:{provider}{element.get('type')}"


def properties(cib: ET.Element) -> dict[str, str]:
    return {pair.get("name"): pair.get("value")
            for pair in cib.find("configuration/crm_config").iter("nvpair")}


def topology(cib: ET.Element) -> dict[str, list[list[str]]]:
    levels: dict[str, list[tuple[int, list[str]]]] = {}
    for level in cib.iter("fencing-level"):
        levels.setdefault(level.get("target"), []).append(
            (int(level.get("index")), level.get("devices").split(",")))
    return {target: [devices for _, devices in sorted(found)] for target, found in levels.items()}


def expected_topology(snap: Snapshot) -> dict[str, list[list[str]]]:
    by_node: dict[str, dict[int, list[str]]] = {}
    for record in snap.rows("fences"):
        by_node.setdefault(record["fenceNodeName"], {}).setdefault(
            int(record["fencePriority"]), []).append(f"stonith_{record['fenceName']}")
    return {target: [sorted(devices) for _, devices in sorted(levels.items())]
            for target, levels in by_node.items()}


def monitor_on_fail(element: ET.Element, role: str | None = None) -> str | None:
    for operation in element.iter("op"):
        if operation.get("name") == "monitor" and operation.get("role") == role:
            return operation.get("on-fail")
    raise AssertionError(f"{element.get('id')} has no {role or ''} monitor")


# -- the matrix ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_the_cib_loads_verifies_and_holds_the_service(case: str, tmp_path: Path, crm_env) -> None:
    snap = CASES[case]
    _, cib = load(snap, tmp_path, crm_env)
    found = primitives(cib)
    fenced = bool(snap.rows("fences"))

    assert agent(found["failover_ip1"]) == "ocf:heartbeat:IPaddr2"
    assert attributes(found["failover_ip1"], "instance_attributes") == {
        "ip": "127.0.0.100", "cidr_netmask": "8"}
    assert agent(found["kam_heartbeats"]) == "ocf:amtelco:kamailio"
    kamailio = attributes(found["kam_heartbeats"], "instance_attributes")
    assert kamailio["listen_address"] == kamailio["monitoring_ip"] == "127.0.0.100"
    assert kamailio["proto"] == "conf_udp" and kamailio["kamctlrc"] == ""
    assert agent(found["rtpeng_prim"]) == "ocf:amtelco:rtpengine"
    assert agent(found["redis_prim"]) == "ocf:heartbeat:redis"

    groups = {group.get("id"): [p.get("id") for p in group.iter("primitive")] for group in cib.iter("group")}
    assert groups["ip_group"][0] == "failover_ip1"
    clones = {clone.get("id"): attributes(clone, "meta_attributes") for clone in cib.iter("clone")}
    for promotable in ("rtpeng_clone", "redis_clone"):
        assert clones[promotable]["promotable"] == "true"
        assert clones[promotable]["promoted-max"] == "1"
    assert clones["redis_clone"]["notify"] == "true"
    assert "ping_private_clone" in clones
    colocations = {c.get("id"): (c.get("rsc"), c.get("rsc-role"), c.get("with-rsc"), c.get("with-rsc-role"))
                   for c in cib.iter("rsc_colocation")}
    assert colocations == {
        "col_kam_with_ip": ("kam_heartbeats", None, "ip_group", None),
        "col_rtpeng_with_ip": ("rtpeng_clone", "Promoted", "ip_group", None),
        "col_redis_with_rtpeng": ("redis_clone", "Promoted", "rtpeng_clone", "Promoted"),
    }
    orders = {o.get("id"): (o.get("first"), o.get("first-action"), o.get("then"), o.get("then-action"))
              for o in cib.iter("rsc_order")}
    assert orders["ord_ip_before_kam"] == ("ip_group", None, "kam_heartbeats", None)
    assert orders["ord_redis_before_rtpeng"] == ("redis_clone", "promote", "rtpeng_clone", "promote")

    props = properties(cib)
    assert props["stonith-enabled"] == ("true" if fenced else "false")
    assert props["startup-fencing"] == ("true" if snap.flag("systemConfig", "startup-fencing") else "false")
    assert props["no-quorum-policy"] == "stop"
    assert props["dc-deadtime"] == "2s"
    assert props["cluster-name"] == "genproxysa"

    on_fail = "fence" if snap.value("systemConfig", "onFailMode") == "Fence" and fenced else "standby"
    assert monitor_on_fail(found["failover_ip1"]) == on_fail
    assert monitor_on_fail(found["kam_heartbeats"]) == on_fail
    assert monitor_on_fail(found["rtpeng_prim"], "Promoted") == on_fail
    assert monitor_on_fail(found["redis_prim"], "Unpromoted") is None  # a standby only restarts

    stonith = {rid: element for rid, element in found.items() if element.get("class") == "stonith"}
    assert sorted(stonith) == sorted(f"stonith_{r['fenceName']}" for r in snap.rows("fences"))
    bans = {(loc.get("rsc"), loc.get("node")) for loc in cib.iter("rsc_location")
            if loc.get("score") == "-INFINITY"}
    for record in snap.rows("fences"):
        rid = f"stonith_{record['fenceName']}"
        params = attributes(stonith[rid], "instance_attributes")
        assert params["pcmk_host_list"] == record["fenceNodeName"]
        assert params["plug"] == record["fenceDevicePlug"]
        assert (rid, record["fenceNodeName"]) in bans  # never runs on the node it fences
    assert topology(cib) == expected_topology(snap)


def test_fifteen_nodes_fence_at_every_priority_with_snmp_v3(tmp_path: Path, crm_env) -> None:
    snap = CASES["fenced_15"]
    _, cib = load(snap, tmp_path, crm_env)
    levels = topology(cib)
    assert levels["node3"] == [["stonith_net3", "stonith_net3b"], ["stonith_pdu3"], ["stonith_pdu3b"]]
    assert levels["node4"] == [["stonith_net4"], ["stonith_pdu4"]]
    found = primitives(cib)
    assert attributes(found["stonith_pdu4"], "instance_attributes") == {
        "ip": "127.0.0.251", "ipport": "1161", "plug": "4", "snmp_version": "3",
        "username": "pdu-admin", "snmp_sec_level": "authPriv", "snmp_auth_prot": "SHA",
        "snmp_priv_prot": "AES",
        "password_script": "/bin/cat /etc/genproxy/fence-secrets/pdu4.auth",
        "snmp_priv_passwd_script": "/bin/cat /etc/genproxy/fence-secrets/pdu4.priv",
        "pcmk_host_list": "node4", "pcmk_reboot_action": "off"}
    no_priv = attributes(found["stonith_pdu3b"], "instance_attributes")
    assert no_priv["snmp_sec_level"] == "authNoPriv"
    assert "snmp_priv_passwd_script" not in no_priv and "snmp_priv_prot" not in no_priv
    files = {file.path: file.content for file in cluster.cluster_files(snap, node(7))}
    assert files["/etc/genproxy/fence-secrets/pdu3.auth"] == "auth-pass-1"
    assert files["/etc/genproxy/fence-secrets/pdu3.priv"] == "priv-pass-1"
    assert "/etc/genproxy/fence-secrets/pdu3b.priv" not in files
    assert attributes(found["stonith_net4"], "instance_attributes")["community"] == "private"
    assert agent(found["stonith_pdu3b"]) == "stonith:fence_apc_snmp"


@pytest.mark.parametrize("case", CASES)
def test_corosync_accepts_its_configuration(case: str, tmp_path: Path) -> None:
    result = corosync_parses(CASES[case], tmp_path)
    assert result.returncode == 0, result.stderr


def test_corosync_nodelist_links_and_quorum() -> None:
    conf = cluster.corosync_conf(CASES["public_mapped_3"])
    assert "cluster_name: genproxysa" in conf
    assert "\t\tname: node2\n\t\tnodeid: 2\n\t\tring0_addr: 127.0.0.2\n\t\tring1_addr: 127.0.1.2\n" in conf
    assert "token: 1000" in conf and "effective token here 1650 ms for 3 node(s)" in conf
    assert "two_node" not in conf
    two = cluster.corosync_conf(CASES["two_nodes"])
    assert "\ttwo_node: 1\n" in two
    # one node without a publicIP: a single link for all, as knet needs the same links everywhere
    mixed = cluster.corosync_conf(snapshot(nodes=[node(1, public=True), node(2), node(3, public=True)]))
    assert "ring1_addr" not in mixed and "link_mode" not in mixed


def with_token(snap: Snapshot, token: str) -> Snapshot:
    return dataclasses.replace(snap, generated={**snap.generated, cluster.TOKEN_KEY: token})


def test_an_administrators_token_is_the_whole_timeout(tmp_path: Path) -> None:
    """CLUSTER_TOKEN_MS (docs/install.md): that token for any number of nodes, and Corosync
    takes it (corosync -t); out of range, the commit stops before anything is written."""
    snap = with_token(CASES["public_mapped_3"], "400")
    conf = cluster.corosync_conf(snap)
    assert "\ttoken: 400\n\ttoken_coefficient: 0\n" in conf and "token: 1000" not in conf
    assert corosync_parses(snap, tmp_path).returncode == 0
    assert "\ttoken_coefficient:" not in cluster.corosync_conf(CASES["public_mapped_3"])
    for wrong in ("150", "60001", "4OO", "-400"):
        with pytest.raises(cluster.ClusterConfigError, match="CLUSTER_TOKEN_MS"):
            cluster.corosync_conf(with_token(CASES["public_mapped_3"], wrong))


def test_authkey_is_the_generated_key_readable_by_root_only() -> None:
    files = {file.path: file for file in cluster.cluster_files(CASES["minimal"], node(1))}
    key = files["/etc/corosync/authkey"]
    assert key.content == AUTHKEY and key.mode == 0o400 and key.owner == "root"
    without = Snapshot.build(settings={"systemConfig": SYSTEM}, records={"haNodes": [node(1)]})
    assert [f.path for f in cluster.cluster_files(without, node(1))] == [cluster.COROSYNC_CONF]
    short = Snapshot.build(settings={"systemConfig": SYSTEM}, records={"haNodes": [node(1)]},
                           generated={"corosyncAuthkey": "c2hvcnQ="})
    with pytest.raises(ValueError, match="too short"):
        list(cluster.cluster_files(short, node(1)))


# -- behaviour: crm_simulate plays the cluster -------------------------------------------------


def placement(cib: Path, env: Mapping[str, str]) -> dict[tuple[str, str], set[str]]:
    """(resource, role) -> nodes, as crm_mon shows a cluster running the CIB's status."""
    xml = run(["crm_mon", "--output-as=xml", "-1"], {**env, "CIB_file": str(cib)}).stdout
    where: dict[tuple[str, str], set[str]] = {}
    for resource in ET.fromstring(xml).find("resources").iter("resource"):
        nodes = {n.get("name") for n in resource.iter("node")}
        if nodes:
            where.setdefault((resource.get("id"), resource.get("role")), set()).update(nodes)
    return where


def simulate(cib: Path, env: Mapping[str, str], *arguments: str) -> str:
    return run(["crm_simulate", "--xml-file", str(cib), "--quorum", "true", "--simulate",
                "--save-output", str(cib), *arguments], env).stdout


def active_node(where: Mapping[tuple[str, str], set[str]]) -> str:
    """The one node holding the IPs, Kamailio and the promoted rtpengine and redis."""
    holders = [where.get(key, set()) for key in (
        ("failover_ip1", "Started"), ("failover_ip2", "Started"), ("kam_heartbeats", "Started"),
        ("rtpeng_prim", "Promoted"), ("redis_prim", "Promoted"))]
    assert all(len(nodes) == 1 for nodes in holders) and len(set.union(*holders)) == 1, holders
    return holders[0].copy().pop()


def test_the_service_runs_on_one_node_and_fails_over_with_fencing(tmp_path: Path, crm_env) -> None:
    snap = CASES["public_mapped_3"]
    cib, _ = load(snap, tmp_path, crm_env)
    simulate(cib, crm_env, "--node-up", "node1", "--node-up", "node2", "--node-up", "node3")
    where = placement(cib, crm_env)
    active = active_node(where)
    assert where[("redis_prim", "Unpromoted")] == {"node1", "node2", "node3"} - {active}
    for number in (1, 2, 3):
        assert f"node{number}" not in where[(f"stonith_f{number}", "Started")]

    transition = simulate(cib, crm_env, "--node-fail", active)
    assert f"Fence (reboot) {active}" in transition
    # On the survivor: the IPs first; then Kamailio, and media's redis -> rtpengine promotions,
    # which Kamailio does not wait for (the standby rtpengine already holds every call).
    actions = [line.split()[3:5] for line in transition.splitlines() if "Resource action:" in line]
    sequence = [name for (name, what) in actions if (name, what) in {
        ("failover_ip1", "start"), ("redis_prim", "promote"), ("rtpeng_prim", "promote"),
        ("kam_heartbeats", "start")}]
    assert sequence[0] == "failover_ip1" and set(sequence) == {
        "failover_ip1", "redis_prim", "rtpeng_prim", "kam_heartbeats"}, sequence
    assert sequence.index("redis_prim") < sequence.index("rtpeng_prim"), sequence
    survivor = active_node(placement(cib, crm_env))
    assert survivor != active


def test_a_node_that_loses_its_network_hands_over_the_service(tmp_path: Path, crm_env) -> None:
    cib, _ = load(CASES["public_mapped_3"], tmp_path, crm_env)
    simulate(cib, crm_env, "--node-up", "node1", "--node-up", "node2", "--node-up", "node3")
    active = active_node(placement(cib, crm_env))
    env = {**crm_env, "CIB_file": str(cib)}
    for number in (1, 2, 3):  # what the ping resources report: the active node lost its gateway
        name = f"node{number}"
        for network in ("private", "public"):
            score = "0" if (name, network) == (active, "private") else "1000"
            run(["crm_attribute", "--node", name, "--name", f"pingd_{network}", "--update", score,
                 "--lifetime", "reboot"], env)
    simulate(cib, crm_env)
    assert active_node(placement(cib, crm_env)) != active


# -- confinement, determinism ------------------------------------------------------------------


FAKE_SNMP = """#!/usr/bin/python3
import json, os, sys
with open(os.environ["FAKE_SNMP_ARGV"], "w") as out:
    json.dump(sys.argv, out)
sys.exit(1)
"""


def agent_snmp_argv(primitive: ET.Element, secrets: Path, folder: Path) -> list[str]:
    """The SNMP command the fence agent builds from the CIB's parameters, as fenced runs it
    (name=value lines on stdin), with the node's secret folder moved to ``secrets`` and a fake
    snmpget/snmpwalk that records its arguments: nothing is sent anywhere."""
    fake = folder / "fake-snmp"
    fake.write_text(FAKE_SNMP)
    fake.chmod(0o755)
    params = attributes(primitive, "instance_attributes")
    params = {name: value.replace(cluster.FENCE_SECRETS_DIR, str(secrets))
              for name, value in params.items() if not name.startswith("pcmk_")}
    params.update(action="status", snmpget_path=str(fake), snmpwalk_path=str(fake))
    argv = folder / "argv.json"
    subprocess.run([shutil.which(primitive.get("type"))], input="".join(
        f"{name}={value}\n" for name, value in params.items()), capture_output=True, text=True,
        timeout=30, env={**os.environ, "FAKE_SNMP_ARGV": str(argv), "SNMP_PERSISTENT_DIR": str(folder)})
    return json.loads(argv.read_text())


def test_hostile_secrets_stay_out_of_the_cib_and_reach_the_fence_agent_unchanged(
        tmp_path: Path, crm_env) -> None:
    records = []
    for index, secret in enumerate(HOSTILE_SECRETS):
        cleaned, errors = FENCES.validate(v3_fence(f"h{index}", 1 + index % 3, fenceSnmpAuthPass=secret,
                                                   fenceSnmpPrivPass="priv" + secret))
        assert errors == {}, errors  # the catalogue accepts them: render must confine them
        records.append(cleaned)
    snap = snapshot(nodes=[node(1), node(2), node(3)], fences=records)
    cib_path, cib = load(snap, tmp_path, crm_env)
    script, cib_text = cluster.cluster_crm(snap), cib_path.read_text()
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for file in cluster.cluster_files(snap, node(2)):
        if file.path.startswith(cluster.FENCE_SECRETS_DIR):
            assert file.mode == 0o600 and file.owner == "root"
            (secrets / Path(file.path).name).write_text(file.content)
    found = primitives(cib)
    for index, secret in enumerate(HOSTILE_SECRETS):
        assert secret not in script and secret not in cib_text
        params = attributes(found[f"stonith_h{index}"], "instance_attributes")
        assert params["password_script"] == f"/bin/cat /etc/genproxy/fence-secrets/h{index}.auth"
        assert params["pcmk_host_list"] == f"node{1 + index % 3}"  # nothing spilled over
        argv = agent_snmp_argv(found[f"stonith_h{index}"], secrets, tmp_path)
        assert argv[argv.index("-A") + 1] == secret
        assert argv[argv.index("-X") + 1] == "priv" + secret
        assert argv[argv.index("-l") + 1].lower() == "authpriv"


@pytest.mark.parametrize(("secret", "why"), [
    ("abc1234", "at least 8"), ("trailing space ", "end with a space"), ("line\nbreak!", "line break")])
def test_pass_phrases_snmp_would_not_take_are_refused(secret: str, why: str) -> None:
    snap = snapshot(nodes=[node(1), node(2)], fences=[v3_fence("p1", 1, fenceSnmpAuthPass=secret)])
    with pytest.raises(cluster.ClusterConfigError, match=why) as refused:
        list(cluster.cluster_files(snap, node(1)))
    assert "fence p1: fenceSnmpAuthPass" in str(refused.value) and secret not in str(refused.value)


@pytest.mark.parametrize("value", ["caf\u00e9", "tab\there", "line\nbreak", "back\\slash"])
def test_crm_quote_refuses_what_crmsh_would_alter(value: str) -> None:
    with pytest.raises(cluster.ClusterConfigError, match="printable ASCII"):
        cluster.crm_quote(value, "here")


def test_crm_quote_confines_printable_text(tmp_path: Path, crm_env) -> None:
    hostile = 'a"b\'c;d #e $(id) `id` f=g "" \''
    assert cluster.crm_quote(hostile) == '"a\\"b\'c;d #e $(id) `id` f=g \\"\\" \'"'
    cib = tmp_path / "cib.xml"
    cib.write_text(run(["cibadmin", "--empty"], crm_env).stdout)
    script = tmp_path / "quote.crm"
    script.write_text(f"property cib-bootstrap-options: cluster-name={cluster.crm_quote(hostile)} "
                      "stonith-enabled=false\n")
    run(["crm", "-D", "plain", "configure", "load", "update", str(script)], {**crm_env, "CIB_file": str(cib)})
    assert properties(ET.parse(cib).getroot())["cluster-name"] == hostile


def test_render_is_deterministic_and_ignores_record_order() -> None:
    snap = CASES["fenced_15"]
    shuffled = Snapshot.build(
        settings={"systemConfig": dict(snap.settings["systemConfig"])},
        records={"haNodes": [dict(r) for r in reversed(snap.records["haNodes"])],
                 "fences": [dict(r) for r in reversed(snap.records["fences"])]},
        generated=GENERATED)
    assert cluster.cluster_crm(snap) == cluster.cluster_crm(snap) == cluster.cluster_crm(shuffled)
    assert cluster.corosync_conf(snap) == cluster.corosync_conf(shuffled)
    assert cluster.cluster_object_ids(snap) == cluster.cluster_object_ids(shuffled)


def test_render_carries_the_cluster_files_and_script() -> None:
    snap = CASES["public_mapped_3"]
    generated = {**{name: make() for name, make in MAKERS.items()}, **GENERATED}
    rendered = render(Snapshot(snap.settings, snap.records, generated))
    assert rendered.crm.count("primitive kam_heartbeats ") == 1
    for name in ("node1", "node2", "node3"):
        assert rendered.file(name, "/etc/corosync/corosync.conf").content == \
            cluster.corosync_conf(CASES["public_mapped_3"])
        assert rendered.file(name, "/etc/corosync/authkey").mode == 0o400


# -- what the manual's keys select -----------------------------------------------------------


@pytest.mark.parametrize(("system", "second"), [
    ({}, None),
    ({"publicIP": "127.0.2.10", "publicPing": "127.0.0.254"}, {"ip": "127.0.2.10", "cidr_netmask": "8"}),
    ({"publicIP": "203.0.113.10", "publicPing": "127.0.0.254"}, {"ip": "203.0.113.10"}),
    ({"publicIP": "203.0.113.10", "mappedIP": "127.0.0.101"}, {"ip": "127.0.0.101", "cidr_netmask": "8"}),
    ({"publicIP": "203.0.113.10", "mappedIP": "192.168.50.5", "publicPing": "192.168.50.1"},
     {"ip": "192.168.50.5"}),
    ({"publicIP": "sip.example.com", "mappedIP": "127.0.0.101", "alias": "203.0.113.10"},
     {"ip": "127.0.0.101", "cidr_netmask": "8"}),
    ({"publicIP": "203.0.113.10", "mappedIP": "127.0.0.100", "mappedPort": "5062"}, None),
])
def test_which_addresses_float(system: dict[str, str], second: dict[str, str] | None) -> None:
    ips = dict(cluster.floating_ips(snapshot(system)))
    assert ips["failover_ip1"] == {"ip": "127.0.0.100", "cidr_netmask": "8"}
    assert ips.get("failover_ip2") == second


def test_dotted_subnet_becomes_a_prefix() -> None:
    ips = dict(cluster.floating_ips(snapshot({"privateSubnet": "255.255.255.0"})))
    assert ips["failover_ip1"]["cidr_netmask"] == "24"


def test_on_fail_follows_on_fail_mode_only_when_fencing_exists() -> None:
    assert cluster.on_fail(snapshot()) == "standby"
    assert cluster.on_fail(snapshot({"onFailMode": "Fence"})) == "standby"  # no fences: no fencing
    fenced = [fence("f1", 1)]
    assert cluster.on_fail(snapshot({"onFailMode": "Fence"}, [node(1), node(2)], fenced)) == "fence"
    assert cluster.on_fail(snapshot({"onFailMode": "Standby"}, [node(1), node(2)], fenced)) == "standby"


def test_start_at_boot_enables_the_stack_never_the_engines() -> None:
    assert cluster.boot_commands(snapshot({"startAtBoot": "Yes"}))[0] == (
        "systemctl", "enable", "corosync.service", "pacemaker.service")
    off = cluster.boot_commands(snapshot())
    assert off[0][1] == "disable"
    assert off[1] == ("systemctl", "disable", "kamailio.service", "rtpengine-daemon.service",
                      "mariadb.service")


def test_engine_map_names_real_keys() -> None:
    for page, key, _ in cluster.ENGINE_MAP:
        assert PAGES[page].key(key).name == key
