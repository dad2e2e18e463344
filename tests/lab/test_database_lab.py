"""The proxy database (dbEngine MySQL) in the lab: MariaDB on three nodes under Pacemaker, as
database.py renders it (ocf:amtelco:genproxy-mysql as a promotable clone, the primary beside the
floating IP), the rows written by the commit's own code (proxyrows.MysqlDatabase over SSH).

Proves: the primary's rows reach every replica; after a ``kill -9`` of the primary's mariadbd
another node is promoted with every row (subscriber, uacreg, location) and replicates to the
last one; a password change (13.1.6-13.1.8) works for every user on every node, replication
included, without restarting the database resources; the killed node, back online, rejoins as
a replica of the new primary and catches up.

Kamailio is a Dummy resource here (id ``kam_heartbeats``, which the database's order constraint
names): the full commit with Kamailio and SIP through the floating IP is the commit lab test's.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from genweb.commit import cluster, database
from genweb.commit.proxyrows import MysqlDatabase
from genweb.commit.render import render
from genweb.commit.snapshot import Snapshot
from tests.render.test_cluster import GENERATED

from . import e2ekit
from .labkit import start_cluster

pytestmark = pytest.mark.lab

AGENT = Path(__file__).resolve().parents[2] / "genweb" / "agents" / "ocf" / database.MYSQL_AGENT_NAME
FLOATING_IP = "198.18.0.100"
PASSWORDS = {"rootPass": "root-pw", "dbrwPass": "rw-pass-1", "dbroPass": "ro-pass-1",
             "replicationPass": "repl-pass-1"}
NEW_PASSWORDS = {"dbrwPass": "rw-pass-2", "dbroPass": "ro-pass-2", "replicationPass": "repl-pass-2"}
SUBSCRIBER = {"username": "5000", "domain": "example.com", "password": "", "ha1": "a" * 32,
              "ha1b": "b" * 32}
UACREG = {"l_uuid": "reg1", "l_username": "5000", "l_domain": "example.com",
          "r_username": "5000", "r_domain": "sip.example.com", "realm": "sip.example.com",
          "auth_username": "5000", "auth_password": "secret", "auth_proxy": "sip:sip.example.com",
          "expires": 3600}
LOCATION = ("INSERT INTO location (ruid, username, domain, contact, expires, callid, cseq, "
            "last_modified, user_agent, methods) VALUES ('uloc-1', '5000', 'example.com', "
            "'sip:5000@198.18.0.3:5060', '2030-01-01 00:00:00', 'call-1', 1, NOW(), 'phone', "
            "8191)")
WITHIN = 120  # s for any one cluster transition (measured: about 20 s for the first start)


def lab_snapshot(lab, passwords: dict[str, str]) -> Snapshot:
    return Snapshot.build(
        {"systemConfig": {"privateIP": FLOATING_IP, "privateSubnet": "24"},
         "databaseConfig": {"dbEngine": "MySQL", **passwords}},
        {"haNodes": [{"nodeID": str(n.index), "nodeName": n.name, "privateIP": n.private_ip}
                     for n in lab.nodes]}, GENERATED)


def lab_crm(snap: Snapshot) -> str:
    """The database's crm (database_crm, unchanged) and what it names: the cluster's
    properties, the floating IP group, and a Dummy standing in for Kamailio."""
    fail = cluster.on_fail(snap)
    kamailio = cluster.primitive(cluster.KAMAILIO, "ocf:pacemaker:Dummy", {},
                                 [cluster.op("monitor", interval="10s", timeout="20s")])
    objects = [*cluster.cluster_properties(snap), *cluster.ip_resources(snap, fail), kamailio,
               cluster.colocation("col_kam_with_ip", cluster.KAMAILIO, cluster.IP_GROUP),
               cluster.order("ord_ip_before_kam", "Mandatory", cluster.IP_GROUP, cluster.KAMAILIO)]
    return "\n".join(obj.text for obj in objects) + "\n" + database.database_crm(snap)


# -- helpers -----------------------------------------------------------------------------------


def sql(lab, node: str, query: str, *, check: bool = True) -> str:
    """As root on the node, over the socket."""
    done = lab.exec(node, ["mariadb", "--batch", "--skip-column-names", "--database=kamailio",
                           "--execute", query], check=check)
    return done.stdout.strip()


def login(lab, node: str, user: str, password: str, query: str = "SELECT CURRENT_USER()") -> str:
    """As ``user`` over TCP to 127.0.0.1 (as Kamailio connects); the password in an option file
    on standard input, never on a command line. Returns stdout, or the error."""
    done = lab.exec(node, ["mariadb", "--defaults-extra-file=/dev/stdin", "--host=127.0.0.1",
                           f"--user={user}", "--batch", "--skip-column-names",
                           "--database=kamailio", "--execute", query],
                    input=f"[client]\npassword={password}\n", check=False)
    return (done.stdout if done.returncode == 0 else done.stderr).strip()


def crm_status(lab, node: str) -> dict[tuple[str, str], set[str]]:
    """(resource, role) -> nodes where it is active, from crm_mon's XML."""
    xml = lab.exec(node, ["crm_mon", "--output-as=xml"], check=False).stdout
    where: dict[tuple[str, str], set[str]] = {}
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return where
    for resource in root.iter("resource"):
        if resource.get("failed") == "true":
            continue
        for found in resource.iter("node"):
            where.setdefault((resource.get("id"), resource.get("role")), set()).add(found.get("name"))
    return where


def wait(what: str, check, timeout: float = WITHIN):
    return e2ekit.wait(check, timeout, what, poll=1)


def primary_and_replicas(lab, ask: str, nodes: set[str]):
    """(primary, replicas) once the database is promoted beside the IP and every other node in
    ``nodes`` runs a replica; None before."""
    where = crm_status(lab, ask)
    promoted = where.get((database.DB_PRIM, "Promoted"), set())
    ip = where.get((cluster.PRIVATE_IP, "Started"), set())
    replicas = where.get((database.DB_PRIM, "Unpromoted"), set())
    if len(promoted) == 1 and promoted == ip and replicas == nodes - promoted:
        return promoted.pop(), sorted(replicas)
    return None


def slave_status(lab, node: str, before: str = "") -> str:
    """SHOW SLAVE STATUS, vertical with the field names (after ``before``, if given)."""
    return lab.exec(node, ["mariadb", "--execute", f"{before}SHOW SLAVE STATUS\\G"],
                    check=False).stdout


def replicating(lab, node: str) -> bool:
    status = slave_status(lab, node)
    return ("Slave_IO_Running: Yes" in status and "Slave_SQL_Running: Yes" in status
            and "Using_Gtid: Current_Pos" in status)


def install(lab, access, targets, snap: Snapshot) -> None:
    """What the commit writes for the database on every node (and /etc/hosts: the agent points
    replicas at the primary by node name), and genweb's agent."""
    rendered = render(snap)
    wanted = ("/etc/hosts", database.MYSQL_CNF, database.REPLICATION_PASSWORD_FILE)
    for target in targets:
        with access.open(target) as node:
            for path in wanted:
                file = rendered.file(target.name, path)
                node.run(["install", "-d", "-m", "0755", os.path.dirname(path)], sudo=True, check=True)
                node.write_file(path, file.content, mode=file.mode, secret=not file.mode & 0o004)
            node.run(["install", "-d", "-m", "0755", cluster.OCF_PROVIDER_DIR], sudo=True, check=True)
            node.write_file(f"{cluster.OCF_PROVIDER_DIR}/{database.MYSQL_AGENT_NAME}",
                            AGENT.read_text(), mode=0o755)


def load_crm(lab, node: str, crm: str) -> None:
    lab.exec(node, ["sh", "-c", "cat > /tmp/genproxy-db.crm"], input=crm)
    lab.exec(node, ["crm", "configure", "load", "update", "/tmp/genproxy-db.crm"], timeout=120)


def remove_resources(lab, node: str, snap: Snapshot) -> None:
    """Stop and delete what lab_crm loaded: the session's lab goes on without it."""
    ids = [*database.database_object_ids(snap), "col_kam_with_ip", "ord_ip_before_kam",
           cluster.KAMAILIO, cluster.IP_GROUP, *(rid for rid, _ in cluster.floating_ips(snap))]
    lab.exec(node, ["crm", "configure", "property", "stop-all-resources=true"], check=False)
    try:
        wait("the test's resources to stop", lambda: not any(
            rid in ids for rid, _ in crm_status(lab, node)), timeout=90)
    finally:
        lab.exec(node, ["crm", "configure", "delete", "--force", *ids], timeout=120)
        lab.exec(node, ["crm", "configure", "property", "stop-all-resources=false"], check=False)
    left = lab.exec(node, ["cibadmin", "--query", "--scope", "resources"]).stdout
    assert not any(f'id="{rid}"' in left for rid in ids), left


# -- the test ----------------------------------------------------------------------------------


def test_rows_replicate_survive_a_killed_primary_and_passwords_change(lab, access, targets,
                                                                      tmp_path) -> None:
    names = {n.name for n in lab.nodes}
    snap = lab_snapshot(lab, PASSWORDS)
    start_cluster(lab, access, targets, tmp_path)
    install(lab, access, targets, snap)
    first = lab.nodes[0].name
    load_crm(lab, first, lab_crm(snap))
    try:
        primary, replicas = wait("the database promoted beside the IP, replicas elsewhere",
                                 lambda: primary_and_replicas(lab, first, names))

        # The commit's own proxy-rows step, over SSH, on the node holding the IP.
        proxy = MysqlDatabase()
        target = next(t for t in targets if t.name == primary)
        with access.open(target) as node:
            proxy.prepare(node, snap, None)
            proxy.write_rows(node, {"subscriber": [SUBSCRIBER], "uacreg": [UACREG]})
        # what Kamailio writes (usrloc) as amtelco, over TCP as its db_url says
        assert login(lab, primary, "amtelco", PASSWORDS["dbrwPass"], LOCATION) == ""
        for replica in replicas:
            wait(f"{replica} replicating by GTID", lambda r=replica: replicating(lab, r))
            wait(f"the rows on {replica}", lambda r=replica: sql(
                lab, r, "SELECT (SELECT COUNT(*) FROM subscriber) + (SELECT COUNT(*) FROM uacreg)"
                " + (SELECT COUNT(*) FROM location)", check=False) == "3")
            # a replica refuses writes from Kamailio's user: only the primary takes them
            assert "read-only" in login(lab, replica, "amtelco", PASSWORDS["dbrwPass"],
                                        "DELETE FROM subscriber")

        # kill -9 the primary's server: Pacemaker promotes another node, which has every row
        pid = lab.exec(primary, ["cat", "/run/mysqld/mysqld.pid"]).stdout.strip()
        lab.exec(primary, ["kill", "-9", pid])
        survivors = names - {primary}
        ask = sorted(survivors)[0]

        def promoted_elsewhere():
            where = crm_status(lab, ask)
            promoted = where.get((database.DB_PRIM, "Promoted"), set())
            ip = where.get((cluster.PRIVATE_IP, "Started"), set())
            return promoted.pop() if len(promoted) == 1 and promoted == ip \
                and promoted <= survivors else None

        new_primary = wait("another node promoted with the IP", promoted_elsewhere)
        assert sql(lab, new_primary, "SELECT username, domain FROM subscriber") == "5000\texample.com"
        assert sql(lab, new_primary, "SELECT l_uuid, auth_password FROM uacreg") == "reg1\tsecret"
        assert sql(lab, new_primary, "SELECT ruid, contact FROM location") == \
            "uloc-1\tsip:5000@198.18.0.3:5060"
        assert sql(lab, new_primary, "SELECT @@global.read_only") == "0"
        # the other survivor now replicates from the new primary
        last = (survivors - {new_primary}).pop()
        wait(f"{last} replicating from {new_primary}", lambda: replicating(lab, last) and
             f"Master_Host: {new_primary}" in slave_status(lab, last))
        with access.open(next(t for t in targets if t.name == new_primary)) as node:
            proxy.write_rows(node, {"subscriber": [SUBSCRIBER, {**SUBSCRIBER, "username": "5001"}]})
        wait(f"a row written on {new_primary} on {last}", lambda: sql(
            lab, last, "SELECT COUNT(*) FROM subscriber", check=False) == "2")

        # Password change (13.1.6-13.1.8): the files, then the commit's prepare on the primary.
        changed = lab_snapshot(lab, {**PASSWORDS, **NEW_PASSWORDS})
        assert lab_crm(changed) == lab_crm(snap)  # no password in the CIB: nothing restarts
        install(lab, access, targets, changed)
        with access.open(next(t for t in targets if t.name == new_primary)) as node:
            proxy.prepare(node, changed, snap)
        for name in (new_primary, last):
            wait(f"the new passwords on {name}", lambda n=name: login(
                lab, n, "amtelco", NEW_PASSWORDS["dbrwPass"]) == "amtelco@127.0.0.1")
            assert "Access denied" in login(lab, name, "amtelco", PASSWORDS["dbrwPass"])
            assert login(lab, name, "amtelcoro", NEW_PASSWORDS["dbroPass"]) == "amtelcoro@127.0.0.1"
            assert "Access denied" in login(lab, name, "amtelcoro", PASSWORDS["dbroPass"])
        # the replica's agent picked the new replicationPass up (monitor), so a fresh connection
        # to the primary authenticates with it
        wait("the replica's new replication password", lambda: "Slave_IO_Running: Yes" in slave_status(
            lab, last, "STOP SLAVE; START SLAVE; DO SLEEP(2); ") and replicating(lab, last),
             timeout=60)
        with access.open(next(t for t in targets if t.name == new_primary)) as node:
            proxy.write_rows(node, {"subscriber": [SUBSCRIBER]})
        wait(f"replication after the password change on {last}", lambda: sql(
            lab, last, "SELECT COUNT(*) FROM subscriber", check=False) == "1")

        # The killed node back in service (as after a repair): it starts as a replica of the
        # new primary, with the new replication password, and catches up by GTID.
        lab.exec(ask, ["crm", "node", "online", primary])
        lab.exec(ask, ["crm", "resource", "cleanup", database.DB_CLONE], timeout=120)
        wait(f"{primary} replicating from {new_primary}", lambda: replicating(lab, primary)
             and f"Master_Host: {new_primary}" in slave_status(lab, primary))
        wait(f"every change on {primary}", lambda: sql(
            lab, primary, "SELECT GROUP_CONCAT(username) FROM subscriber", check=False) == "5000")
        assert crm_status(lab, ask)[(database.DB_PRIM, "Promoted")] == {new_primary}
    finally:
        remove_resources(lab, first, snap)
