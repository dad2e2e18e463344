"""The end-to-end kit: genweb configured through its REST API and committed to a lab, SIP agents
(sipp) in the lab's web-server namespace, and what the cluster says about itself.

Used by tests/lab/test_e2e.py and bench/failover.py. The web server is the Flask app with a
test client; its commit reaches the nodes over SSH through the lab's web namespace
(NODE_CONNECTOR ``lab:NAME``), with the instance's own key and recorded host keys, exactly as
in production. sipp runs with ``ip netns exec`` in that same namespace: the Genesis system on
the private network (198.18.0.3), callers on the public one (198.19.0.3). Every process is
started in its own session and stopped by its PID.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import count
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from genweb import create_app, nodes
from genweb.auth import set_password
from genweb.commit.clusterstate import RUNNING_ROLES, ClusterState, parse_crm_mon
from genweb.lab import Lab, procs
from genweb.lab.topology import PRIVATE_VIP, WEB_PRIVATE_IP, WEB_PUBLIC_IP
from tests.render.kamailio_helpers import Daemon
from tests.sip.harness import SCENARIOS, Sipp, parse_reg_dump

USER, PASSWORD = "operator", "e2e-operator-pw"
VIP = PRIVATE_VIP
SIP_PORT = 5060
GENESIS_IP, CALLER_IP = WEB_PRIVATE_IP, WEB_PUBLIC_IP
GENESIS_USER, GENESIS_PASSWORD = "genesis_a-1", "genesis-pw-1"
# Nothing lost on failover (issue 8): a phone registered through the proxy (committed with the
# first commit), a subscriber added by a later live commit, an outbound registration (12.0)
# to a provider's registrar on the public side.
PHONE_USER, PHONE_PASSWORD = "5001", "phone-pw-5001"
LATE_USER, LATE_PASSWORD = "5002", "late-pw-5002"
TRUNK = {"l_uuid": "e2e-trunk", "l_username": "acct1", "l_domain": "provider.test",
         "r_username": "acct1", "r_domain": "provider.test", "realm": "provider",
         "auth_username": "acct1", "auth_password": "trunk-pw-1", "expires": "3600"}
DENIED = "198.19.0.66"  # a denyList entry in the lab's range (never contacted)
# Processes of a node's cluster stack and engines: what `kill -9` takes down on the active node
# (a crash of the node's software; the kernel keeps its addresses, hence fencing).
# (/proc/PID/comm holds 15 characters: "pacemaker-contr" ...; hence prefixes)
STACK = ("corosync", "pacemaker", "kamailio", "rtpengine", "redis-server", "mariadbd",
         "mysqld")


# -- genweb -----------------------------------------------------------------------------------


class Genweb:
    """The web server: the app on an instance folder whose key the lab's nodes accept."""

    def __init__(self, lab: Lab, instance: Path):
        self.lab = lab
        instance.mkdir(parents=True, exist_ok=True)
        set_password(instance / "htpasswd", USER, PASSWORD)
        # what cpsshkeys does: the web server's key on every node, each host key recorded
        lab.authorize_key(nodes.ensure_client_key(instance / "ssh" / "id_ed25519"))
        self.access = nodes.NodeAccess.for_instance(instance, connector=lab.connect,
                                                    connect_timeout=10, command_timeout=120)
        for node in lab.nodes:
            self.access.record_host_key(nodes.Target(node.name, node.private_ip))
        self.app: Flask = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False,
                                      "NODE_CONNECTOR": f"lab:{lab.name}"}, instance=instance)
        self.client: FlaskClient = self.app.test_client()
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.client.environ_base["HTTP_AUTHORIZATION"] = f"Basic {token}"

    def api(self, method: str, url: str, body: Mapping[str, str] | None = None) -> dict:
        answer = self.client.open(url, method=method, json=body)
        assert answer.status_code < 300, f"{method} {url}: {answer.status_code} " \
                                         f"{answer.get_data(as_text=True)[:1500]}"
        return answer.get_json() or {}

    def configure(self) -> None:
        """An empty store to a whole system: three nodes, their fences on the lab switch, the
        system, the database, the proxy and the Genesis' subscriber."""
        lab = self.lab
        self.api("PATCH", "/api/systemConfig", {
            "systemName": "e2e", "privateIP": VIP, "privateSubnet": "24",
            "privatePort": str(SIP_PORT), "privatePing": WEB_PRIVATE_IP})
        self.api("PATCH", "/api/databaseConfig", {
            "dbEngine": "MySQL", "dbrwPass": "e2e-rw-pass", "dbroPass": "e2e-ro-pass",
            "replicationPass": "e2e-repl-pass"})
        # the callers' side is a provider (allowList): its calls go to Genesis unchallenged
        # Genesis registrations are challenged (enableRegAuth, 7.1.5)
        self.api("PATCH", "/api/proxyConfig", {"allowList": CALLER_IP, "enableRegAuth": "Yes"})
        for node in lab.nodes:
            self.api("POST", "/api/haNodes", {"nodeID": str(node.index), "nodeName": node.name,
                                               "privateIP": node.private_ip})
        for node in lab.nodes:
            self.api("POST", "/api/fences", {
                "fenceName": f"{node.name}_port", "fenceNodeName": node.name,
                "fenceAgent": "fence_ether_snmp", "fenceDevicePlug": node.private_port,
                "fenceDeviceIP": lab.switch.ip, "fenceSnmpVersion": "2c",
                "fenceSnmpUser": lab.switch.community})
        self.api("POST", "/api/subscribers", {"username": GENESIS_USER, "domain": VIP,
                                              "password": GENESIS_PASSWORD})
        self.api("POST", "/api/subscribers", {"username": PHONE_USER, "domain": VIP,
                                              "password": PHONE_PASSWORD})

    def add_trunk(self, registrar: NsSipp) -> None:
        """The outbound registration TRUNK to the registrar agent (auth_proxy its address)."""
        self.api("POST", "/api/outboundRegistrations",
                 {**TRUNK, "auth_proxy": f"sip:{registrar.ip}:{registrar.port}"})

    def commit(self, timeout: float = 400) -> tuple[dict, list[str], float]:
        """POST /api/commit and follow the job to its end: (job, progress lines, seconds)."""
        started = time.monotonic()
        job_id = self.api("POST", "/api/commit", {})["jobId"]
        lines: list[str] = []
        after = 0
        while True:
            job = self.api("GET", f"/api/jobs/{job_id}?after={after}")
            for event in job.get("events", []):
                lines.append(event["line"])
                after = max(after, int(event["seq"]))
            if job["status"] not in ("running", "queued"):
                return job, lines, time.monotonic() - started
            assert time.monotonic() - started < timeout, "\n".join(lines[-30:])
            time.sleep(0.5)


# -- the cluster, as the nodes see it ----------------------------------------------------------


def crm_mon(lab: Lab, names: Sequence[str]) -> str:
    """crm_mon's XML from the first listed node that answers."""
    for name in names:
        done = lab.exec(name, ["crm_mon", "--output-as=xml"], check=False, timeout=30)
        if done.returncode == 0 and "<pacemaker-result" in done.stdout:
            return done.stdout
    return ""


def state(lab: Lab, names: Sequence[str]) -> ClusterState | None:
    xml = crm_mon(lab, names)
    return parse_crm_mon(xml) if xml else None


def not_running(xml: str) -> list[str]:
    """Every resource instance that is not running in a settled role, and every failure."""
    root = ET.fromstring(xml)
    bad = [f"{item.get('id')} {item.get('role')}" for item in root.iter("resource")
           if item.get("active") != "true" or item.get("role") not in RUNNING_ROLES
           or item.get("failed") == "true" or item.get("pending")]
    bad += [f"failure {item.get('op_key')} on {item.get('node')}"
            for item in root.iterfind("failures/failure")]
    return bad


def failures(xml: str) -> list[str]:
    """crm_mon's failed actions (what ``crm_mon -1`` lists under "Failed Resource Actions")."""
    return [f"{item.get('op_key')} on {item.get('node')}: {item.get('status')} "
            f"(rc {item.get('rc')}) {item.get('exitreason') or ''}".strip()
            for item in ET.fromstring(xml).iterfind("failures/failure")]


def promoted(xml: str, clone: str) -> list[str]:
    """The nodes where the promotable clone's instance is Promoted."""
    root = ET.fromstring(xml)
    return [node.get("name") for group in root.iter("clone") if group.get("id") == clone
            for item in group.iter("resource") if item.get("role") in ("Promoted", "Master")
            for node in item.iter("node")]


def location_contacts(lab: Lab, name: str, user: str) -> list[str]:
    """usrloc's rows for ``user`` in the node's own MariaDB (as root over the socket)."""
    done = lab.exec(name, ["mariadb", "--batch", "--skip-column-names", "--database=kamailio",
                           "--execute", f"SELECT contact FROM location WHERE username='{user}'"],
                    check=False, timeout=30)
    return done.stdout.split() if done.returncode == 0 else []


def uac_records(lab: Lab, name: str) -> dict[str, dict[str, str]]:
    """``kamcmd uac.reg_dump`` on the node, by l_uuid (flags: 1 disabled, 2 ongoing, 4 online,
    8 auth sent, 16 initialised)."""
    done = lab.exec(name, ["kamcmd", "uac.reg_dump"], check=False, timeout=30)
    return parse_reg_dump(done.stdout)


def holders(lab: Lab, address: str, names: Sequence[str] | None = None) -> list[str]:
    """The nodes whose eth0 has the address."""
    found = []
    for node in lab.nodes:
        if names is not None and node.name not in names:
            continue
        done = lab.exec(node.name, ["ip", "-o", "-4", "addr", "show", "dev", "eth0"],
                        check=False)
        if f" {address}/" in done.stdout:
            found.append(node.name)
    return found


def switch_port_up(lab: Lab, port: str) -> bool:
    """Whether the lab switch's port is administratively up (fencing shuts it)."""
    done = subprocess.run(["ip", "-n", lab.switch.netns, "-o", "link", "show", port],
                          capture_output=True, text=True, timeout=10, check=True)
    flags = done.stdout.split("<", 1)[1].split(">", 1)[0].split(",")
    return "UP" in flags


SETTLE_TIMEOUT = 180  # s: every resource started after a first commit (a loaded 2-CPU machine)
FAILOVER_TIMEOUT = 90  # s: the victim fenced, the IP and Kamailio on a survivor


def settled_cluster(lab: Lab, names: Sequence[str]) -> tuple[str, str]:
    """After a commit: every resource running, quorum with every node online.
    Returns the node that holds the service and crm_mon's XML."""
    def settled() -> str:
        xml = crm_mon(lab, names)
        return xml if xml and not not_running(xml) else ""

    xml = wait(settled, SETTLE_TIMEOUT, "every resource running")
    cluster = state(lab, names)
    assert cluster is not None and cluster.quorate and set(cluster.online) == set(names), xml
    assert cluster.service_node is not None, xml
    assert holders(lab, VIP) == [cluster.service_node]
    return cluster.service_node, xml


def taken_over(lab: Lab, names: Sequence[str], victim: str) -> str:
    """After the victim's stack was killed: fenced (its switch port shut), the service and the
    floating IP on one survivor, which is returned."""
    port = lab.node(victim).private_port
    survivors = [name for name in names if name != victim]
    wait(lambda: not switch_port_up(lab, port), FAILOVER_TIMEOUT, f"{victim} fenced")

    def service_elsewhere() -> str | None:
        now = state(lab, survivors)
        return now.service_node if now and now.service_node in survivors else None

    new_primary = wait(service_elsewhere, FAILOVER_TIMEOUT, "the service on a survivor")
    assert holders(lab, VIP, survivors) == [new_primary]
    return new_primary


REGISTER_TIMEOUT = 30  # s: uac registers at Kamailio's start (its first timer run)
ONLINE = 4  # uac.reg_dump flags: registered


def wait_trunk_online(lab: Lab, node: str, registrar: Sipp) -> None:
    """The outbound registration TRUNK registered by the node's Kamailio (uac.reg_dump)."""
    uuid = TRUNK["l_uuid"]
    wait(lambda: int(uac_records(lab, node).get(uuid, {}).get("flags", 0)) & ONLINE,
         REGISTER_TIMEOUT, f"{uuid} registered by {node}: {registrar.describe()}")


def assert_taken_over_by(lab: Lab, node: str, sip: Sip, registrar: Sipp, contact_port: int,
                         registers_before: int, killed_at: float) -> None:
    """What the new active node serves from the database after a failover: the subscriber a
    commit added authenticates (a wrong password does not), and the outbound registration is
    registered again with the provider's registrar."""
    late = sip.register(user=LATE_USER, password=LATE_PASSWORD, ip=CALLER_IP,
                        contact_port=contact_port)
    assert late.rc == 0 and late.codes() == [401, 200], late.describe()
    wrong = sip.register(user=LATE_USER, password="not-" + LATE_PASSWORD, ip=CALLER_IP,
                         contact_port=contact_port)
    assert wrong.rc != 0 and wrong.codes()[:2] == [401, 401], wrong.describe()
    wait_trunk_online(lab, node, registrar)
    assert len(registrar.received("REGISTER")) > registers_before, registrar.describe()
    accepted = [item for item in registrar.messages()
                if item.sent and item.code == 200 and item.time >= killed_at]
    assert accepted, registrar.describe()


def kill_stack(lab: Lab, name: str) -> list[int]:
    """kill -9 of the node's cluster stack and engines in one go; returns the host PIDs."""
    victims = [pid for pid in lab.processes(name) if procs.comm(pid).startswith(STACK)]
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return victims


def wait(condition, timeout: float, what: str, poll: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s: {what}"
        time.sleep(poll)


# -- SIP agents in the web namespace ----------------------------------------------------------

_ports = count(6000, 10)


class NsSipp(Sipp):
    """A sipp agent run with ``ip netns exec`` in the lab's web namespace: ports are picked
    from a counter (the namespace is the test's own), everything else as harness.Sipp."""

    def __init__(self, lab: Lab, folder: Path, name: str, scenario: str, ip: str, *,
                 target: str = "", service: str = "s", keys: Mapping[str, str] | None = None,
                 args: Sequence[str] = (), trace: bool = True):
        self.folder, self.name, self.ip = folder, name, ip
        self.port = next(_ports)
        self.trace = folder / f"{name}.msg"
        self.stat = folder / f"{name}.csv"
        self.daemon: Daemon | None = None
        keys = {**self.DEFAULT_KEYS, "from_domain": VIP, "domain": VIP,
                "ruri": f"sip:{service}@{target}", "contact": f"sip:{service}@{ip}:{self.port}",
                **(keys or {})}
        key_args = [item for key, value in keys.items() for item in ("-key", key, value)]
        self.command = ["ip", "netns", "exec", lab.web_netns, "sipp",
                        *([target] if target else []), "-sf", str(SCENARIOS / scenario),
                        "-s", service, "-i", ip, "-p", str(self.port), "-cp",
                        str(self.port + 1), "-mi", ip, "-mp", str(self.port + 2), "-nostdin",
                        *(["-trace_msg", "-message_file", str(self.trace)] if trace else []),
                        "-trace_stat", "-stf", str(self.stat), "-fd", "1",
                        *key_args, *args]


@dataclass
class Sip:
    """The SIP side of the test: a Genesis on the private network, callers on the public."""

    lab: Lab
    folder: Path
    genesis: NsSipp | None = None

    def __post_init__(self) -> None:
        self.running: list[NsSipp] = []
        self.serial = count(1)

    def agent(self, scenario: str, ip: str, **kwargs: object) -> NsSipp:
        name = f"{next(self.serial):03d}-{Path(scenario).stem}"
        agent = NsSipp(self.lab, self.folder, name, scenario, ip, **kwargs)  # type: ignore
        self.running.append(agent)
        return agent

    def start_genesis(self) -> NsSipp:
        self.genesis = self.agent("uas.xml", GENESIS_IP, args=["-aa"]).start()
        time.sleep(0.5)
        assert self.genesis.alive(), self.genesis.describe()
        return self.genesis

    def options(self, timeout_ms: int = 1000) -> NsSipp:
        """One OPTIONS to the floating IP from the allowList side."""
        target = f"{VIP}:{SIP_PORT}"
        return self.agent("options.xml", CALLER_IP, target=target,
                          keys={"ua": "e2e-monitor", "ruri": f"sip:{target}"},
                          args=["-m", "1", "-recv_timeout", str(timeout_ms)]).run(timeout=30)

    def register(self, timeout_ms: int = 1000, *, user: str = GENESIS_USER,
                 password: str = GENESIS_PASSWORD, ip: str = GENESIS_IP,
                 contact_port: int | None = None) -> NsSipp:
        """A REGISTER through the floating IP with digest credentials (401, then 200): by
        default the Genesis as genesis_a-1, its Contact the Genesis agent's port."""
        if contact_port is None:
            assert self.genesis is not None
            contact_port = self.genesis.port
        return self.agent("register_auth.xml", ip, target=f"{VIP}:{SIP_PORT}", service=user,
                          keys={"contact_port": str(contact_port), "expires": "600"},
                          args=["-m", "1", "-recv_timeout", str(timeout_ms),
                                "-au", user, "-ap", password]).run(timeout=30)

    def start_phone(self) -> NsSipp:
        """A phone on the public side: a called party (uas.xml), registered with register()."""
        phone = self.agent("uas.xml", CALLER_IP, args=["-aa"]).start()
        time.sleep(0.5)
        assert phone.alive(), phone.describe()
        return phone

    def start_registrar(self) -> NsSipp:
        """A provider's registrar on the public side for TRUNK: 401 with realm "provider",
        then 200 for the right digest (registrar.xml); every REGISTER is in its trace."""
        registrar = self.agent("registrar.xml", CALLER_IP, keys={
            "user": TRUNK["auth_username"], "password": TRUNK["auth_password"],
            "realm": TRUNK["realm"], "expires": TRUNK["expires"]}).start()
        time.sleep(0.5)
        assert registrar.alive(), registrar.describe()
        return registrar

    def call_user(self, user: str, timeout_ms: int = 3000) -> NsSipp:
        """One call from the Genesis to ``user`` at the proxy's address (1.2.4 rule 1: the
        proxy looks the user up in usrloc and relays to its registered Contact)."""
        target = f"{VIP}:{SIP_PORT}"
        return self.agent("uac.xml", GENESIS_IP, target=target,
                          keys={"ruri": f"sip:{user}@{target}", "from_user": "genesis",
                                "from_domain": GENESIS_IP},
                          args=["-m", "1", "-d", "100", "-recv_timeout", str(timeout_ms),
                                "-max_retrans", "3"]).run(timeout=timeout_ms / 1000 + 30)

    def calls(self, number: int, rate: float, *, timeout_ms: int = 3000,
              start: bool = False) -> NsSipp:
        """``number`` calls at ``rate`` per second from the caller to the proxy's address,
        which routes them to Genesis (1.2.4 rule 3)."""
        target = f"{VIP}:{SIP_PORT}"
        agent = self.agent("uac.xml", CALLER_IP, target=target,
                           keys={"ruri": f"sip:5551234@{target}", "from_domain": CALLER_IP},
                           args=["-m", str(number), "-r", str(rate), "-rp", "1000",
                                 "-d", "100", "-recv_timeout", str(timeout_ms),
                                 "-max_retrans", "3"])
        if start:
            return agent.start()
        return agent.run(timeout=number / rate + timeout_ms / 1000 + 30)

    def stop(self) -> None:
        for agent in reversed(self.running):
            agent.stop()
        self.running.clear()
