"""HTTP dispatcher control on dispatchListenSock (7.1.24-7.1.29, docs/dispatcher-http.md):
GET shows the primary set, POST sets it (and the calls follow), HTTP digest with
dispatchAuthPassword, or with only dispatchAuthHa1 / only dispatchAuthHa1b; nothing without
credentials."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from requests.auth import HTTPDigestAuth

from tests.render.kamailio_helpers import MariaDB
from tests.sip.harness import (
    PRIV,
    Lab,
    Ports,
    calls_reach,
    genesis_subscribers,
    md5,
    start_lab,
)

USER, REALM, PASSWORD = "genesis_is", "proxy.example.test", "s3cret-Pass"
A1, B1, PROVIDER = "127.0.0.11", "127.0.0.13", "127.0.0.120"


def control_lab(folder, mariadb: MariaDB, auth: dict[str, str], genesis: bool) -> Lab:
    ports = Ports()
    lab = start_lab(folder, mariadb, {"dispatchListenSock": f"tcp:{PRIV}:{ports.http}",
                                      "dispatchAuthUser": USER, "dispatchAuthRealm": REALM,
                                      "allowList": PROVIDER, **auth},
                    {"subscribers": genesis_subscribers("genesis_a-1", "genesis_b-1")}, ports)
    if genesis:
        lab.endpoint("A1", A1, "genesis_a-1")
        lab.endpoint("B1", B1, "genesis_b-1")
    return lab


@pytest.fixture(scope="module")
def with_password(tmp_path_factory: pytest.TempPathFactory,
                  sip_mariadb: MariaDB) -> Iterator[Lab]:
    lab = control_lab(tmp_path_factory.mktemp("http-password"), sip_mariadb,
                      {"dispatchAuthPassword": PASSWORD}, genesis=True)
    try:
        yield lab
    finally:
        lab.stop()


def url(lab: Lab) -> str:
    return lab.proxy.http + "/dispatcher"


def test_refused_without_or_with_wrong_credentials(with_password: Lab) -> None:
    for method in ("get", "post"):
        reply = getattr(requests, method)(url(with_password), json={"primary": 0}, timeout=5)
        assert reply.status_code == 401
        challenge = reply.headers["WWW-Authenticate"]
        assert challenge.startswith(f'Digest realm="{REALM}"') and "nonce=" in challenge
    wrong = requests.get(url(with_password), auth=HTTPDigestAuth(USER, "wrong"), timeout=5)
    assert wrong.status_code == 401
    assert with_password.proxy.primary_set() == 1  # the refused POST changed nothing


def test_get_and_post_the_primary_set_and_the_calls_follow(with_password: Lab) -> None:
    lab = with_password
    auth = HTTPDigestAuth(USER, PASSWORD)
    state = requests.get(url(lab), auth=auth, timeout=5)
    assert state.status_code == 200 and state.headers["Content-Type"] == "application/json"
    assert state.json() == {"primary": 1, "backup": 0, "primaryActive": True,
                            "backupActive": True}
    assert calls_reach(lab, PROVIDER, 2, "A1", "B1") == {"A1": 2, "B1": 0}

    # POST {"primary": 0}: set 0 is primary, and that is where the calls go
    posted = requests.post(url(lab), auth=auth, json={"primary": 0}, timeout=5)
    assert posted.status_code == 200, posted.text
    assert posted.json() == {"primary": 0, "backup": 1, "primaryActive": True,
                             "backupActive": True}
    assert calls_reach(lab, PROVIDER, 2, "A1", "B1") == {"A1": 0, "B1": 2}
    assert requests.get(url(lab), auth=auth, timeout=5).json()["primary"] == 0

    # the user@realm name with the HA1B computed from the password works too; a string holding
    # the number is accepted
    posted = requests.post(url(lab), auth=HTTPDigestAuth(f"{USER}@{REALM}", PASSWORD),
                           json={"primary": "1"}, timeout=5)
    assert posted.status_code == 200 and posted.json()["primary"] == 1
    assert calls_reach(lab, PROVIDER, 2, "A1", "B1") == {"A1": 2, "B1": 0}

    # a body that names no set: 400, nothing changes
    bad = requests.post(url(lab), auth=auth, data="primary=0", timeout=5)
    assert bad.status_code == 400 and "error" in bad.json()
    assert lab.proxy.primary_set() == 1
    assert not lab.proxy.problems(), lab.proxy.problems()


@pytest.mark.parametrize("given, works, refused", [
    ("dispatchAuthHa1", USER, f"{USER}@{REALM}"),
    ("dispatchAuthHa1b", f"{USER}@{REALM}", USER),
])
def test_only_one_hash_given(tmp_path_factory: pytest.TempPathFactory, sip_mariadb: MariaDB,
                             given: str, works: str, refused: str) -> None:
    hashes = {"dispatchAuthHa1": md5(f"{USER}:{REALM}:{PASSWORD}"),
              "dispatchAuthHa1b": md5(f"{USER}@{REALM}:{REALM}:{PASSWORD}")}
    lab = control_lab(tmp_path_factory.mktemp(given), sip_mariadb, {given: hashes[given]},
                      genesis=False)
    try:
        assert requests.get(url(lab), timeout=5).status_code == 401
        state = requests.get(url(lab), auth=HTTPDigestAuth(works, PASSWORD), timeout=5)
        assert state.status_code == 200 and state.json()["primary"] == 1
        posted = requests.post(url(lab), auth=HTTPDigestAuth(works, PASSWORD),
                               json={"primary": 0}, timeout=5)
        assert posted.status_code == 200 and posted.json()["primary"] == 0
        other = requests.get(url(lab), auth=HTTPDigestAuth(refused, PASSWORD), timeout=5)
        assert other.status_code == 401
        assert not lab.proxy.problems(), lab.proxy.problems()
    finally:
        lab.stop()
