"""What each lab node and the switch are made of on disk (prepared on the host before start).

A node sees the host's /etc, /var and /usr through copy-on-write overlays (packages and their
configuration are there, the node's changes stay in the lab's state dir: a commit that installs
agents into /usr/lib/ocf or /usr/sbin writes into the node, never into the host), the cluster's
state and logs in fresh directories, and its own /home, /root, /tmp, /dev/shm and /run.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .topology import NodeSpec

OVERLAYS = ("/etc", "/var", "/usr")
# Fresh per node, with the host's sub-directories (owners and modes) but none of its files:
# cluster state must start empty, and logs must be the node's own.
SKELETONS = ("/var/log", "/var/lib/pacemaker", "/var/lib/corosync")
# Fresh and empty per node (a database must not start from the host's files).
EMPTIES = ("/var/lib/mysql", "/var/lib/redis")
SYSTEMCTL = "/usr/bin/systemctl"
TMPFS = (("/tmp", "mode=1777,size=256m"), ("/dev/shm", "mode=1777,size=256m"))


def package_file(name: str) -> Path:
    """A file shipped beside this module (node-init.sh, the systemctl stand-in)."""
    return Path(str(resources.files("genweb.lab").joinpath(name)))


def mount_plan(node_dir: Path, shim: Path) -> list[str]:
    """Lines for node-init.sh, in order; /run last because it hides the state dir."""
    lines = [f"overlay {lower} {node_dir / (lower[1:] + '.upper')} "
             f"{node_dir / (lower[1:] + '.work')}" for lower in OVERLAYS]
    lines += [f"bind {node_dir / 'fresh' / path[1:]} {path}"
              for path in SKELETONS + EMPTIES if Path(path).is_dir()]
    lines += [f"bind {node_dir / 'home'} /home", f"bind {node_dir / 'root'} /root"]
    if Path(SYSTEMCTL).exists():
        lines.append(f"robind {shim} {SYSTEMCTL}")
    else:  # no systemd package: a bind needs an existing target, so shadow /usr/local/sbin
        lines.append(f"robind {shim.parent / 'bin'} /usr/local/sbin")
    lines += [f"tmpfs {path} {options}" for path, options in TMPFS]
    lines.append("tmpfs /run mode=0755,size=64m")
    return lines


def prepare_node(node_dir: Path, node: NodeSpec, hosts: str, sshd_config: str,
                 host_key: Path, shim: Path, root_ssh: RootSSH | None,
                 sudoers: str = "all") -> None:
    """A fresh node directory: overlay layers, fresh dirs, pre-seeded /etc files, mount plan."""
    if node_dir.exists():
        shutil.rmtree(node_dir)
    for lower in OVERLAYS:
        for layer in ("upper", "work"):
            (node_dir / f"{lower[1:]}.{layer}").mkdir(parents=True)
    for path in SKELETONS:
        if Path(path).is_dir():
            copy_skeleton(Path(path), node_dir / "fresh" / path[1:])
    for path in EMPTIES:
        if Path(path).is_dir():
            copy_skeleton(Path(path), node_dir / "fresh" / path[1:], depth=0)
    (node_dir / "home").mkdir(mode=0o755)
    (node_dir / "root").mkdir(mode=0o700)
    if root_ssh is not None:
        root_ssh.install(node_dir / "root" / ".ssh", node.name)
    upper = node_dir / "etc.upper"
    seed(upper, "/etc", "hostname", f"{node.name}\n", 0o644)
    seed(upper, "/etc", "hosts", hosts, 0o644)
    seed(upper, "/etc", "ssh/sshd_config", sshd_config, 0o644)
    seed(upper, "/etc", "ssh/ssh_host_ed25519_key", host_key.read_text(), 0o600)
    seed(upper, "/etc", "ssh/ssh_host_ed25519_key.pub",
         host_key.with_suffix(".pub").read_text(), 0o644)
    seed(upper, "/etc", "sudoers.d/genweb", sudoers_text(sudoers), 0o440)
    (node_dir / "hostname").write_text(node.name)
    (node_dir / "mounts").write_text("\n".join(mount_plan(node_dir, shim)) + "\n")


SUDOERS_ALL = "genweb ALL=(ALL:ALL) NOPASSWD: ALL\n"
# What install.sh --node installs as /etc/sudoers.d/genweb: the commands the commit may send.
SUDOERS_CONTRACT = Path(__file__).resolve().parents[2] / "deploy" / "sudoers.genweb"


def sudoers_text(kind: str) -> str:
    """"all": genweb may run anything as root (handy for poking at nodes by hand);
    "contract": deploy/sudoers.genweb, so a lab run proves every command the commit sends is
    one real nodes allow."""
    if kind == "all":
        return SUDOERS_ALL
    if kind == "contract":
        return SUDOERS_CONTRACT.read_text()
    raise ValueError(f"sudoers must be 'all' or 'contract', not {kind!r}")


# What install.sh --node does on a node beyond packages, sudoers and sshd (prepare_private_dirs):
# the genproxy group that may read the TLS keys, Kamailio in it, genweb's directories. Kept in
# step with install.sh by tests/lab/test_plan.py.
NODE_PREPARATION = """set -e
getent group genproxy >/dev/null || groupadd --system genproxy
install -d -m 0750 -o root -g genproxy /etc/ssl/genproxy_pvt
if id kamailio >/dev/null 2>&1; then usermod -a -G genproxy kamailio; fi
install -d -m 0755 -o root -g root /etc/genproxy
install -d -m 0700 -o root -g root /etc/genproxy/fence-secrets
"""


@dataclass(frozen=True)
class RootSSH:
    """Root SSH between the nodes, as `crm cluster init/join` leaves it on real nodes.

    crmsh 4.4's `crm cluster start|stop` reaches even the local node through parallax (ssh
    root@NODE), so the lab's nodes trust each other's root keys like bootstrapped nodes do.
    """

    keys: dict[str, Path]          # node name -> its root private key
    known_hosts: str               # every node by name and address

    def install(self, ssh_dir: Path, node: str) -> None:
        ssh_dir.mkdir(mode=0o700, parents=True)
        shutil.copyfile(self.keys[node], ssh_dir / "id_ed25519")
        os.chmod(ssh_dir / "id_ed25519", 0o600)
        shutil.copyfile(self.keys[node].with_suffix(".pub"), ssh_dir / "id_ed25519.pub")
        authorized = "".join(key.with_suffix(".pub").read_text() for key in self.keys.values())
        (ssh_dir / "authorized_keys").write_text(authorized)
        os.chmod(ssh_dir / "authorized_keys", 0o600)
        (ssh_dir / "known_hosts").write_text(self.known_hosts)


def seed(upper: Path, lower: str, relative: str, content: str, mode: int) -> None:
    """Put a file into an overlay's upper layer; its directories copy the lower ones' modes."""
    target = upper / relative
    mirror_dirs(upper, Path(lower), Path(relative).parent)
    target.write_text(content)
    os.chmod(target, mode)


def mirror_dirs(upper: Path, lower: Path, relative: Path) -> None:
    """Create upper/relative with each component's owner and mode taken from lower/relative."""
    here_upper, here_lower = upper, lower
    for part in relative.parts:
        here_upper, here_lower = here_upper / part, here_lower / part
        if not here_upper.exists():
            here_upper.mkdir()
            copy_owner_mode(here_lower, here_upper)


def copy_owner_mode(source: Path, target: Path) -> None:
    if source.exists():
        info = source.stat()
        os.chown(target, info.st_uid, info.st_gid)
        os.chmod(target, stat.S_IMODE(info.st_mode))


def copy_skeleton(source: Path, target: Path, depth: int = 8) -> None:
    """The directory tree of source (owners, modes), without any file."""
    target.mkdir(parents=True, exist_ok=True)
    copy_owner_mode(source, target)
    if depth <= 0:
        return
    for entry in source.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            copy_skeleton(entry, target / entry.name, depth - 1)


def sshd_config(listen: str, password_auth: bool, root_ssh: bool) -> str:
    """The node's sshd: on its private address, keys always, passwords for genweb if asked.

    Without password_auth it has the manual's block (5.2.5) that keeps genweb to keys only.
    """
    config = [
        f"ListenAddress {listen}", "Port 22", "HostKey /etc/ssh/ssh_host_ed25519_key",
        f"PermitRootLogin {'prohibit-password' if root_ssh else 'no'}", "PubkeyAuthentication yes", "PasswordAuthentication yes",
        "KbdInteractiveAuthentication no", "UsePAM yes", "PidFile /run/sshd.pid",
        "AcceptEnv LANG LC_*", "Subsystem sftp /usr/lib/openssh/sftp-server",
    ]
    if not password_auth:
        config += ["Match User genweb", "  PasswordAuthentication no"]
    return "\n".join(config) + "\n"


def ssh_keygen(path: Path, comment: str) -> None:
    """An Ed25519 key pair (kept across lab restarts so recorded host keys stay valid)."""
    if path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f",
                    str(path)], check=True, capture_output=True, timeout=30)


def snmpd_config(switch_ip: str, community: str, v3_user: str, v3_auth: str,
                 v3_priv: str, sys_name: str) -> str:
    """The switch's agent: read-write v2c community and v3 user, from the private net only."""
    return "\n".join([
        f"agentaddress udp:{switch_ip}:161",
        f"rwcommunity {community} 198.18.0.0/24",
        "rocommunity public 198.18.0.0/24",
        f'createUser {v3_user} SHA "{v3_auth}" AES "{v3_priv}"',
        f"rwuser {v3_user} priv",
        f"sysName {sys_name}",
    ]) + "\n"
