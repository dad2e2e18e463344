"""dbEngine MS SQL end to end in the lab (issue 8, the ODBC half of "done when"): Kamailio on the
active node reads an external database over ODBC, and registrations, subscribers and outbound
registrations survive a failover because they live in that external database.

NOT EXERCISED HERE: a real MS SQL server and Microsoft's ODBC driver (msodbcsql18). Neither can
run in this environment. What stands in for them:

- the "external MS SQL" is a MariaDB server this test starts (and stops, by its PID) in the
  lab's web-server namespace on 198.18.0.3:3306, with ``sql_mode`` ANSI_QUOTES and
  NO_BACKSLASH_ESCAPES so that it reads Kamailio's db_unixodbc SQL as SQL Server would
  ("..." identifiers, backslashes plain);
- its tables are Kamailio's MySQL schema (/usr/share/kamailio/mysql/*-create.sql, the files
  ``proxyrows.SCHEMA_FILES`` lists), created by the test as the administrator would create
  genweb/sql/mssql-kamailio.sql on MS SQL (13.1.4), with dbrwUser granted read/write;
- the nodes' DSN names MariaDB's ODBC driver (Debian odbc-mariadb, "MariaDB Unicode") instead
  of "ODBC Driver 18 for SQL Server": the web server runs with the test-only setting
  ``ODBC_DRIVER`` (``database.ODBC_DRIVER_KEY``), so the commit renders /etc/odbc.ini with that
  driver (``Server``/``Port`` instead of ``tcp:host,port``) and ``MssqlDatabase`` quotes
  identifiers with backticks instead of T-SQL's brackets. Without it (production) the DSN names
  Microsoft's driver (tests/render/test_database.py).

Everything else is the production path: configuration through the REST API (dbEngine MS SQL,
dbHost, kamDatabase, dbrwUser, dbrwPass), the real commit over SSH with deploy/sudoers.genweb,
the rendered /etc/odbc.ini on every node, the rows written by ``MssqlDatabase`` through that DSN
with pyodbc on the active node, Kamailio's db_unixodbc (auth_db, usrloc, uac, permissions,
dispatcher) through unixODBC, ``kill -9`` of the active node's stack, fencing on the lab switch.

Proven: the committed rows are in the external database; a subscriber added through the API
and committed authenticates (REGISTER 401, then 200; a wrong password does not); a phone
registered before the kill (its location row in the external database) is called through the
node that takes over without registering again; the outbound registration committed before is
registered again by the new active node.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from genweb.commit import database, proxyrows
from genweb.lab import Lab
from genweb.lab.topology import WEB_PRIVATE_IP
from tests.render.kamailio_helpers import Daemon

from .e2ekit import (
    CALLER_IP,
    GENESIS_USER,
    LATE_PASSWORD,
    LATE_USER,
    PHONE_PASSWORD,
    PHONE_USER,
    TRUNK,
    VIP,
    Genweb,
    Sip,
    assert_taken_over_by,
    kill_stack,
    settled_cluster,
    switch_port_up,
    taken_over,
    wait,
    wait_trunk_online,
)
from .labkit import lab_name, mark_owned

pytestmark = pytest.mark.lab

MARIADB_DRIVER = "MariaDB Unicode"  # Debian odbc-mariadb's name in /etc/odbcinst.ini
DB_PORT = 3306
KAM_DATABASE, RW_USER, RW_PASS = "genproxy_ext", "kamrw", "odbc-rw-pass-1"


@dataclass
class ExternalDatabase:
    """MariaDB as the stand-in for the external MS SQL server, in the lab's web namespace."""

    folder: Path
    daemon: Daemon

    @property
    def socket(self) -> Path:
        return self.folder / "mysqld.sock"

    def sql(self, query: str, database_name: str = KAM_DATABASE) -> str:
        done = subprocess.run(["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot",
                               "--batch", "--skip-column-names",
                               *([database_name] if database_name else []), "-e", query],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def column(self, query: str) -> list[str]:
        return self.sql(query).split()

    def contacts(self, user: str, within: float = 0) -> list[str]:
        """usrloc's rows for ``user``, waiting up to ``within`` seconds for one."""
        deadline = time.monotonic() + within
        while True:
            found = self.column(f"SELECT contact FROM location WHERE username='{user}'")
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(0.5)

    def log(self, word: str, since: int = 0) -> str:
        """The general log's lines (connections, statements) that mention ``word``, from
        byte ``since`` on."""
        text = (self.folder / "general.log").read_bytes()[since:].decode(errors="replace")
        return "\n".join(line for line in text.splitlines() if word in line)[-4000:]

    def log_size(self) -> int:
        return (self.folder / "general.log").stat().st_size


def mariadb_answers(db: ExternalDatabase) -> bool:
    return db.socket.exists() and subprocess.run(
        ["mariadb", "--no-defaults", f"--socket={db.socket}", "-uroot", "-e", "SELECT 1"],
        capture_output=True, timeout=30).returncode == 0


@pytest.fixture(scope="module")
def odbc_lab(host_before) -> Iterator[Lab]:
    built = Lab.up(3, lab_name("o"), sudoers="contract")
    mark_owned(built)
    yield built
    built.down(purge=True)


@pytest.fixture(scope="module")
def external_db(odbc_lab: Lab, tmp_path_factory) -> Iterator[ExternalDatabase]:
    """The operator's side of 13.1.3-13.1.6: a server on dbHost, kamDatabase with Kamailio's
    tables (the MySQL schema files, MS SQL's stand-in) and dbrwUser allowed from the nodes."""
    folder = tmp_path_factory.mktemp("external-db")
    data = folder / "data"
    subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
                    "--auth-root-authentication-method=normal", "--skip-test-db"],
                   check=True, capture_output=True, timeout=120)
    daemon = Daemon(["ip", "netns", "exec", odbc_lab.web_netns, "mariadbd", "--no-defaults",
                     f"--datadir={data}", "--user=root", f"--socket={folder / 'mysqld.sock'}",
                     f"--bind-address={WEB_PRIVATE_IP}", f"--port={DB_PORT}",
                     "--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=16M",
                     # how SQL Server reads Kamailio's db_unixodbc SQL (quote_char '"')
                     "--sql-mode=ANSI_QUOTES,NO_BACKSLASH_ESCAPES",
                     f"--pid-file={folder / 'mysqld.pid'}",
                     f"--log-error={folder / 'error.log'}",
                     # every statement the nodes send, for a failure's diagnosis
                     "--general-log", f"--general-log-file={folder / 'general.log'}"],
                    folder / "stdout.log")
    db = ExternalDatabase(folder, daemon)
    try:
        wait(lambda: mariadb_answers(db) or not daemon.alive(), 60, "the external MariaDB")
        assert daemon.alive(), (folder / "error.log").read_text(errors="replace")
        db.sql(f"CREATE DATABASE {KAM_DATABASE}", "")
        for schema in proxyrows.SCHEMA_FILES:
            # the schema files are MySQL's: read them in MariaDB's default quoting
            db.sql(f"SET SESSION sql_mode = 'STRICT_TRANS_TABLES'; SOURCE {schema};")
        db.sql(f"CREATE USER '{RW_USER}'@'198.18.0.%' IDENTIFIED BY '{RW_PASS}'; "
               f"GRANT SELECT, INSERT, UPDATE, DELETE ON {KAM_DATABASE}.* "
               f"TO '{RW_USER}'@'198.18.0.%'")
        yield db
    finally:
        daemon.stop()  # by its PID (its own session): never anyone else's MariaDB


@pytest.fixture
def sip(odbc_lab: Lab, tmp_path: Path) -> Iterator[Sip]:
    agents = Sip(odbc_lab, tmp_path / "sipp")
    agents.folder.mkdir()
    yield agents
    agents.stop()


def test_ms_sql_over_odbc_serves_and_survives_failover(odbc_lab: Lab, external_db, sip: Sip,
                                                       tmp_path: Path) -> None:
    lab, db = odbc_lab, external_db
    names = [node.name for node in lab.nodes]
    web = Genweb(lab, tmp_path / "instance")
    # the test-only driver override: the web server renders the DSN on MariaDB's driver
    web.app.config["ODBC_DRIVER"] = MARIADB_DRIVER

    # -- 1. configure (dbEngine MS SQL) and commit -------------------------------------------
    registrar = sip.start_registrar()
    web.configure()  # nodes, fences, system, proxy, the Genesis' and the phone's subscribers
    web.api("PATCH", "/api/databaseConfig", {
        "dbEngine": "MS SQL", "dbHost": f"tcp:{WEB_PRIVATE_IP},{DB_PORT}",
        "kamDatabase": KAM_DATABASE, "dbrwUser": RW_USER, "dbrwPass": RW_PASS})
    web.add_trunk(registrar)
    assert db.column("SELECT username FROM subscriber") == []
    job, lines, _ = web.commit()
    assert job["status"] == "succeeded", "\n".join(lines)
    assert lines[-1] == "SUCCESS: Commit Complete!"

    primary, xml = settled_cluster(lab, names)
    assert "db_clone" not in xml  # MS SQL: no database resource of ours on the nodes
    # the rendered DSN on every node, on the stand-in's driver (the override), no credentials
    for name in names:
        ini = lab.exec(name, ["cat", database.ODBC_INI]).stdout
        assert f"Driver = {MARIADB_DRIVER}" in ini and f"Server = {WEB_PRIVATE_IP}" in ini, ini
        assert f"Database = {KAM_DATABASE}" in ini and RW_PASS not in ini, ini
    # the commit wrote the rows into the external database through that DSN (pyodbc)
    assert sorted(db.column("SELECT username FROM subscriber")) == sorted(
        [GENESIS_USER, PHONE_USER])
    assert db.column("SELECT l_uuid FROM uacreg") == [TRUNK["l_uuid"]]

    # -- 2. Kamailio reads the external database over ODBC ----------------------------------
    genesis = sip.start_genesis()
    registration = sip.register()
    assert registration.rc == 0 and registration.codes() == [401, 200], \
        registration.describe()
    phone = sip.start_phone()
    phone_reg = sip.register(user=PHONE_USER, password=PHONE_PASSWORD, ip=CALLER_IP,
                             contact_port=phone.port)
    assert phone_reg.rc == 0 and phone_reg.codes() == [401, 200], phone_reg.describe()
    # usrloc wrote through (db_mode 1) to the external database
    assert db.contacts(PHONE_USER, within=10), db.log("location")
    to_phone = sip.call_user(PHONE_USER)
    assert to_phone.counts() == (1, 0), to_phone.describe()
    assert len(phone.received("INVITE")) == 1, phone.describe()
    wait_trunk_online(lab, primary, registrar)

    # a subscriber added through the API and committed (rows only, live) authenticates:
    # auth_db reads the external database at each request
    assert LATE_USER not in db.column("SELECT username FROM subscriber")
    refused = sip.register(user=LATE_USER, password=LATE_PASSWORD, ip=CALLER_IP,
                           contact_port=phone.port)
    assert refused.rc != 0 and refused.codes()[:2] == [401, 401], refused.describe()
    web.api("POST", "/api/subscribers", {"username": LATE_USER, "domain": VIP,
                                         "password": LATE_PASSWORD})
    job, lines, _ = web.commit()
    assert job["status"] == "succeeded", "\n".join(lines)
    assert not any("Stopping High Availability" in line for line in lines), lines
    assert LATE_USER in db.column("SELECT username FROM subscriber")
    late = sip.register(user=LATE_USER, password=LATE_PASSWORD, ip=CALLER_IP,
                        contact_port=phone.port)
    assert late.rc == 0 and late.codes() == [401, 200], late.describe()

    # -- 3. kill -9 of the active node's stack: fenced, the service on another node --------
    victim = primary
    assert switch_port_up(lab, lab.node(victim).private_port)
    registers_before = len(registrar.received("REGISTER"))
    killed_at, log_at_kill = time.time(), db.log_size()
    assert kill_stack(lab, victim), f"no cluster process found on {victim}"
    assert db.daemon.alive(), "the kill reached the external database"
    new_primary = taken_over(lab, names, victim)
    # the new node's Kamailio connected to the external database as dbrwUser over ODBC
    new_ip = lab.node(new_primary).private_ip
    assert f"{RW_USER}@{new_ip}" in db.log("Connect", since=log_at_kill), \
        db.log("Connect", since=log_at_kill)

    # -- 4. nothing lost: all of it from the external database ------------------------------
    # the phone, registered before the kill and not since, is called through the new node
    # (usrloc loaded its row from the external database at start)
    assert db.contacts(PHONE_USER), db.log("location")
    to_phone = sip.call_user(PHONE_USER)
    assert to_phone.counts() == (1, 0), to_phone.describe()
    assert len(phone.received("INVITE")) == 2, phone.describe()
    # the Genesis, registered before the kill, takes a call routed by the new node
    after = sip.calls(1, 1)
    assert after.counts() == (1, 0), after.describe()
    assert len(genesis.received("INVITE")) == 1, genesis.describe()
    # the subscriber a commit added authenticates there (a wrong password does not), and the
    # new node registers the outbound registration with the provider's registrar again
    assert_taken_over_by(lab, new_primary, sip, registrar, phone.port, registers_before, killed_at)


# -- the override is the tests' only: production renders Microsoft's driver (no lab needed) ----


@pytest.mark.parametrize("override", ["", MARIADB_DRIVER])
def test_the_driver_override_is_test_only(override: str) -> None:
    import dataclasses

    from genweb.commit.render import render
    from tests.render.test_database import db_snapshot

    snapshot = db_snapshot({"dbEngine": "MS SQL", "dbHost": "tcp:sql.example.com,1433",
                            "kamDatabase": KAM_DATABASE, "dbrwUser": RW_USER})
    if override:  # what inputs.gather adds when the app's ODBC_DRIVER is set
        snapshot = dataclasses.replace(snapshot, generated={
            **snapshot.generated, database.ODBC_DRIVER_KEY: override})
    ini = render(snapshot).file(snapshot.nodes[0]["nodeName"], database.ODBC_INI).content
    writer = proxyrows.for_snapshot(snapshot)
    assert isinstance(writer, proxyrows.MssqlDatabase)
    if override:
        assert f"Driver = {MARIADB_DRIVER}" in ini and "Server = sql.example.com" in ini, ini
        assert writer.dialect == proxyrows.MARIADB_ODBC
    else:
        assert f"Driver = {database.MSSQL_DRIVER}" in ini, ini
        assert "Server = tcp:sql.example.com,1433" in ini, ini
        assert writer.dialect == proxyrows.TSQL
