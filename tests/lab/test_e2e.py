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
   is shut), the floating IP and the SIP service come up on another node;
4. nothing is lost on failover (issue 8, dbEngine MySQL: MariaDB replicated to the node that
   takes over): without registering again, the phone registered before the kill is called
   through the new node (usrloc's rows, loaded at Kamailio's start) and the Genesis gets a
   call (its dispatcher row); the subscriber added by the live commit authenticates there
   (401, then 200); the new node registers the outbound registration with the provider's
   registrar; crm_mon shows the new node's database promoted and no failed action.

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
    CALLER_IP,
    DENIED,
    LATE_PASSWORD,
    LATE_USER,
    PHONE_PASSWORD,
    PHONE_USER,
    SIP_PORT,
    VIP,
    Genweb,
    Sip,
    assert_taken_over_by,
    crm_mon,
    failures,
    kill_stack,
    location_contacts,
    promoted,
    settled_cluster,
    switch_port_up,
    taken_over,
    wait,
    wait_trunk_online,
)
from .labkit import lab_name, mark_owned

pytestmark = pytest.mark.lab

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
    registrar = sip.start_registrar()  # the provider of the outbound registration TRUNK
    web.configure()
    web.add_trunk(registrar)
    job, lines, _ = web.commit()
    assert job["status"] == "succeeded", "\n".join(lines)
    assert lines[-1] == "SUCCESS: Commit Complete!"

    primary, xml = settled_cluster(lab, names)

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
    # a phone registers and is called from the Genesis (1.2.4 rule 1); the trunk is registered
    phone = sip.start_phone()
    phone_reg = sip.register(user=PHONE_USER, password=PHONE_PASSWORD, ip=CALLER_IP,
                             contact_port=phone.port)
    assert phone_reg.rc == 0 and phone_reg.codes() == [401, 200], phone_reg.describe()
    to_phone = sip.call_user(PHONE_USER)
    assert to_phone.counts() == (1, 0), to_phone.describe()
    assert len(phone.received("INVITE")) == 1, phone.describe()
    wait_trunk_online(lab, primary, registrar)

    # -- 2. a live change under load: zero failed calls --------------------------------------
    load = sip.calls(LOAD_CALLS, LOAD_RATE, start=True)
    time.sleep(3)
    web.api("PATCH", "/api/proxyConfig", {"denyList": DENIED})
    # a subscriber added by a live commit (rows only), authenticated after the failover below
    web.api("POST", "/api/subscribers", {"username": LATE_USER, "domain": VIP,
                                         "password": LATE_PASSWORD})
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
    # the phone's registration reached the replicas (usrloc writes through, db_mode 1)
    for name in survivors:
        wait(lambda name=name: location_contacts(lab, name, PHONE_USER), 10,
             f"{PHONE_USER}'s location row replicated to {name}")
    assert switch_port_up(lab, port)
    registers_before = len(registrar.received("REGISTER"))
    killed_at = time.time()
    assert kill_stack(lab, victim), f"no cluster process found on {victim}"
    new_primary = taken_over(lab, names, victim)
    history = lab.exec(new_primary, ["stonith_admin", "--history", victim]).stdout
    assert "successful" in history or "off" in history, history

    # -- 4. nothing lost on failover (issue 8): all of it from the replicated database --------
    # the phone, registered before the kill and not since, is called through the new node
    # (usrloc loaded its row at start); the call comes from the Genesis, which the new node
    # knows from its dispatcher row: it has not registered again either
    to_phone = sip.call_user(PHONE_USER)
    assert to_phone.counts() == (1, 0), to_phone.describe()
    assert len(phone.received("INVITE")) == 2, phone.describe()
    # the Genesis registered before the kill takes a call without registering again
    invites = len(genesis.received("INVITE"))
    after = sip.calls(1, 1)
    assert after.counts() == (1, 0), after.describe()
    assert len(genesis.received("INVITE")) == invites + 1, genesis.describe()
    # the subscriber a commit added authenticates there (a wrong password does not), and the
    # new node registers the outbound registration with the provider's registrar again
    assert_taken_over_by(lab, new_primary, sip, registrar, phone.port, registers_before, killed_at)
    # the Genesis registers again as usual
    again = sip.register()
    assert again.rc == 0, again.describe()
    # the new primary's writes (usrloc's row for that registration) reach the other survivor:
    # the agent pointed it at the new primary
    for name in survivors:
        if name != new_primary:
            wait(lambda name=name: location_contacts(lab, name, LATE_USER), 15,
                 f"{LATE_USER}'s location row replicated from {new_primary} to {name}")
    # the server logs where an operator looks (the agent creates /var/log/mysql if missing)
    error_log = lab.exec(new_primary, ["cat", "/var/log/mysql/error.log"], check=False)
    assert "ready for connections" in error_log.stdout, error_log.stderr
    # the database's primary moved with the service and the failover left no failed action
    xml = crm_mon(lab, survivors)
    assert promoted(xml, "db_clone") == [new_primary], xml
    assert not failures(xml), "\n".join(failures(xml)) + "\n" + agent_log(lab, survivors)


def agent_log(lab: Lab, names: list[str]) -> str:
    """The database agent's lines in the nodes' Pacemaker logs (for a failure's message)."""
    found = []
    for name in names:
        done = lab.exec(name, ["grep", "-a", "-e", "db_prim", "-e", "mysql",
                               "/var/log/pacemaker/pacemaker.log"], check=False, timeout=30)
        found.append(f"== {name}\n" + "\n".join(done.stdout.splitlines()[-60:]))
    return "\n".join(found)
