"""End to end in the lab (issue 7, point 6): from an empty store to a running high-availability
SIP proxy, a live change under load, and a failover with fencing.

One test, in the order an operator lives it:

1. configure three nodes, their fences (fence_ether_snmp on the lab switch's snmpd), the
   system, the database and the proxy through the REST API, and commit (the real CommitJob,
   over SSH through the lab's web namespace, with deploy/sudoers.genweb as the nodes' sudo
   rights): Corosync has quorum, Pacemaker runs every resource, the floating IP is on one node,
   Kamailio answers OPTIONS on it, the Genesis (sipp) registers and a call is routed to it;
2. change the denyList and commit while calls run at 4 per second: applied live (Kamailio
   reloads its address table), zero failed calls;
3. ``kill -9`` the active node's cluster stack and engines: the node is fenced (its switch port
   is shut), the floating IP and the SIP service come up on another node, the Genesis
   registers again and a new call succeeds.

It uses its own lab (not the session's, whose cluster test_cluster.py starts by hand) and takes
it down at the end.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from genweb.lab import Lab

from .e2ekit import (
    DENIED,
    SIP_PORT,
    VIP,
    Genweb,
    Sip,
    crm_mon,
    holders,
    kill_stack,
    not_running,
    state,
    switch_port_up,
    wait,
)
from .labkit import lab_name, mark_owned

pytestmark = pytest.mark.lab

SETTLE_TIMEOUT = 180  # s: every resource started after the commit (a loaded 2-CPU machine)
FAILOVER_TIMEOUT = 90  # s: the IP and Kamailio on a survivor after the kill
LOAD_RATE, LOAD_CALLS = 4, 100  # calls/s, calls: the load the live commit runs under (25 s)


@pytest.fixture(scope="module")
def e2e_lab(host_before) -> Iterator[Lab]:
    built = Lab.up(3, lab_name("e"), sudoers="contract")
    mark_owned(built)
    yield built
    built.down(purge=True)


@pytest.fixture
def sip(e2e_lab: Lab, tmp_path: Path) -> Iterator[Sip]:
    agents = Sip(e2e_lab, tmp_path / "sipp")
    agents.folder.mkdir()
    yield agents
    agents.stop()


def test_commit_live_change_and_failover(e2e_lab: Lab, sip: Sip, tmp_path: Path) -> None:
    lab = e2e_lab
    names = [node.name for node in lab.nodes]
    web = Genweb(lab, tmp_path / "instance")

    # -- 1. from an empty store to a running cluster -----------------------------------------
    web.configure()
    job, lines, _ = web.commit()
    assert job["status"] == "succeeded", "\n".join(lines)
    assert lines[-1] == "SUCCESS: Commit Complete!"

    def settled() -> str:
        xml = crm_mon(lab, names)
        return xml if xml and not not_running(xml) else ""

    xml = wait(settled, SETTLE_TIMEOUT, "every resource running")
    cluster = state(lab, names)
    assert cluster is not None and cluster.quorate and set(cluster.online) == set(names), xml
    primary = cluster.service_node
    assert primary is not None, xml
    assert holders(lab, VIP) == [primary]

    options = sip.options()
    assert options.codes() == [200], options.describe()
    genesis = sip.start_genesis()
    registration = sip.register()
    assert registration.rc == 0 and registration.codes() == [401, 200], \
        registration.describe()
    call = sip.calls(1, 1)
    assert call.counts() == (1, 0), call.describe()
    assert len(genesis.received("INVITE")) == 1
    # the call went through the floating IP: the Genesis saw the proxy's Via on it
    via = genesis.received("INVITE")[-1].header("Via") or ""
    assert via.split(";")[0] in (f"SIP/2.0/UDP {VIP}", f"SIP/2.0/UDP {VIP}:{SIP_PORT}"), via

    # -- 2. a live change under load: zero failed calls --------------------------------------
    load = sip.calls(LOAD_CALLS, LOAD_RATE, start=True)
    time.sleep(3)
    web.api("PATCH", "/api/proxyConfig", {"denyList": DENIED})
    job, lines, seconds = web.commit()
    assert job["status"] == "succeeded", "\n".join(lines)
    assert any(line.startswith(f"Status: Reloading Kamailio on node '{primary}'")
               and "permissions.addressReload" in line for line in lines), lines
    assert not any("Stopping High Availability" in line or "Switching the primary" in line
                   for line in lines), lines
    assert load.alive(), "the load ended before the commit did: make it longer"
    load.wait(LOAD_CALLS / LOAD_RATE + 60)
    assert load.counts() == (LOAD_CALLS, 0), load.describe()
    dump = lab.exec(primary, ["kamcmd", "permissions.addressDump"]).stdout
    assert DENIED in dump, dump

    # -- 3. kill -9 of the active node's stack: fenced, service on another node --------------
    victim = primary
    port = lab.node(victim).private_port
    survivors = [name for name in names if name != victim]
    assert switch_port_up(lab, port)
    killed = kill_stack(lab, victim)
    assert killed, f"no cluster process found on {victim}"
    wait(lambda: not switch_port_up(lab, port), FAILOVER_TIMEOUT, f"{victim} fenced")

    def service_elsewhere() -> str | None:
        now = state(lab, survivors)
        return now.service_node if now and now.service_node in survivors else None

    new_primary = wait(service_elsewhere, FAILOVER_TIMEOUT, "the service on a survivor")
    assert holders(lab, VIP, survivors) == [new_primary]
    again = sip.register()
    assert again.rc == 0, again.describe()
    after = sip.calls(1, 1)
    assert after.counts() == (1, 0), after.describe()
    history = lab.exec(new_primary, ["stonith_admin", "--history", victim]).stdout
    assert "successful" in history or "off" in history, history
