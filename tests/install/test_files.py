"""The install files on their own, without building a root: shell checks, sudoers syntax, and
the contract between the sudo rights of deploy/sudoers.genweb and what the commit sends.

The contract test renders full configurations and checks that every file the commit would
write (Node.write_file) and read (Node.read_file) is allowed by the sudoers rules, matched as
sudo matches them (the arguments joined by spaces, against the rule's regular expression). A
renderer that starts writing a new path fails here until the rule names it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from genweb.commit.render import render
from genweb.commit.secrets import MAKERS
from genweb.commit.snapshot import Snapshot
from genweb.nodes import WRITE_SCRIPT

from .rootfs import CHECKOUT

pytestmark = pytest.mark.install

SUDOERS = CHECKOUT / "deploy" / "sudoers.genweb"
SHELL_FILES = ["install.sh", "deploy/genweb.init", "deploy/genweb-command"]
AGENTS = CHECKOUT / "genweb" / "agents"


def rule(alias: str, command: str) -> re.Pattern[str]:
    """The argument regex of ``command`` in Cmnd_Alias ``alias`` (sudoers escapes undone)."""
    text = SUDOERS.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if line.startswith(f"Cmnd_Alias {alias} ="):
            for entry in re.split(r",\s+(?=/)", line.split("=", 1)[1].strip()):
                path, _, args = entry.partition(" ")
                if path == command and args.startswith("^"):
                    return re.compile(args.replace("\\#", "#"))
    raise AssertionError(f"no {command} ^…$ rule in {alias}")


def write_args(path: str, mode: int = 0o644, owner: str = "root", group: str = "root") -> str:
    """What sudo matches for Node.write_file: the arguments after the command, space-joined."""
    return " ".join(["-c", WRITE_SCRIPT, "genweb-write", path, f"{mode:04o}", owner, group])


def snapshots() -> list[Snapshot]:
    generated = {name: make() for name, make in MAKERS.items()}

    def node(number: int) -> dict[str, str]:
        return {"nodeID": str(number), "nodeName": f"node{number}",
                "privateIP": f"198.18.0.{10 + number}", "publicIP": f"198.19.0.{10 + number}"}

    def fence(name: str, victim: int) -> dict[str, str]:
        return {"fenceName": name, "fenceNodeName": f"node{victim}",
                "fenceAgent": "fence_tripplite_snmp", "fenceDevicePlug": str(victim),
                "fenceDeviceIP": "198.18.0.2", "fenceSnmpVersion": "3", "fenceSnmpUser": "pdu",
                "fenceSnmpAuthProt": "SHA", "fenceSnmpAuthPass": "auth-pass-1",
                "fenceSnmpPrivProt": "AES", "fenceSnmpPrivPass": "priv-pass-1"}

    system = {"privateIP": "198.18.0.100", "privateSubnet": "24", "privatePing": "198.18.0.1",
              "publicIP": "198.19.0.100", "publicPing": "198.19.0.1"}
    records = {"haNodes": [node(1), node(2), node(3)],
               "fences": [fence("pdu_1", 1), fence("pdu-2", 2)],
               "tlsProxyConfigs": [{"tlsDomain": "198.18.0.100:5061", "tlsRole": "server",
                                    "tlsPrivateKey": "proxy.key", "tlsCertificate": "proxy.crt"}],
               "notifies": [{"notifyURL": "https://198.18.0.60/hook"}]}
    return [Snapshot.build(settings={"systemConfig": system, "proxyConfig": {"enableTLS": "Yes"},
                                     "databaseConfig": database},
                           records=records, generated=generated)
            for database in ({"dbEngine": "MySQL"},
                             {"dbEngine": "MS SQL", "dbHost": "198.18.0.50"})]


@pytest.mark.parametrize("name", SHELL_FILES)
def test_shell_scripts_are_shellcheck_clean(name):
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed (apt-get install shellcheck; scripts/test.sh does)")
    done = subprocess.run(["shellcheck", "-x", str(CHECKOUT / name)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout


def test_sudoers_file_parses():
    visudo = shutil.which("visudo") or "/usr/sbin/visudo"
    if not Path(visudo).exists():
        pytest.skip("visudo is not installed (package sudo)")
    done = subprocess.run([visudo, "-cf", str(SUDOERS)], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_rendered_file_may_be_written_and_read_through_sudo():
    write = rule("GENWEB_WRITE", "/usr/bin/sh")
    read = rule("GENWEB_READ", "/usr/bin/cat")
    checked = set()
    for snapshot in snapshots():
        for files in render(snapshot).files.values():
            for file in files:
                args = write_args(file.path, file.mode, file.owner, file.group)
                assert write.fullmatch(args), f"sudoers refuses to write {file}"
                assert read.fullmatch(f"-- {file.path}"), f"sudoers refuses to read {file.path}"
                checked.add(file.path)
    assert {"/etc/kamailio/kamailio.cfg", "/etc/corosync/corosync.conf", "/etc/hosts",
            "/etc/genproxy/fence-secrets/pdu_1.auth"} <= checked


def test_the_project_agents_may_be_installed_through_sudo():
    write = rule("GENWEB_WRITE", "/usr/bin/sh")
    ocf = sorted((AGENTS / "ocf").glob("*")) if (AGENTS / "ocf").is_dir() else []
    for agent in ocf:
        path = f"/usr/lib/ocf/resource.d/amtelco/{agent.name}"
        assert write.fullmatch(write_args(path, 0o755)), path
    for path in ("/usr/sbin/fence_ether_snmp", "/usr/sbin/fence_cisco_sgx00",
                 "/usr/share/pacemaker/alerts/genproxy_alert", "/usr/lib/genproxy/genproxy_alert"):
        assert write.fullmatch(write_args(path, 0o755)), path


def test_the_commit_code_stays_within_the_sudo_rules():
    """The commit's own lists (genweb/commit, another issue's code, so each name is looked up
    only where it exists): agents it installs, files it writes besides the rendered ones,
    directories it makes."""
    steps = pytest.importorskip("genweb.commit.steps")
    write = rule("GENWEB_WRITE", "/usr/bin/sh")
    dirs = rule("GENWEB_DIRS", "/usr/bin/install")
    for file in steps.agent_files():
        assert write.fullmatch(write_args(file.path, file.mode, file.owner, file.group)), file.path
    extra: list[tuple[str, int, str, str]] = []
    if hasattr(steps, "CRM_SCRIPT"):
        extra.append((steps.CRM_SCRIPT, 0o600, "root", "root"))
    verify = pytest.importorskip("genweb.commit.verify")
    if hasattr(verify, "VERIFY_CFG"):
        extra.append((verify.VERIFY_CFG, 0o640, "root", "kamailio"))
    if hasattr(verify, "VERIFY_CRM"):
        extra.append((verify.VERIFY_CRM, 0o600, "root", "root"))
    alerts = pytest.importorskip("genweb.commit.alerts")
    if hasattr(alerts, "DESTINATIONS_FILE"):
        extra.append((alerts.DESTINATIONS_FILE, alerts.DESTINATIONS_MODE, "root",
                      alerts.DESTINATIONS_GROUP))
    if hasattr(alerts, "ALERT_AGENT"):
        extra.append((alerts.ALERT_AGENT, 0o755, "root", "root"))
    for path, mode, owner, group in extra:
        assert write.fullmatch(write_args(path, mode, owner, group)), path
    for directory, (mode, group) in getattr(steps, "MANAGED_DIRS", {}).items():
        args = f"-d -m {mode} -o root -g {group} {directory}"
        assert dirs.fullmatch(args), args


@pytest.mark.parametrize("args", [
    write_args("/etc/shadow"),
    write_args("/etc/kamailio/../shadow"),
    write_args("/etc/kamailio/.hidden"),
    write_args("/etc/kamailio/sub/dir.cfg"),
    write_args("/etc/sudoers.d/genweb", 0o440),
    write_args("/usr/sbin/fence_ifmib", 0o755),          # Debian's agents stay Debian's
    write_args("/etc/kamailio/kamailio.cfg", 0o640, "genweb", "kamailio"),
    write_args("/etc/kamailio/kamailio.cfg", 0o4755),
    write_args("/etc/kamailio/kamailio.cfg") + " extra",
    write_args("/etc/kamailio/kamailio.cfg two"),
    " ".join(["-c", WRITE_SCRIPT + " ; id", "genweb-write", "/etc/hosts", "0644", "root", "root"]),
    " ".join(["-c", "id", "genweb-write", "/etc/hosts", "0644", "root", "root"]),
])
def test_sudo_refuses_writes_outside_the_contract(args):
    assert not rule("GENWEB_WRITE", "/usr/bin/sh").fullmatch(args)


def test_sudo_reads_only_configuration_files():
    read = rule("GENWEB_READ", "/usr/bin/cat")
    assert read.fullmatch("-- /etc/kamailio/tls.cfg")
    for refused in ("-- /etc/shadow", "/etc/hosts", "-- /etc/ssl/private/ssl-cert-snakeoil.key",
                    "-- /root/.ssh/id_ed25519", "-- /etc/kamailio/../shadow"):
        assert not read.fullmatch(refused), refused


def test_the_systemd_unit_passes_systemd_analyze(tmp_path: Path) -> None:
    """The unit is checked offline; the only complaint allowed is the gunicorn path, which exists
    only after install.sh has built /opt/genweb/venv."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / "genweb.service"
    unit.write_text((CHECKOUT / "deploy" / "genweb.service").read_text())
    checked = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                             text=True, timeout=60)
    complaints = [line for line in (checked.stdout + checked.stderr).splitlines()
                  if line.strip() and "/opt/genweb/venv/bin/gunicorn" not in line]
    assert complaints == []
