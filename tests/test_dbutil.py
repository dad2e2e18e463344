"""Database Utilities (14.0): the Download Database file and dbShow, without a cluster.

A realistic store (3 nodes, their fences, 50 subscribers, every secret key of the catalogue
set to a distinctive value, committed, then changed) is downloaded from the page and the API;
the file must hold every table of the store with staged and committed values and lifecycle
flags, and none of the secrets. dbShow must show it within 80 columns, secrets absent.
The proxy database read from real MariaDB on lab nodes is in test_dbutil_lab.py.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from genweb import __version__, store
from genweb.catalogue import PAGES, Key
from genweb.commit.secrets import MAKERS
from genweb.nodes import MASK

REPO = Path(__file__).resolve().parent.parent
DBSHOW = REPO / "bin" / "dbShow"
FILE_NAME = re.compile(r"genweb-database-(?P<system>[A-Za-z0-9._-]+)-\d{8}T\d{6}Z\.json\.gz")
LONG_DOMAIN = "subscribers.a-rather-long-domain-name-for-the-test.example.com"


# -- a realistic store with distinctive secrets ----------------------------------------------


def secret_for(key: Key, n: int) -> str:
    """A value found nowhere else: 32 hex digits for an HA1 hash, else a tagged word."""
    if key.checker is not None:
        return hashlib.md5(f"{key.name}-{n}".encode()).hexdigest()
    return f"Sx{key.name}{n}Zq"


class Secrets:
    def __init__(self) -> None:
        self.values: list[str] = []

    def __call__(self, page: str, key: str, n: int = 0) -> str:
        value = secret_for(PAGES[page].key(key), n)
        self.values.append(value)
        return value

    def page(self, page: str, n: int = 0) -> dict[str, str]:
        return {key: self(page, key, n) for key in PAGES[page].secret_keys}


def node_values(n: int, ip: str) -> dict[str, str]:
    return {"nodeID": str(n), "nodeName": f"node{n}", "privateIP": ip}


def fence_values(n: int, secrets: Secrets) -> dict[str, str]:
    return {"fenceName": f"fence{n}", "fenceNodeName": f"node{n}", "fenceAgent": "fence_ifmib",
            "fenceDevicePlug": f"sw-node{n}", "fenceDeviceIP": "198.18.0.2",
            "fenceSnmpVersion": "3", "fenceSnmpUser": "genweblab", "fenceSnmpAuthProt": "SHA",
            "fenceSnmpPrivProt": "AES", **secrets.page("fences", n)}


def seed_store(subscribers: int = 50, node_ips: tuple[str, ...] = ("198.18.0.11", "198.18.0.12",
                                                                    "198.18.0.13")) -> list[str]:
    """Fill the store (in an app context) as an operator would; return every secret value."""
    secrets = Secrets()
    store.save_settings("systemConfig", {"systemName": "dumptest", "privateIP": "198.18.0.100",
                                         "privateSubnet": "24", "privatePing": "198.18.0.2"})
    store.save_settings("proxyConfig", {"dispatchAuthUser": "genesis",
                                        "dispatchAuthRealm": "proxy.example.com",
                                        "denyList": "198.51.100.7\n203.0.113.0/24",
                                        **secrets.page("proxyConfig")})
    store.save_settings("databaseConfig", {"dbEngine": "MySQL", **secrets.page("databaseConfig")})
    for n, ip in enumerate(node_ips, 1):
        store.create_record("haNodes", {**node_values(n, ip), **secrets.page("haNodes", n)})
        store.create_record("fences", fence_values(n, secrets))
    store.create_record("tlsProxyConfigs", {"tlsDomain": "198.18.0.100:5061", "tlsRole": "server",
                                            "tlsPrivateKey": "proxy.key"})  # a file name
    store.create_record("notifies", {"notifyURL": "https://is.example.com:8443",
                                     "notifyUser": "proxy", **secrets.page("notifies")})
    for n in range(subscribers):
        store.create_record("subscribers", {"username": str(5000 + n), "domain": LONG_DOMAIN,
                                            **secrets.page("subscribers", n)})
    for n in range(2):
        store.create_record("outboundRegistrations", {
            "l_uuid": f"reg{n}", "l_username": f"reg{n}", "l_domain": "sip.example.net",
            "r_username": f"reg{n}", "r_domain": "sip.example.net",
            **secrets.page("outboundRegistrations", n)})
    for name in MAKERS:
        secrets.values.append(f"Gen{name}Zq")
        store.replace_generated(name, secrets.values[-1])
    store.record_commit()
    _change_after_commit(secrets, len(node_ips))
    return secrets.values


def _change_after_commit(secrets: Secrets, nodes: int) -> None:
    """Staged values that differ from the committed ones, in every lifecycle state."""
    store.save_settings("systemConfig", {"systemName": "dumptest2"})
    store.save_settings("databaseConfig", {"rootPass": secrets("databaseConfig", "rootPass", 99)})
    first = store.list_records("subscribers").items[0]
    second = store.list_records("subscribers").items[1]
    store.update_record("subscribers", first.id, {"password": secrets("subscribers", "password",
                                                                      99)})
    store.update_record("subscribers", second.id, {"domain": "example.org"})
    last_node = store.list_records("haNodes").items[-1]
    if nodes > 1:
        store.delete_record("haNodes", last_node.id)  # marked, with its fence
    store.create_record("subscribers", {"username": "7000", "domain": "example.com",
                                        **secrets.page("subscribers", 100)})


# -- helpers ---------------------------------------------------------------------------------


def download(client, path: str = "/databaseUtilities/download") -> tuple[dict, str, str]:
    """(document, its text, the file name) of one download."""
    response = client.get(path)
    assert response.status_code == 200, response.data[:500]
    assert response.mimetype == "application/gzip"
    assert response.headers["Cache-Control"] == "no-store"
    name = re.search(r'filename="?([^";]+)', response.headers["Content-Disposition"]).group(1)
    text = gzip.decompress(response.data).decode("utf-8")
    return json.loads(text), text, name


def store_tables(instance: Path) -> dict[str, int]:
    with sqlite3.connect(instance / "genweb.sqlite") as connection:
        names = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {name: connection.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
                for name in names}


def rows(document: dict, table: str) -> list[dict]:
    return document["webInterface"]["tables"][table]["rows"]


def records(document: dict, kind: str) -> list[dict]:
    return [row for row in rows(document, "record") if row["kind"] == kind]


def leaked(text: str, secrets: list[str]) -> list[str]:
    return [secret for secret in secrets if secret in text]


def screen_width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def dbshow(*args: str, python: str = "/usr/bin/python3", env: dict | None = None,
           check: bool = True, isolated: bool = True) -> subprocess.CompletedProcess[str]:
    """dbShow as an operator runs it: by default the system Python, isolated (-I: no
    PYTHONPATH, no user site), so a file must display without genweb or Flask."""
    environment = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", **(env or {})}
    done = subprocess.run([python, *(["-I"] if isolated else []), str(DBSHOW), *args],
                          capture_output=True, text=True, env=environment, timeout=60)
    if check:
        assert done.returncode == 0, done.stderr
    return done


# -- the download ----------------------------------------------------------------------------


@pytest.fixture
def seeded(app) -> list[str]:
    with app.app_context():
        return seed_store()


def test_the_file_holds_every_table_of_the_store_and_no_secret(client, instance, seeded):
    document, text, name = download(client)

    assert not leaked(text, seeded), "secrets in the downloaded file"
    assert FILE_NAME.fullmatch(name) and FILE_NAME.fullmatch(name)["system"] == "dumptest2"
    assert document["format"] == "genweb-database-dump" and document["formatVersion"] == 1
    assert document["genwebVersion"] == __version__ and document["requestedBy"] == "operator"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["createdAt"])
    tables = document["webInterface"]["tables"]
    counts = store_tables(instance)
    assert set(tables) == set(counts) >= {"setting", "page_state", "record", "record_key",
                                          "generated"}
    assert {name: len(table["rows"]) for name, table in tables.items()} == counts


def test_staged_and_committed_values_and_lifecycle_flags(client, seeded):
    document, _, _ = download(client)
    settings = {(row["page"], row["key"]): row for row in rows(document, "setting")}
    assert settings["systemConfig", "systemName"] == {
        "page": "systemConfig", "key": "systemName", "staged": "dumptest2",
        "committed": "dumptest"}
    assert (settings["databaseConfig", "rootPass"]["staged"],
            settings["databaseConfig", "rootPass"]["committed"]) == (MASK, MASK)
    assert settings["databaseConfig", "dbroPass"]["staged"] == MASK

    nodes = records(document, "haNodes")
    assert [(n["data"]["nodeName"], n["state"], n["marked"]) for n in nodes] == [
        ("node1", "committed", False), ("node2", "committed", False), ("node3", "deleted", True)]
    assert nodes[0]["data"]["sshPassword"] == nodes[0]["committed"]["sshPassword"] == MASK
    fences = {f["data"]["fenceName"]: f for f in records(document, "fences")}
    assert fences["fence3"]["marked_by_node"] and fences["fence3"]["state"] == "deleted"
    assert fences["fence1"]["data"]["fenceSnmpPrivPass"] == MASK
    subscribers = records(document, "subscribers")
    assert len(subscribers) == 51
    states = {s["data"]["username"]: s["state"] for s in subscribers}
    assert (states["5000"], states["5001"], states["5002"], states["7000"]) == (
        "changed", "changed", "committed", "new")  # a new password; a new domain
    assert all(s["data"]["ha1"] == s["data"]["ha1b"] == MASK for s in subscribers)
    tls = records(document, "tlsProxyConfigs")
    assert {r["data"]["tlsRole"] for r in tls if r["permanent"]} == {"client", "server"}
    assert [r["data"]["tlsPrivateKey"] for r in tls if not r["permanent"]] == ["proxy.key"]
    assert {row["name"]: row["value"] for row in rows(document, "generated")} == dict.fromkeys(
        MAKERS, MASK)


def test_an_unreachable_cluster_is_a_section_of_the_file_not_a_failure(client, seeded):
    document, _, _ = download(client)
    proxy = document["proxy"]
    assert proxy["status"] == "unavailable" and proxy["tables"] == {}
    # Never-recorded host keys: the nodes are not even contacted (no traffic to unvouched hosts).
    assert [(a["node"], a["host"]) for a in proxy["attempts"]] == [
        ("node1", "198.18.0.11"), ("node2", "198.18.0.12"), ("node3", "198.18.0.13")]
    assert all("host key not recorded" in a["outcome"] and "cpsshkeys" in a["outcome"]
               for a in proxy["attempts"])


def test_with_ms_sql_the_proxy_database_is_not_read(client):
    document, _, name = download(client)
    assert FILE_NAME.fullmatch(name)["system"] == "genproxysa"  # the manual's default name
    assert document["proxy"]["status"] == "not read"
    assert "MS SQL" in document["proxy"]["reason"]


def test_a_misconfigured_node_connector_still_gives_the_file(app, client, seeded):
    app.config["NODE_CONNECTOR"] = "carrier-pigeon"
    document, text, _ = download(client)
    assert not leaked(text, seeded) and document["webInterface"]["tables"]["record"]["rows"]
    assert document["proxy"]["status"] == "not read"
    assert "node access is misconfigured" in document["proxy"]["reason"]


def test_the_api_gives_the_same_file(client, seeded):
    page, _, _ = download(client)
    api, text, name = download(client, "/api/database/download")
    assert not leaked(text, seeded) and FILE_NAME.fullmatch(name)
    for document in (page, api):
        del document["createdAt"]
    assert api == page
    described = client.get("/openapi/openapi.json").json["paths"]["/api/database/download"]
    assert "application/gzip" in described["get"]["responses"]["200"]["content"]


def test_the_page_offers_the_button_and_says_where_the_proxy_database_comes_from(client, app):
    with app.app_context():
        store.save_settings("databaseConfig", {"dbEngine": "MySQL"})
        store.create_record("haNodes", node_values(1, "198.18.0.11"))
    page = client.get("/databaseUtilities").get_data(as_text=True)
    assert ">Download Database</button>" in page
    assert 'action="/databaseUtilities/download"' in page
    # the sidebar link, marked as the page being shown
    assert re.search(r'<a href="/databaseUtilities" *aria-current="page">Database Utilities</a>',
                     page)
    assert "node1 (198.18.0.11)" in page


def test_tables_added_later_are_dumped_with_their_secrets_masked(client, app, instance):
    """A future table (or a log line) that copies a secret must not leak it."""
    with app.app_context():
        store.save_settings("databaseConfig", {"rootPass": "RootPw-copied-7731"})
    with sqlite3.connect(instance / "genweb.sqlite") as connection:
        connection.execute("CREATE TABLE audit_note (id INTEGER PRIMARY KEY, message TEXT, "
                           "api_token TEXT, flags JSON)")
        connection.execute("INSERT INTO audit_note VALUES (1, 'set rootPass RootPw-copied-7731', "
                           "'tok-5521', '{\"userPassword\": \"pw-8812\", \"n\": 1}')")
    document, text, _ = download(client)
    assert not leaked(text, ["RootPw-copied-7731", "tok-5521", "pw-8812"])
    assert rows(document, "audit_note") == [{"id": 1, "message": f"set rootPass {MASK}",
                                             "api_token": MASK,
                                             "flags": {"userPassword": MASK, "n": 1}}]


# -- dbShow ----------------------------------------------------------------------------------


@pytest.fixture
def dump_file(client, seeded, tmp_path) -> Path:
    response = client.get("/databaseUtilities/download")
    path = tmp_path / "genweb-database-dumptest2.json.gz"
    path.write_bytes(response.data)
    return path


def assert_fits(output: str, width: int = 80) -> list[str]:
    lines = output.splitlines()
    too_wide = [line for line in lines if screen_width(line) > width]
    assert not too_wide, f"{len(too_wide)} lines wider than {width}: {too_wide[:3]}"
    return lines


def test_dbshow_shows_a_file_in_80_columns_without_genweb(dump_file, seeded):
    shown = dbshow(str(dump_file)).stdout
    lines = assert_fits(shown)
    assert not leaked(shown, seeded)
    assert lines[0].startswith("genweb database · system dumptest2 · ")
    assert any(line.startswith("proxy database kamailio: unavailable") for line in lines)
    assert "══ HA Nodes: record haNodes (3) " in shown
    assert re.search(r"^ *\d+  deleted +3 +node3 +198\.18\.0\.13", shown, re.M)
    assert re.search(r"^databaseConfig +rootPass +\*{8} +\*{8}$", shown, re.M)
    assert re.search(r"^systemConfig +systemName +dumptest2 +dumptest$", shown, re.M)
    subscriber_lines = [line for line in lines if re.match(r" *\d+  (new|committed|changed) +\d{4}"
                                                           r" ", line)]
    assert len(subscriber_lines) == 51
    assert all(re.search(r"subscribers\.a-rather\S*…  \*{8}  \*{8}  \*{8}$", line)
               for line in subscriber_lines if LONG_DOMAIN[:10] in line)
    for table in ("setting", "page_state", "record_key", "generated"):
        assert f"══ web interface: {table} (" in shown


def test_dbshow_all_columns_and_one_table(dump_file, seeded):
    every = dbshow(str(dump_file), "--all-columns").stdout
    assert_fits(every)
    assert not leaked(every, seeded)
    assert re.search(r"^sshPassword +\*{8}$", every, re.M)
    assert re.search(rf"^committed\.domain +{LONG_DOMAIN[:20]}", every, re.M)  # 5001, changed

    one = dbshow(str(dump_file), "--table", "fences").stdout
    assert one.splitlines()[0].startswith("══ Fences: record fences (3) ")
    assert "HA Nodes" not in one and len(one.splitlines()) == 1 + 2 + 3

    listed = dbshow(str(dump_file), "--table", "list").stdout.split()
    assert listed[:3] == ["setting", "page_state", "haNodes"] and "subscribers" in listed

    unknown = dbshow(str(dump_file), "--table", "nosuch", check=False)
    assert unknown.returncode == 1 and "no table named nosuch" in unknown.stderr
    assert "subscribers" in unknown.stderr


def test_dbshow_falls_back_to_ascii_and_honours_width(dump_file):
    ascii_only = dbshow(str(dump_file), env={"PYTHONIOENCODING": "ascii"},
                        isolated=False).stdout  # -I would ignore PYTHONIOENCODING
    assert ascii_only.isascii() and "..." in ascii_only
    wide = assert_fits(dbshow(str(dump_file), "--width", "120").stdout, 120)
    assert any(LONG_DOMAIN in line for line in wide)


def test_dbshow_refuses_what_is_not_a_dump(tmp_path):
    other = tmp_path / "other.json.gz"
    other.write_bytes(gzip.compress(b'{"hello": 1}'))
    done = dbshow(str(other), check=False)
    assert done.returncode == 1 and "not a genweb database file" in done.stderr
    missing = dbshow(str(tmp_path / "missing.gz"), check=False)
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def test_dbshow_instance_shows_the_local_store(app, instance, seeded):
    with app.app_context():
        store.db.session.remove()
    by_option = dbshow("--instance", str(instance), python=sys.executable).stdout
    # The system Python has no genweb: dbShow re-runs itself with the venv's beside bin/.
    by_environment = dbshow(env={"GENWEB_INSTANCE": str(instance)}).stdout
    for shown in (by_option, by_environment):
        assert_fits(shown)
        assert not leaked(shown, seeded)
        assert "proxy database kamailio: not read: dbShow --instance shows this web" in shown
        assert "══ Subscribers: record subscribers (51) " in shown
    missing = dbshow("--instance", str(instance / "nowhere"), python=sys.executable, check=False)
    assert missing.returncode == 1 and "no genweb store at" in missing.stderr
    no_venv = dbshow("--instance", str(instance), env={"GENWEB_REEXEC": "1"}, check=False)
    assert no_venv.returncode == 1 and "Run dbShow with genweb's Python" in no_venv.stderr
