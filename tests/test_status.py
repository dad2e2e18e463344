"""System Status (4.0): reading crm_mon and Kamailio's dispatcher RPC, the document, the page
and GET /api/status. Kamailio is real (on loopback); the nodes' answers come through
genweb.nodes' Recorder, or from real TCP connections that fail (refused, silent)."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import paramiko
import pytest

from genweb import store
from genweb.nodes import ConnectFailed, NodeAccess, Recorder, Result, Target, tcp_connect
from genweb.status import dispatcher, status_document
from genweb.status.crm import read_cluster
from genweb.status.picture import render_svg
from genweb.status.reader import READ_BUDGET
from tests.test_dbutil import leaked, seed_store

SAMPLE = Path("/work/shared/reference/crm_mon_sample.xml")

# genweb's own resources (commit/cluster.py) as Pacemaker 2.1 reports them: node1 primary,
# node3 fenced (offline, its newest fence operation succeeded).
CRM_XML = """<pacemaker-result api-version="2.25" request="crm_mon --output-as=xml">
  <summary>
    <stack type="corosync"/>
    <current_dc present="true" version="2.1.5-a3f44794f94" name="node2" id="2" with_quorum="true"/>
    <last_update time="Sun Nov 29 16:00:00 2026"/>
    <last_change time="Sun Nov 29 15:58:20 2026" user="root" client="crm_attribute" origin="node1"/>
    <nodes_configured number="3"/>
    <resources_configured number="9" disabled="0" blocked="0"/>
    <cluster_options stonith-enabled="true" maintenance-mode="false"/>
  </summary>
  <nodes>
    <node name="node1" id="1" online="true" standby="false" maintenance="false" pending="false" unclean="false" shutdown="false" is_dc="false" resources_running="5" type="member"/>
    <node name="node2" id="2" online="true" standby="false" maintenance="false" pending="false" unclean="false" shutdown="false" is_dc="true" resources_running="2" type="member"/>
    <node name="node3" id="3" online="false" standby="false" maintenance="false" pending="false" unclean="false" shutdown="false" is_dc="false" resources_running="0" type="member"/>
  </nodes>
  <resources>
    <resource id="kam_heartbeats" resource_agent="ocf:heartbeat:kamailio" role="Started" active="true" failed="false" managed="true"><node name="node1" id="1"/></resource>
    <group id="ip_group" number_resources="2">
      <resource id="failover_ip1" resource_agent="ocf:heartbeat:IPaddr2" role="Started" active="true" failed="false" managed="true"><node name="node1" id="1"/></resource>
      <resource id="failover_ip2" resource_agent="ocf:heartbeat:IPaddr2" role="Started" active="true" failed="false" managed="true"><node name="node1" id="1"/></resource>
    </group>
    <clone id="rtpeng_clone" multi_state="true" unique="false" managed="true" failed="false">
      <resource id="rtpeng_prim" resource_agent="ocf:amtelco:rtpengine" role="Promoted" active="true" failed="false" managed="true"><node name="node1" id="1"/></resource>
      <resource id="rtpeng_prim" resource_agent="ocf:amtelco:rtpengine" role="Unpromoted" active="true" failed="false" managed="true"><node name="node2" id="2"/></resource>
      <resource id="rtpeng_prim" resource_agent="ocf:amtelco:rtpengine" role="Stopped" active="false" failed="false" managed="true"/>
    </clone>
    <resource id="fence_node3" resource_agent="stonith:fence_ether_snmp" role="Started" active="true" failed="false" managed="true"><node name="node2" id="2"/></resource>
  </resources>
  <fence_history>
    <fence_event action="reboot" target="node3" client="pacemaker-controld.44" origin="node2" status="success" delegate="node1" completed="2026-11-29 15:59:26Z"/>
  </fence_history>
  <status code="0" message="OK"/>
</pacemaker-result>"""

KAMCMD_LIST = """{
\tNRSETS: 2
\tRECORDS: {
\t\tSET: {
\t\t\tID: 0
\t\t\tTARGETS: {
\t\t\t\tDEST: {
\t\t\t\t\tURI: sip:198.18.0.77:5060
\t\t\t\t\tFLAGS: AP
\t\t\t\t\tPRIORITY: 0
\t\t\t\t}
\t\t\t}
\t\t}
\t\tSET: {
\t\t\tID: 1
\t\t\tTARGETS: {
\t\t\t\tDEST: {
\t\t\t\t\tURI: sip:198.18.0.75:5060
\t\t\t\t\tFLAGS: IP
\t\t\t\t\tPRIORITY: 0
\t\t\t\t}
\t\t\t}
\t\t}
\t}
}
"""
NO_PRIMARY_KEY = "error: 500 - Key name doesn't exist in htable.\n"


# -- crm_mon --------------------------------------------------------------------------------------


def test_the_reference_crm_mon_sample_reads_as_figure_4():
    cluster = read_cluster(SAMPLE.read_text())
    summary = cluster["summary"]
    assert summary["stack"] == "corosync" and summary["dc"] == "n2" and summary["quorum"]
    assert summary["nodesConfigured"] == 3 and summary["resourcesConfigured"] == 4
    assert [n["state"] for n in cluster["nodes"]] == ["Online", "Online", "Online"]
    assert [n["name"] for n in cluster["nodes"] if n["dc"]] == ["n2"]
    assert [(r["id"], r["role"], r["nodes"]) for r in cluster["resources"]][0] == \
        ("vip", "Started", ["n2"])
    assert cluster["fenceHistory"][0] == {"target": "n1", "action": "reboot", "status": "success",
                                          "delegate": "n3", "origin": "n3",
                                          "completed": "2026-11-29 11:58:26Z"}


def test_roles_groups_clones_and_a_fenced_node():
    cluster = read_cluster(CRM_XML)
    assert cluster["primary"] == "node1" and cluster["serviceNode"] == "node1"
    states = {n["name"]: n["state"] for n in cluster["nodes"]}
    assert states == {"node1": "Online", "node2": "Online", "node3": "Fenced"}
    clone = next(r for r in cluster["resources"] if r["id"] == "rtpeng_clone")
    assert clone["promotable"] and clone["kind"] == "clone"
    assert [(m["role"], m["nodes"]) for m in clone["members"]] == [
        ("Promoted", ["node1"]), ("Unpromoted", ["node2"]), ("Stopped", [])]
    group = next(r for r in cluster["resources"] if r["id"] == "ip_group")
    assert [m["id"] for m in group["members"]] == ["failover_ip1", "failover_ip2"]
    # Pacemaker before 2.1 (and the manual's figure) says Master/Slave: the same roles.
    old = read_cluster(CRM_XML.replace('"Promoted"', '"Master"').replace('"Unpromoted"', '"Slave"'))
    assert [m["role"] for m in old["resources"][2]["members"]][:2] == ["Promoted", "Unpromoted"]


def test_the_picture_shows_the_ip_holder_roles_and_the_fenced_node():
    document = {"cluster": read_cluster(CRM_XML), "answeredBy": "node2",
                "nodes": [{"name": f"node{n}", "reachable": n != 3} for n in (1, 2, 3)],
                "floatingIps": [{"resource": "failover_ip1", "address": "198.18.0.100"}]}
    svg = str(render_svg(document))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "198.18.0.100 → node1" in svg
    assert 'class="node node-fenced" data-node="node3"' in svg
    assert "rtpeng_prim: Promoted" in svg and "rtpeng_prim: Unpromoted" in svg
    assert "Fenced, unreachable" in svg and 'stroke-dasharray' in svg
    assert "Stopped:" not in svg  # the clone's spare instance: rtpeng_prim runs elsewhere
    stopped = read_cluster(CRM_XML.replace('role="Started" active="true" failed="false" '
                                           'managed="true"><node name="node1" id="1"/></resource>'
                                           '\n    <group', 'role="Stopped" active="false" '
                                           'failed="false" managed="true"/>\n    <group'))
    assert "Stopped: kam_heartbeats" in str(render_svg({**document, "cluster": stopped}))
    hostile = read_cluster(CRM_XML.replace('id="fence_node3"', 'id="&lt;script&gt;"'))
    assert "<script>" not in str(render_svg({**document, "cluster": hostile}))


def test_the_picture_does_not_call_the_ips_down_when_no_node_told():
    document = {"cluster": None, "nodes": [{"name": "node1", "reachable": False}],
                "floatingIps": [{"resource": "failover_ip1", "address": "198.18.0.100"}]}
    svg = str(render_svg(document))
    assert "198.18.0.100: holder unknown" in svg and "held by no node" not in svg
    # a node answered and no node holds them: that is news, in red
    nobody = {**read_cluster(CRM_XML), "primary": None}
    assert "held by no node" in str(render_svg({**document, "cluster": nobody}))


def test_with_no_nodes_the_document_says_so_everywhere(app, ctx):
    document = status_document(app, max_age=0)
    assert document["message"].startswith("No HA Nodes are configured")
    assert document["dispatcher"]["message"].startswith("No HA Nodes are configured")
    assert document["cluster"] is None and document["unreachable"] == []


# -- Kamailio's dispatcher RPC, from a real Kamailio ----------------------------------------------


KAMAILIO_CFG = """#!KAMAILIO
listen=udp:127.0.0.1:{port}
children=1
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "ctl.so"
loadmodule "htable.so"
loadmodule "dispatcher.so"
modparam("ctl", "binrpc", "unix:{dir}/ctl.sock")
modparam("dispatcher", "list_file", "{dir}/dispatcher.list")
modparam("htable", "htable", "dsrole=>size=1;")
request_route {{ drop; }}
"""


@pytest.fixture
def kamailio(tmp_path):
    if not Path("/usr/sbin/kamailio").exists():
        pytest.skip("kamailio is not installed")
    (tmp_path / "dispatcher.list").write_text(
        "1 sip:127.0.0.1:5071 0 0\n1 sip:127.0.0.1:5072 0 0\n0 sip:127.0.0.1:5073 0 0\n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "k.cfg").write_text(KAMAILIO_CFG.format(port=port, dir=tmp_path))
    proc = subprocess.Popen(["/usr/sbin/kamailio", "-DD", "-E", "-f", str(tmp_path / "k.cfg"),
                             "-m", "32", "-M", "4", "-Y", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kamcmd(*args: str) -> str:
        done = subprocess.run(["kamcmd", "-s", f"unix:{tmp_path}/ctl.sock", *args],
                              capture_output=True, text=True, timeout=10)
        return done.stdout + done.stderr

    deadline = time.monotonic() + 20
    while not (tmp_path / "ctl.sock").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        yield kamcmd
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_dispatcher_table_from_a_real_kamailio(kamailio):
    primary = dispatcher.parse_primary(kamailio(*dispatcher.PRIMARY[1:]))
    assert primary == 1  # no key yet: dispatchPriUser's set, as the script's DS_ROLES
    rows = dispatcher.parse_list(kamailio(*dispatcher.LIST[1:]), primary)
    assert [(r["set"], r["role"], r["status"], r["uri"]) for r in rows] == [
        (0, "Backup", "Active", "sip:127.0.0.1:5073"),
        (1, "Primary", "Active", "sip:127.0.0.1:5071"),
        (1, "Primary", "Active", "sip:127.0.0.1:5072")]

    # a destination marked down, and the roles swapped (persistent failover)
    kamailio("dispatcher.set_state", "ip", "1", "sip:127.0.0.1:5072")
    kamailio("htable.seti", "dsrole", "primary", "0")
    primary = dispatcher.parse_primary(kamailio(*dispatcher.PRIMARY[1:]))
    rows = dispatcher.parse_list(kamailio(*dispatcher.LIST[1:]), primary)
    assert primary == 0
    assert [(r["set"], r["role"], r["status"], r["probing"]) for r in rows] == [
        (0, "Primary", "Active", False), (1, "Backup", "Active", False),
        (1, "Backup", "Inactive", True)]


def test_rpc_errors_and_garbage_are_refused():
    with pytest.raises(dispatcher.RpcUnreadable):
        dispatcher.parse_list("error: 500 - command dispatcher.list not found\n", 1)
    with pytest.raises(dispatcher.RpcUnreadable):
        dispatcher.parse_list("kamcmd: connect: No such file or directory\n", 1)


# -- the document, read from nodes ----------------------------------------------------------------


def three_nodes() -> None:
    store.save_settings("systemConfig", {"systemName": "statustest", "privateIP": "198.18.0.100",
                                         "privateSubnet": "24", "privatePing": "198.18.0.2"})
    for n in (1, 2, 3):
        store.create_record("haNodes", {"nodeID": str(n), "nodeName": f"node{n}",
                                        "privateIP": f"198.18.0.{10 + n}"})
    store.record_commit()


class Cluster(Recorder):
    """The nodes' answers (crm_mon, kamcmd) and nodes that cannot be reached."""

    def __init__(self, down: set[str] = frozenset()) -> None:
        super().__init__()
        self.down = set(down)
        self.answer(["sudo", "-n", "--", "crm_mon"], Result(0, CRM_XML, ""))
        self.answer(["sudo", "-n", "--", *dispatcher.LIST], Result(0, KAMCMD_LIST, ""))
        self.answer(["sudo", "-n", "--", *dispatcher.PRIMARY], Result(0, NO_PRIMARY_KEY, ""))

    def __call__(self, target: Target):
        if target.name in self.down:
            raise ConnectFailed(target.name, f"cannot connect to {target.host}:22: "
                                "[Errno 113] No route to host")
        return super().__call__(target)


def test_the_document_names_the_answering_node_and_reads_kamailio_on_the_primary(app, ctx):
    three_nodes()
    cluster = Cluster(down={"node3"})
    app.config["NODE_ACCESS"] = NodeAccess(transport_factory=cluster)
    document = status_document(app, max_age=0)
    assert document["answeredBy"] == "node1" and document["message"] == \
        "Cluster status as reported by node1."
    assert document["unreachable"] == ["node3"]
    assert document["nodes"][2]["message"].endswith("No route to host")
    assert document["commit"]["label"] == "Current"
    assert document["floatingIps"] == [{"resource": "failover_ip1", "address": "198.18.0.100"}]
    table = document["dispatcher"]
    assert table["node"] == "node1" and table["primarySet"] == 1
    assert [(r["set"], r["role"], r["status"]) for r in table["destinations"]] == [
        (0, "Backup", "Active"), (1, "Primary", "Inactive")]
    kamcmd_nodes = {call.node for call in cluster.calls if "kamcmd" in call.argv}
    assert kamcmd_nodes == {"node1"}  # only the active node is asked


def test_when_no_node_answers_the_last_state_stays_marked_stale(app, ctx):
    three_nodes()
    cluster = Cluster()
    app.config["NODE_ACCESS"] = NodeAccess(transport_factory=cluster)
    first = status_document(app, max_age=0)
    cluster.down = {"node1", "node2", "node3"}
    later = status_document(app, max_age=0)
    assert later["answeredBy"] is None and later["stale"]
    assert later["cluster"] == first["cluster"] and later["clusterFrom"] == "node1"
    assert later["message"].startswith("No node answered now: showing the last status, "
                                       "reported by node1 at ")
    assert later["unreachable"] == ["node1", "node2", "node3"]
    assert later["dispatcher"]["stale"] and later["dispatcher"]["destinations"]


def test_with_every_node_deleted_the_last_cluster_is_not_shown(app, ctx):
    three_nodes()
    app.config["NODE_ACCESS"] = NodeAccess(transport_factory=Cluster())
    assert status_document(app, max_age=0)["cluster"]
    for item in store.list_records("haNodes").items:
        store.delete_record("haNodes", item.id)
    store.record_commit()  # the status follows the committed configuration
    later = status_document(app, max_age=0)
    assert later["cluster"] is None and not later["stale"], later
    assert later["message"].startswith("No HA Nodes are configured")


def test_reads_are_shared_within_the_cache_time(app, ctx):
    three_nodes()
    cluster = Cluster()
    app.config["NODE_ACCESS"] = NodeAccess(transport_factory=cluster)
    status_document(app)
    calls = len(cluster.calls)
    store.save_settings("systemConfig", {"systemName": "changed"})
    again = status_document(app)
    assert len(cluster.calls) == calls  # no new SSH session
    assert again["commit"]["label"] == "Changes pending"  # but the store is always current


# -- real connections that fail: refused, and a node that never speaks -------------------------


def record_keys(app) -> None:
    """Host keys as cpsshkeys would have recorded them, so the nodes are contacted."""
    access = NodeAccess.for_instance(Path(app.instance_path))
    key = paramiko.Ed25519Key.from_private_key_file(
        str(_write_key(Path(app.instance_path) / "fake_host_key")))
    for n in (1, 2, 3):
        access.known_hosts.add(Target(f"node{n}", f"198.18.0.{10 + n}"), key)


def _write_key(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def loopback_connector(ports: dict[str, int]):
    """Each node's address mapped to a loopback port (the network rule: nothing else)."""
    def connect(host: str, port: int, timeout: float) -> socket.socket:
        return tcp_connect("127.0.0.1", ports[host], timeout)
    return connect


@pytest.fixture
def silent_port():
    """A TCP port that accepts connections and never says a word (a hung sshd)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    server.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again: connections are refused


def test_unreachable_and_hung_nodes_never_hold_the_page(app, client, silent_port):
    with app.app_context():
        secrets = seed_store(2)
    record_keys(app)
    refused = closed_port()
    app.config["NODE_ACCESS"] = NodeAccess.for_instance(
        Path(app.instance_path), connector=loopback_connector(
            {"198.18.0.11": refused, "198.18.0.12": silent_port, "198.18.0.13": refused}))
    started = time.monotonic()
    page = client.get("/systemStatus")
    took = time.monotonic() - started
    assert took < READ_BUDGET, took  # the silent node costs the 3 s connect timeout, not more
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Current System Status" in html
    assert "Node node1 (198.18.0.11) unreachable: cannot connect" in html
    silent = re.search(r"Node node2 \(198\.18\.0\.12\) unreachable: ([^<]*)", html)
    assert silent and "SSH" in silent[1], silent  # the handshake or the session timed out
    assert "Changes pending" in html  # seed_store changes things after its commit
    assert "No node answered: the cluster status is unknown." in html
    assert "<svg" in html and 'stroke-dasharray' in html
    assert not leaked(html, secrets)

    api = client.get("/api/status")
    assert api.status_code == 200
    body = api.get_json()
    assert body["unreachable"] == ["node1", "node2", "node3"] and body["cluster"] is None
    assert not leaked(api.get_data(as_text=True), secrets)
    data = client.get("/systemStatus/data").get_json()
    assert "unreachable" in data["html"] and data["status"]["answeredBy"] is None


def test_the_sidebar_links_the_page_and_the_api_documents_it(client):
    home = client.get("/").get_data(as_text=True)
    assert 'href="/systemStatus"' in home
    spec = client.get("/openapi/openapi.json").get_json()
    operation = spec["paths"]["/api/status"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] \
        .endswith("/Status")
    page = client.get("/systemStatus").get_data(as_text=True)
    assert "No HA Nodes are configured" in page and "status.js" in page


def test_every_status_command_sent_with_sudo_is_in_the_sudoers_contract(app, ctx):
    from tests.commit.test_sudoers_contract import allowed, rules

    three_nodes()
    cluster = Cluster()
    app.config["NODE_ACCESS"] = NodeAccess(transport_factory=cluster)
    status_document(app, max_age=0)
    sent = {call.argv[3:] for call in cluster.calls if call.argv[:3] == ("sudo", "-n", "--")}
    assert all(call.argv[:3] == ("sudo", "-n", "--") for call in cluster.calls)
    assert {argv[0] for argv in sent} == {"crm_mon", "kamcmd"}
    table = rules()
    assert [argv for argv in sent if not allowed(argv, table)] == []


def test_the_api_gives_the_page_s_document_through_its_schema(app, client):
    with app.app_context():
        three_nodes()
    app.config["NODE_ACCESS"] = NodeAccess(transport_factory=Cluster(down={"node2"}))
    body = client.get("/api/status").get_json()
    assert body["answeredBy"] == "node1" and body["unreachable"] == ["node2"]
    clone = next(r for r in body["cluster"]["resources"] if r["id"] == "rtpeng_clone")
    assert [(m["role"], m["nodes"]) for m in clone["members"]][:2] == [
        ("Promoted", ["node1"]), ("Unpromoted", ["node2"])]
    assert [n["state"] for n in body["cluster"]["nodes"]] == ["Online", "Online", "Fenced"]
    assert body["dispatcher"]["destinations"][1] == {
        "set": 1, "role": "Primary", "status": "Inactive", "probing": True, "flags": "IP",
        "uri": "sip:198.18.0.75:5060"}
    assert body["commit"]["status"] == "current" and body["refreshSeconds"] == 5


def test_an_odd_dispatcher_answer_loses_the_table_not_the_node(app, ctx):
    """kamcmd's answer in a shape the parser does not expect (a set ID that is not a number):
    the table says so, and the node still counts as reached, with its cluster shown."""
    three_nodes()
    cluster = Cluster()
    cluster.answer(["sudo", "-n", "--", *dispatcher.LIST],
                   Result(0, KAMCMD_LIST.replace("ID: 0", "ID: zero"), ""))
    app.config["NODE_ACCESS"] = NodeAccess(transport_factory=cluster)
    document = status_document(app, max_age=0)
    assert document["unreachable"] == [] and document["answeredBy"] == "node1"
    assert document["nodes"][0]["answered"]
    table = document["dispatcher"]
    assert not table["available"] and table["node"] == "node1"
    assert table["message"].startswith("Kamailio on node1 answered something unreadable")
