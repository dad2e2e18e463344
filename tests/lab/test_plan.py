"""The lab's pure parts: names, addresses and the mount plan (no root needed)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from genweb.lab import files, topology


def test_addresses_stay_in_the_benchmarking_range_and_are_unique():
    specs = topology.node_specs("glab", topology.MAX_NODES)
    addresses = [ipaddress.ip_address(a) for s in specs for a in (s.private_ip, s.public_ip)]
    addresses += [ipaddress.ip_address(a) for a in (topology.SWITCH_IP, topology.WEB_PRIVATE_IP,
                                                    topology.WEB_PUBLIC_IP, topology.PRIVATE_VIP)]
    assert all(a in ipaddress.ip_network("198.18.0.0/15") for a in addresses)
    assert len(set(addresses)) == len(addresses)
    assert max(len(s.public_port) for s in specs) <= 15  # Linux interface name limit
    assert [s.name for s in specs[:2]] == ["node1", "node2"]


@pytest.mark.parametrize("name", ["", "Lab", "1lab", "a-b", "x" * 11, "a/b"])
def test_lab_names_are_checked(name):
    with pytest.raises(ValueError):
        topology.node_specs(name, 3)


@pytest.mark.parametrize("count", [0, topology.MAX_NODES + 1])
def test_node_counts_are_checked(count):
    with pytest.raises(ValueError):
        topology.node_specs("glab", count)


def test_the_mount_plan_hides_the_state_dir_last(monkeypatch):
    state = Path("/run/genweb-lab/glab")
    node_dir, shim = state / "nodes" / "node1", state / "systemctl"
    plan = files.mount_plan(node_dir, shim)
    assert plan[0].startswith("overlay /etc ") and plan[1].startswith("overlay /var ")
    # agents a commit installs under /usr land in the node, never in the host
    assert plan[2].startswith("overlay /usr ")
    assert plan[-1].startswith("tmpfs /run ")
    assert f"robind {shim} /usr/bin/systemctl" in plan
    monkeypatch.setattr(files, "SYSTEMCTL", "/nonexistent/systemctl")
    assert f"robind {shim.parent / 'bin'} /usr/local/sbin" in files.mount_plan(node_dir, shim)


def test_sshd_config_follows_the_manuals_password_rule():
    keys_only = files.sshd_config("198.18.0.11", password_auth=False, root_ssh=True)
    assert keys_only.endswith("Match User genweb\n  PasswordAuthentication no\n")
    assert "ListenAddress 198.18.0.11" in keys_only
    assert "Match" not in files.sshd_config("198.18.0.11", password_auth=True, root_ssh=False)


def test_node_preparation_is_what_install_sh_does():
    """The lab prepares a node as install.sh --node does (prepare_private_dirs), line by line."""
    install = (Path(__file__).resolve().parents[2] / "install.sh").read_text()
    body = install.split("prepare_private_dirs() {", 1)[1].split("\n}", 1)[0]
    wanted = [line.strip() for line in files.NODE_PREPARATION.splitlines()[1:] if line.strip()]
    assert wanted and all(line in body for line in wanted), (wanted, body)


def test_sudoers_choices():
    assert files.sudoers_text("all") == files.SUDOERS_ALL
    assert "Cmnd_Alias GENWEB_WRITE" in files.sudoers_text("contract")
    with pytest.raises(ValueError):
        files.sudoers_text("some")
