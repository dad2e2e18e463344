"""System Status (4.0) in Chromium against the lab's real cluster: the page shows what crm_mon
and Kamailio report, then follows a node going away and a failover while it stays open.

The web server is a real genweb on 127.0.0.1 whose node access goes through the lab's
web-server namespace (lab.connect), with the instance key the nodes accept and their host
keys recorded (the ``access`` fixture). Kamailio is started by hand on the node that holds the
floating IP, with a small configuration of its own (dispatcher sets 1 and 0, htable dsrole):
the page reads it with ``sudo kamcmd`` over SSH as it would on a committed system.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from genweb import create_app
from genweb.auth import set_password
from genweb.nodes import NodeAccess, Target
from genweb.store import db
from tests.browser.browserkit import CHROMIUM, CHROMIUM_ARGS, served

from .labkit import (
    built_lab,
    client_instance,
    cluster_running,
    lab_targets,
    recorded_access,
    start_cluster,
    wait_until,
)

pytestmark = pytest.mark.lab
USER, PASSWORD = "operator", "lab status pass"
FLOATING_IP = "198.18.0.100"
FOLLOWS_WITHIN_MS = 60_000  # a stopped node: Corosync notices in ~4 s, the page asks every 5 s

CRM = f"""property cib-bootstrap-options: stonith-enabled=false
primitive failover_ip1 ocf:heartbeat:IPaddr2 params ip={FLOATING_IP} cidr_netmask=24 \\
\top monitor interval=10s timeout=20s
group ip_group failover_ip1
"""

KAMAILIO_CFG = """#!KAMAILIO
listen=udp:{ip}:5060
children=1
loadmodule "ctl.so"
loadmodule "htable.so"
loadmodule "dispatcher.so"
modparam("dispatcher", "list_file", "/run/genweb-status-lab/dispatcher.list")
modparam("htable", "htable", "dsrole=>size=1;")
request_route {{ drop; }}
"""
DISPATCHER_LIST = ("1 sip:198.18.0.75:5060 0 0\n"
                   "1 sip:198.18.0.76:5060 0 0\n"
                   "0 sip:198.18.0.77:5060 0 0\n")


# A lab of its own: the session's lab has been fenced, restarted and reconfigured by the tests
# before this one, and a node rejoining it after a long run was seen to take longer than the
# page's wait. The status page is proven against a cluster nothing else has touched.


@pytest.fixture(scope="module")
def lab(host_before):
    yield from built_lab("s")


@pytest.fixture(scope="module")
def web_instance(lab, tmp_path_factory) -> Path:
    return client_instance(lab, tmp_path_factory.mktemp("status-instance"))


@pytest.fixture(scope="module")
def access(lab, web_instance) -> NodeAccess:
    return recorded_access(lab, web_instance)


@pytest.fixture(scope="module")
def targets(lab) -> list[Target]:
    return lab_targets(lab)


def holder(access: NodeAccess, targets: list[Target]) -> str | None:
    with access.open(targets[0]) as node:
        out = node.run(["crm_resource", "--locate", "--resource", "ip_group"], sudo=True).stdout
    return next((t.name for t in targets if f"running on: {t.name}" in out), None)


@pytest.fixture(scope="module")
def ip_cluster(lab, access, targets, tmp_path_factory) -> str:
    """The cluster with ip_group; returns the node holding it."""
    start_cluster(lab, access, targets, tmp_path_factory.mktemp("cib"))
    with access.open(targets[0]) as node:
        node.run(["install", "-d", "-m", "0755", "/etc/genproxy"], sudo=True, check=True)
        node.write_file("/etc/genproxy/statuslab.crm", CRM)
        node.run(["crm", "configure", "load", "update", "/etc/genproxy/statuslab.crm"],
                 sudo=True, check=True, timeout=60)
    assert wait_until(lambda: holder(access, targets) is not None, 60)
    return holder(access, targets) or ""


@pytest.fixture(scope="module")
def kamailio(lab, ip_cluster) -> Iterator[str]:
    """A real Kamailio on the floating IP's node (stopped by its PID afterwards)."""
    node = lab.node(ip_cluster)
    folder = "/run/genweb-status-lab"
    lab.exec(node.name, ["mkdir", "-p", folder, "/run/kamailio"])
    lab.exec(node.name, ["sh", "-c", 'cat > "$1"', "sh", f"{folder}/dispatcher.list"],
             input=DISPATCHER_LIST)
    lab.exec(node.name, ["sh", "-c", 'cat > "$1"', "sh", f"{folder}/kamailio.cfg"],
             input=KAMAILIO_CFG.format(ip=node.private_ip))
    lab.exec(node.name, ["kamailio", "-f", f"{folder}/kamailio.cfg", "-P", f"{folder}/pid",
                         "-m", "32", "-M", "4"], timeout=60)
    yield node.name
    pid = lab.exec(node.name, ["cat", f"{folder}/pid"], check=False).stdout.strip()
    if pid.isdigit():
        lab.exec(node.name, ["kill", pid], check=False)


@pytest.fixture
def live_url(access, tmp_path) -> Iterator[str]:
    """genweb on 127.0.0.1 reaching the lab's nodes through its web-server namespace (the
    ``access`` fixture: the session's instance key, every node's host key recorded)."""
    folder = tmp_path / "instance"
    folder.mkdir()
    set_password(folder / "htpasswd", USER, PASSWORD)
    app = create_app({"NODE_ACCESS": access}, instance=folder)
    with served(app) as url:
        yield app, url


@pytest.fixture
def page(playwright_session, live_url):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    browser = playwright_session.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=CHROMIUM_ARGS)
    context = browser.new_context(base_url=live_url[1],
                                  http_credentials={"username": USER, "password": PASSWORD})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()
    browser.close()


def committed_lab_nodes(app, lab) -> None:
    from genweb import store

    with app.app_context():
        store.save_settings("systemConfig", {"systemName": "statuslab", "privateIP": FLOATING_IP,
                                             "privateSubnet": "24", "privatePing": "198.18.0.2"})
        for node in lab.nodes:
            store.create_record("haNodes", {"nodeID": str(node.index), "nodeName": node.name,
                                            "privateIP": node.private_ip})
        store.record_commit()
        db.session.remove()


def set_port(lab, port: str, state: str) -> None:
    subprocess.run(["ip", "-n", lab.switch.netns, "link", "set", port, state], check=True,
                   capture_output=True, timeout=30)


def test_the_page_shows_the_cluster_and_follows_it(lab, access, targets, ip_cluster, kamailio,
                                                   live_url, page):
    app, _url = live_url
    committed_lab_nodes(app, lab)
    page.goto("/systemStatus")
    names = " ".join(n.name for n in lab.nodes)
    expect(page.locator("#answered-by")).to_have_text("Cluster status as reported by node1.")
    expect(page.locator("#node-list")).to_contain_text(f"Online: [ {names} ]")
    expect(page.locator("#cluster-summary")).to_contain_text("partition with quorum")
    expect(page.locator("#resources")).to_contain_text(
        f"failover_ip1 (ocf:heartbeat:IPaddr2): Started {ip_cluster}")
    picture = page.locator("svg.cluster-picture")
    expect(picture).to_contain_text(f"{FLOATING_IP} → {ip_cluster}")
    rows = page.locator("#dispatcher tbody tr")  # from the real Kamailio, through sudo kamcmd
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("0 (Backup)")
    expect(rows.nth(0)).to_contain_text("sip:198.18.0.77:5060")
    expect(rows.nth(1)).to_contain_text("1 (Primary)")
    expect(page.locator("#dispatcher + .hint")).to_contain_text(f"From Kamailio on {kamailio}")
    page.evaluate("window.notReloaded = true")

    # A node that does not hold the IP stops its cluster stack, then drops off the network.
    gone = next(t for t in reversed(targets) if t.name != ip_cluster)
    spec = lab.node(gone.name)
    with access.open(gone) as node:
        node.run(["crm", "cluster", "stop"], sudo=True, check=True, timeout=120)
    try:
        expect(page.locator("#node-list")).to_contain_text(f"OFFLINE: [ {gone.name} ]",
                                                           timeout=FOLLOWS_WITHIN_MS)
        expect(picture.locator(f'[data-node="{gone.name}"] .node-state')).to_have_text("OFFLINE")
        set_port(lab, spec.private_port, "down")
        expect(page.get_by_role("alert")).to_contain_text(
            f"Node {gone.name} ({gone.host}) unreachable", timeout=FOLLOWS_WITHIN_MS)
        expect(picture.locator(f'[data-node="{gone.name}"] .node-state')).to_have_text(
            "OFFLINE, unreachable")
    finally:
        set_port(lab, spec.private_port, "up")
    with access.open(gone) as node:  # back, so the holder's partner keeps quorum
        node.run(["crm", "cluster", "start"], sudo=True, check=True, timeout=120)
    assert wait_until(lambda: cluster_running(access, targets), 90)

    # The holder stops: the floating IP moves, and the page follows the failover.
    survivor_names = {t.name for t in targets} - {ip_cluster}
    with access.open(next(t for t in targets if t.name == ip_cluster)) as node:
        node.run(["crm", "cluster", "stop"], sudo=True, check=True, timeout=120)
    expect(picture.locator(".floating-ips")).not_to_contain_text(f"→ {ip_cluster}",
                                                                 timeout=FOLLOWS_WITHIN_MS)
    expect(picture.locator(".floating-ips")).to_contain_text("→ node")
    survivor = (picture.locator(".floating-ips").text_content() or "").rsplit("→ ", 1)[1].strip()
    assert survivor in survivor_names
    expect(page.locator("#node-list")).to_contain_text(f"OFFLINE: [ {ip_cluster} ]")
    # no Kamailio was started there: the page says so instead of showing a stale table
    expect(page.locator("#dispatcher-message")).to_contain_text(f"Kamailio on {survivor}")
    assert page.evaluate("window.notReloaded") is True

    # Leave the cluster whole for any later lab test of the session.
    for target in targets:
        if target.name == ip_cluster:
            with access.open(target) as node:
                node.run(["crm", "cluster", "start"], sudo=True, timeout=120)
    assert wait_until(lambda: cluster_running(access, targets), 90)
