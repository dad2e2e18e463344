"""fence_ether_snmp (genweb/agents/fence) against the lab switch's snmpd, run inside lab nodes.

The agent runs on one node, as Pacemaker's fenced would (never on its victim), with the nodes'
/usr/bin/python3 and Debian's python3-pysnmp4. Its victim's switch port is the node's *public*
port (pub-node<k>): shutting it cuts the node off that network exactly as a private-port fence
does, without breaking the Corosync ring that other lab tests of the session have running on
the private network. Every test puts every port back up, whatever happened.

The metadata test needs no lab, only root: crmsh reads a stonith agent's metadata from
/usr/sbin, so the agent is overlaid there inside a private mount namespace (the host's /usr/sbin
never changes) while crmsh loads the stonith resources cluster.py renders into a CIB file.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from genweb.commit import cluster
from genweb.commit.snapshot import Snapshot
from genweb.lab import Lab
from genweb.lab.lab import LabNode, Switch

pytestmark = pytest.mark.lab

FENCE_DIR = Path(__file__).resolve().parents[2] / "genweb" / "agents" / "fence"
AGENT = FENCE_DIR / "fence_ether_snmp"
SGX = FENCE_DIR / "fence_cisco_sgx00"
RUN_LIMIT = 10.0  # s: an agent run against the lab switch takes well under one
RESTORE_WITHIN = 10.0  # s for a port switched back on to carry traffic again


def system_pysnmp_missing() -> str | None:
    done = subprocess.run(["/usr/bin/python3", "-c", "import pysnmp.hlapi"], capture_output=True,
                          timeout=60)
    if done.returncode != 0:
        return "needs Debian's python3-pysnmp4 for /usr/bin/python3 (scripts/test.sh installs it)"
    return None


needs_pysnmp = pytest.mark.skipif(system_pysnmp_missing() is not None,
                                  reason=system_pysnmp_missing() or "")


# -- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def switch(lab: Lab) -> Iterator[Switch]:
    """The lab switch; afterwards every port is up again, whatever the test did to it."""
    yield lab.switch
    for node in lab.nodes:
        for port in (node.private_port, node.public_port):
            subprocess.run(["ip", "-n", lab.switch.netns, "link", "set", port, "up"],
                           check=True, capture_output=True, timeout=30)


NODE_AGENTS = "/run/genweb-test-agents"  # per-node tmpfs: the checkout may not be visible there
_copied: set[tuple[str, str, str]] = set()


def agent_in_node(lab: Lab, node: str, agent: Path) -> str:
    """Copy the agent (and fence_ether_snmp, which the wrappers run from their own folder) into
    the node, as install.sh --node would: a node sees its own /tmp, /root, /home and /run."""
    for source in dict.fromkeys((AGENT, agent)):
        if (lab.name, node, source.name) not in _copied:
            lab.exec(node, ["sh", "-c", 'mkdir -p "$1" && cat > "$1/$2" && chmod 755 "$1/$2"',
                            "sh", NODE_AGENTS, source.name], input=source.read_text())
            _copied.add((lab.name, node, source.name))
    return f"{NODE_AGENTS}/{agent.name}"


def fence(lab: Lab, on: LabNode, *args: str, stdin: str | None = None,
          agent: Path = AGENT) -> subprocess.CompletedProcess[str]:
    """The agent run inside a node (its shebang: the nodes' /usr/bin/python3), timed."""
    path = agent_in_node(lab, on.name, agent)
    started = time.monotonic()
    done = lab.exec(on.name, [path, *args], input=stdin if stdin is not None else "",
                    check=False, timeout=60)
    assert time.monotonic() - started < RUN_LIMIT, f"the agent took too long: {done.stderr}"
    return done


PROBE = """
import socket, sys
probe = socket.socket()
probe.settimeout(float(sys.argv[3]))
try:
    probe.connect((sys.argv[1], int(sys.argv[2])))
    print("open")
except ConnectionRefusedError:
    print("refused")
except OSError:
    print("unreachable")
"""


def reaches(lab: Lab, source: LabNode, address: str, timeout: float = 1.0) -> bool:
    """A bounded TCP connect from inside a node: an answer (even a refusal) means reachable."""
    done = lab.exec(source.name, ["python3", "-c", PROBE, address, "22", str(timeout)],
                    timeout=30)
    return done.stdout.strip() in ("open", "refused")


def wait_until(check: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.3)
    return True


def no_secret(done: subprocess.CompletedProcess[str], *secret_values: str) -> None:
    for value in secret_values:
        assert value not in done.stdout + done.stderr, "a secret was printed"


def v2c(switch: Switch, plug: str = "") -> list[str]:
    return ["-a", switch.ip, "-d", "2c", "-c", switch.community, *(["-n", plug] if plug else [])]


# -- off / on over SNMPv2c ------------------------------------------------------------------------


@needs_pysnmp
def test_v2c_off_cuts_the_node_off_and_on_brings_it_back(lab: Lab, switch: Switch) -> None:
    runner, peer, victim = lab.nodes
    args = v2c(switch, victim.public_port)
    assert reaches(lab, victim, peer.public_ip) and reaches(lab, peer, victim.public_ip)

    status = fence(lab, runner, *args, "-o", "status")
    assert (status.returncode, status.stdout) == (0, "Status: ON\n"), status.stderr

    off = fence(lab, runner, *args, "-o", "off")
    assert (off.returncode, off.stdout) == (0, "Success: Powered OFF\n"), off.stderr
    assert not reaches(lab, victim, peer.public_ip)
    assert not reaches(lab, peer, victim.public_ip)
    assert reaches(lab, victim, peer.private_ip), "only the fenced port may go down"

    status = fence(lab, runner, *args, "-o", "status")
    assert (status.returncode, status.stdout) == (2, "Status: OFF\n")
    again = fence(lab, runner, *args, "-o", "off")
    assert (again.returncode, again.stdout) == (0, "Success: Already OFF\n")

    on = fence(lab, runner, *args, "-o", "on")
    assert (on.returncode, on.stdout) == (0, "Success: Powered ON\n"), on.stderr
    assert wait_until(lambda: reaches(lab, victim, peer.public_ip), RESTORE_WITHIN)
    assert fence(lab, runner, *args, "-o", "status").returncode == 0
    for done in (status, off, on):
        no_secret(done, switch.community)


# -- off / on over SNMPv3 authPriv, as fenced passes the CIB's parameters -------------------------


def fence_record(switch: Switch, victim: LabNode) -> dict[str, str]:
    return {"fenceName": f"{victim.name}_pub", "fenceNodeName": victim.name,
            "fenceAgent": "fence_ether_snmp", "fenceDevicePlug": victim.public_port,
            "fenceDeviceIP": switch.ip, "fenceSnmpVersion": "3", "fenceSnmpUser": switch.v3_user,
            "fenceSnmpAuthProt": "SHA", "fenceSnmpAuthPass": switch.v3_auth,
            "fenceSnmpPrivProt": "AES", "fenceSnmpPrivPass": switch.v3_priv}


def stdin_params(fence_row: dict[str, str]) -> dict[str, str]:
    """The instance attributes cluster.py gives the stonith resource, minus the pcmk_* ones
    (fenced keeps those for itself)."""
    return {"ip": fence_row["fenceDeviceIP"], "ipport": fence_row["fenceDeviceIPPort"],
            "plug": fence_row["fenceDevicePlug"], **cluster.snmp_params(fence_row)}


def fenced_stdin(params: dict[str, str], action: str) -> str:
    # what fenced writes: the device's parameters, the action, and its own node's name
    return "".join(f"{name}={value}\n" for name, value in {
        **params, "action": action, "nodename": "node1"}.items())


@pytest.fixture
def secret_files(lab: Lab, switch: Switch) -> Iterator[dict[str, str]]:
    """The v3 fence's pass phrases in root-only files on node1, where cluster.py puts them
    (/etc of a lab node is its own copy-on-write layer)."""
    victim = lab.nodes[1]
    snap = Snapshot.build(records={"haNodes": [{"nodeID": str(n.index), "nodeName": n.name,
                                                "privateIP": n.private_ip} for n in lab.nodes],
                                   "fences": [fence_record(switch, victim)]})
    row = snap.rows("fences")[0]
    files = cluster.fence_secrets(row)
    for path, phrase in files.values():
        lab.exec("node1", ["sh", "-c", 'umask 077 && mkdir -p "${1%/*}" && cat > "$1"', "sh",
                           path], input=phrase)
    yield row
    lab.exec("node1", ["rm", "-f", *(path for path, _ in files.values())])


@needs_pysnmp
def test_v3_authpriv_from_fenced_stdin_with_secret_files(lab: Lab, switch: Switch,
                                                         secret_files: dict[str, str]) -> None:
    runner, victim, peer = lab.nodes
    params = stdin_params(secret_files)
    assert params["snmp_sec_level"] == "authPriv"
    assert params["password_script"].startswith("/bin/cat /etc/genproxy/fence-secrets/")
    listing = lab.exec(runner.name, ["stat", "-c", "%a %U", params["password_script"].split()[1]])
    assert listing.stdout.split() == ["600", "root"]

    off = fence(lab, runner, stdin=fenced_stdin(params, "off"))
    assert (off.returncode, off.stdout) == (0, "Success: Powered OFF\n"), off.stderr
    assert not reaches(lab, victim, peer.public_ip)
    status = fence(lab, runner, stdin=fenced_stdin(params, "status"))
    assert (status.returncode, status.stdout) == (2, "Status: OFF\n"), status.stderr

    # Pacemaker's reboot is an off (pcmk_reboot_action=off); the agent's own reboot is off+on.
    reboot = fence(lab, runner, stdin=fenced_stdin(params, "reboot"))
    assert (reboot.returncode, reboot.stdout) == (0, "Success: Rebooted\n"), reboot.stderr
    assert wait_until(lambda: reaches(lab, victim, peer.public_ip), RESTORE_WITHIN)

    off = fence(lab, runner, stdin=fenced_stdin(params, "off"))
    on = fence(lab, runner, stdin=fenced_stdin(params, "on"))
    assert (on.returncode, on.stdout) == (0, "Success: Powered ON\n"), on.stderr
    assert wait_until(lambda: reaches(lab, victim, peer.public_ip), RESTORE_WITHIN)
    for done in (off, status, reboot, on):
        assert "Ignoring unknown option" not in done.stderr  # every CIB parameter is known
        no_secret(done, switch.v3_auth, switch.v3_priv)


@needs_pysnmp
def test_v3_on_the_command_line(lab: Lab, switch: Switch) -> None:
    runner, victim = lab.nodes[0], lab.nodes[2]
    args = ["-a", switch.ip, "-u", "161", "-d", "3", "-l", switch.v3_user, "-b", "SHA",
            "-B", "AES", "-p", switch.v3_auth, "-P", switch.v3_priv, "-n", victim.public_port]
    off = fence(lab, runner, *args, "-o", "off")
    assert (off.returncode, off.stdout) == (0, "Success: Powered OFF\n"), off.stderr
    assert fence(lab, runner, *args, "-o", "status").returncode == 2
    on = fence(lab, runner, *args, "-o", "on")
    assert (on.returncode, on.stdout) == (0, "Success: Powered ON\n"), on.stderr


# -- list, monitor, plugs -------------------------------------------------------------------------


def switch_interfaces(switch: Switch) -> list[str]:
    links = json.loads(subprocess.run(["ip", "-n", switch.netns, "-j", "link", "show"],
                                      capture_output=True, text=True, check=True).stdout)
    return [f"{link['ifindex']},{link['ifname']}" for link in sorted(links,
                                                                     key=lambda x: x["ifindex"])]


@needs_pysnmp
def test_list_shows_every_switch_port_and_plugs_resolve(lab: Lab, switch: Switch) -> None:
    runner = lab.nodes[0]
    listed = fence(lab, runner, *v2c(switch), "-o", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == switch_interfaces(switch)
    for node in lab.nodes:
        assert any(line.endswith(f",{node.private_port}") for line in listed.stdout.splitlines())
        assert any(line.endswith(f",{node.public_port}") for line in listed.stdout.splitlines())

    states = fence(lab, runner, *v2c(switch), "-o", "list-status")
    assert all(line.endswith(",ON") for line in states.stdout.splitlines()), states.stdout

    monitor = fence(lab, runner, *v2c(switch), "-o", "monitor")
    assert (monitor.returncode, monitor.stdout) == (0, "")

    victim = lab.nodes[2]
    index = next(line.split(",")[0] for line in listed.stdout.splitlines()
                 if line.endswith(f",{victim.public_port}"))
    for plug in (index, victim.public_port.upper()):  # ifIndex, or the name in any case
        status = fence(lab, runner, *v2c(switch, plug), "-o", "status")
        assert (status.returncode, status.stdout) == (0, "Status: ON\n"), status.stderr
    unknown = fence(lab, runner, *v2c(switch, "no-such-port"), "-o", "status")
    assert unknown.returncode == 1
    assert "plug is not available" in unknown.stderr and "no-such-port" in unknown.stderr

    sgx = fence(lab, runner, *v2c(switch, victim.public_port), "-o", "status", agent=SGX)
    assert (sgx.returncode, sgx.stdout) == (0, "Status: ON\n"), sgx.stderr


# -- failures -------------------------------------------------------------------------------------


@needs_pysnmp
def test_wrong_credentials_fail_clearly_without_secrets(lab: Lab, switch: Switch) -> None:
    runner, victim = lab.nodes[0], lab.nodes[2]
    wrong = "wrong-" + secrets.token_hex(6)
    started = time.monotonic()
    done = fence(lab, runner, "-a", switch.ip, "-c", wrong, "-n", victim.public_port, "-o", "off")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("Failed: Connection timed out: no answer from the switch's "
                                  f"SNMP agent at {switch.ip}:161"), done.stderr
    assert "wrong SNMP community" in done.stderr
    assert time.monotonic() - started < 6  # 1 s per try, 3 tries
    no_secret(done, wrong, switch.community)

    done = fence(lab, runner, "-a", switch.ip, "-d", "3", "-l", switch.v3_user, "-b", "SHA",
                 "-B", "AES", "-p", wrong, "-P", switch.v3_priv, "-n", victim.public_port,
                 "-o", "off")
    assert done.returncode == 1
    assert "refused the SNMPv3 credentials (WrongDigest)" in done.stderr, done.stderr
    no_secret(done, wrong, switch.v3_priv)

    # the read-only community answers, but may not switch ports
    done = fence(lab, runner, "-a", switch.ip, "-c", "public", "-n", victim.public_port,
                 "-o", "off")
    assert done.returncode == 1
    assert "refused the request" in done.stderr and "write access" in done.stderr, done.stderr
    status = fence(lab, runner, *v2c(switch, victim.public_port), "-o", "status")
    assert status.stdout == "Status: ON\n"


# -- the pysnmp 6.2+/7 API (the venv's pysnmp), in a node's network namespace -------------------


def venv_pysnmp_asyncio() -> bool:
    try:
        import pysnmp.hlapi.v3arch.asyncio  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not venv_pysnmp_asyncio(), reason="the venv's pysnmp has no asyncio API")
def test_newer_pysnmp_api_switches_the_port_too(lab: Lab, switch: Switch) -> None:
    runner, peer, victim = lab.nodes

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", runner.netns, sys.executable, str(AGENT),
                               *v2c(switch, victim.public_port), *args],
                              capture_output=True, text=True, timeout=60)

    off = run("-o", "off")
    assert (off.returncode, off.stdout, off.stderr) == (0, "Success: Powered OFF\n", "")
    assert not reaches(lab, victim, peer.public_ip)
    assert run("-o", "status").returncode == 2
    on = run("-o", "on")
    assert (on.returncode, on.stdout, on.stderr) == (0, "Success: Powered ON\n", "")
    assert wait_until(lambda: reaches(lab, victim, peer.public_ip), RESTORE_WITHIN)


# -- without the lab: options, metadata, crmsh -----------------------------------------------------


def local(*args: str, stdin: str = "", agent: Path = AGENT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(agent), *args], input=stdin, capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["-o", "validate-all", "-a", "192.0.2.1", "-n", "p1"], "", "enter the SNMP community"),
    (["-o", "validate-all", "-a", "192.0.2.1", "-c", "x"], "", "plug number"),
    (["-o", "explode", "-a", "192.0.2.1", "-c", "x", "-n", "p"], "", "Unrecognised action"),
    (["-o", "off", "-a", "192.0.2.1", "-c", "x", "-n", "p", "-d", "4"], "", "valid choice"),
    (["--no-such-option"], "", "not recognized"),
    ([], "action=validate-all\nip=192.0.2.1\nport=p1\nsnmp_version=3\nusername=u\n"
         "password=secret-auth\nsnmp_sec_level=authPriv\n", "privacy pass phrase"),
])
def test_bad_options_fail_with_a_reason(args: list[str], stdin: str, message: str) -> None:
    done = local(*args, stdin=stdin)
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert "secret-auth" not in done.stderr


@needs_pysnmp
def test_a_pass_phrase_pysnmp_refuses_is_reported_without_it() -> None:
    """Refused before anything is sent (the address is loopback all the same)."""
    done = local("-a", "127.0.0.1", "-u", "9", "-d", "3", "-l", "u", "-b", "SHA", "-p", "short1",
                 "-o", "status", "-n", "1", "--snmp-retries", "0")
    assert done.returncode == 1, done.stderr
    assert done.stderr == "Failed: SNMP error talking to 127.0.0.1:9 (WrongValueError)\n"


def test_validate_all_and_stdin_aliases() -> None:
    assert local("-o", "validate-all", "-a", "192.0.2.1", "-c", "x", "-n", "p1").returncode == 0
    done = local(stdin="# fenced's lines\naction=validate-all\nipaddr=\"192.0.2.1\"\nport=p1\n"
                       "login=u\npasswd=secret-auth\nsnmp_version=3\nnodename=node1\n"
                       "snmp_auth_prot=SHA\nbogus=secret-value\n")
    assert done.returncode == 0, done.stderr
    assert "Ignoring unknown option 'bogus'" in done.stderr and "secret-value" not in done.stderr
    assert "nodename" not in done.stderr


REQUIRED_PARAMETERS = ("action", "ip", "ipport", "plug", "port", "snmp_version", "community",
                       "username", "password", "password_script", "snmp_auth_prot",
                       "snmp_sec_level", "snmp_priv_prot", "snmp_priv_passwd",
                       "snmp_priv_passwd_script", "delay", "power_timeout")


@pytest.mark.parametrize("agent", [AGENT, SGX], ids=lambda p: p.name)
def test_metadata_is_fence_agent_xml(agent: Path) -> None:
    by_option, by_stdin = local("-o", "metadata", agent=agent), local(stdin="action=metadata\n",
                                                                      agent=agent)
    assert by_option.returncode == by_stdin.returncode == 0
    assert by_option.stdout == by_stdin.stdout
    root = ET.fromstring(by_option.stdout)
    assert root.tag == "resource-agent" and root.get("name") == agent.name
    assert root.findtext("longdesc") and root.get("shortdesc")
    names = {p.get("name"): p for p in root.iter("parameter")}
    assert set(REQUIRED_PARAMETERS) <= set(names)
    assert names["port"].get("deprecated") == "1" and names["plug"].get("obsoletes") == "port"
    assert names["snmp_version"].find("content").get("default") == "2c"
    actions = {a.get("name"): a for a in root.iter("action")}
    assert {"on", "off", "reboot", "status", "list", "monitor", "metadata",
            "validate-all"} <= set(actions)
    assert actions["on"].get("automatic") == "0"  # UnFence is the operator's (6.1.4)


CRMSH_TOOLS = ("crm", "cibadmin", "crm_verify", "crm_simulate", "crm_resource", "unshare",
               "mount")
OVERLAY = """set -e
mount -t tmpfs tmpfs "$DIR/ovl"
mkdir "$DIR/ovl/up" "$DIR/ovl/work"
cp "$AGENT" "$DIR/ovl/up/fence_ether_snmp"
cp "$SGX" "$DIR/ovl/up/fence_cisco_sgx00"
mount -t overlay overlay -o "lowerdir=/usr/sbin,upperdir=$DIR/ovl/up,workdir=$DIR/ovl/work" /usr/sbin
crm_resource --show-metadata stonith:fence_ether_snmp > "$DIR/metadata.xml"
cibadmin --empty > "$DIR/cib.xml"
for node in node1 node2; do
  cibadmin --create -o nodes -X "<node id=\\"${node#node}\\" uname=\\"$node\\"/>"
done
crm -D plain configure load update "$DIR/fences.crm"
# crm_verify judges against a status: the cluster quorate with both nodes online
crm_simulate --xml-file "$DIR/cib.xml" --quorum true --node-up node1 --node-up node2 \
  --save-output "$DIR/online.xml" > /dev/null
crm_verify --xml-file "$DIR/online.xml" -V
"""


def crmsh_in_private_mounts(folder: Path, script: str) -> subprocess.CompletedProcess[str]:
    """crmsh with fence_ether_snmp in /usr/sbin of a private mount namespace only."""
    (folder / "ovl").mkdir(parents=True)
    (folder / "fences.crm").write_text(script)
    env = {**os.environ, "DIR": str(folder), "AGENT": str(AGENT), "SGX": str(SGX), "HOME": str(folder),
           "XDG_CACHE_HOME": str(folder / "cache"), "XDG_CONFIG_HOME": str(folder / "config"),
           "CIB_file": str(folder / "cib.xml")}
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", OVERLAY],
                          capture_output=True, text=True, env=env, timeout=180)


@pytest.mark.skipif(os.geteuid() != 0 or not all(shutil.which(t) for t in CRMSH_TOOLS),
                    reason="needs root (a private mount namespace), crmsh and pacemaker")
def test_crmsh_accepts_the_stonith_resources_cluster_renders(tmp_path: Path) -> None:
    nodes = [{"nodeID": "1", "nodeName": "node1", "privateIP": "198.18.0.11"},
             {"nodeID": "2", "nodeName": "node2", "privateIP": "198.18.0.12"}]
    v2 = {"fenceName": "net1", "fenceNodeName": "node1", "fenceAgent": "fence_ether_snmp",
          "fenceDevicePlug": "sw-node1", "fenceDeviceIP": "198.18.0.2", "fenceSnmpUser": "rw"}
    v3 = {**v2, "fenceName": "net2", "fenceNodeName": "node2", "fenceAgent": "fence_cisco_sgx00",
          "fenceDevicePlug": "8", "fenceSnmpVersion": "3", "fenceSnmpUser": "admin",
          "fenceSnmpAuthProt": "SHA", "fenceSnmpAuthPass": "auth-pass-1",
          "fenceSnmpPrivProt": "AES", "fenceSnmpPrivPass": "priv-pass-1", "fencePriority": "2"}
    snap = Snapshot.build(records={"haNodes": nodes, "fences": [v2, v3]})
    script = ("property cib-bootstrap-options: stonith-enabled=true\n"
              + "\n".join(obj.text for obj in cluster.fencing(snap)) + "\n")
    done = crmsh_in_private_mounts(tmp_path / "good", script)
    complaints = [line for line in done.stderr.splitlines()
                  if line.strip() and "lack of quorum" not in line]
    assert done.returncode == 0 and complaints == [], done.stderr + done.stdout
    assert ET.parse(tmp_path / "good" / "metadata.xml").getroot().get("name") == "fence_ether_snmp"
    cib = ET.parse(tmp_path / "good" / "cib.xml").getroot()
    agents = {p.get("id"): p.get("type") for p in cib.iter("primitive")}
    assert agents == {"stonith_net1": "fence_ether_snmp", "stonith_net2": "fence_cisco_sgx00"}

    # a parameter the agent does not have is refused: crmsh really read our metadata
    bad = crmsh_in_private_mounts(tmp_path / "bad", script.replace(
        'plug="sw-node1"', 'plug="sw-node1" switch_model="x"'))
    assert bad.returncode != 0 and 'parameter "switch_model" is not known' in bad.stderr
