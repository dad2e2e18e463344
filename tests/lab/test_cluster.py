"""Corosync + Pacemaker on the lab's nodes, configured and started through genweb.nodes.

The other lab modules that need a running cluster start it the same way (labkit.start_cluster);
whichever module runs first starts it.
"""

from __future__ import annotations

import pytest

from .labkit import online_members, start_cluster

pytestmark = pytest.mark.lab


def test_three_nodes_come_online(lab, access, targets, tmp_path):
    start_cluster(lab, access, targets, tmp_path)
    with access.open(targets[0]) as node:
        mon = node.run(["crm_mon", "--output-as=xml"], sudo=True)
    assert online_members(mon.stdout) == {"node1", "node2", "node3"}, mon.stdout[-1500:]
    assert 'with_quorum="true"' in mon.stdout
    for row in lab.status():
        assert row["corosync"] and row["pacemakerd"] and row["sshd"], row
