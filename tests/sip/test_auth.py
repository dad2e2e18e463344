"""Inbound authentication (7.1.5, 7.1.6, 11.2): every REGISTER is challenged (401) and then
accepted for a subscriber given by password, by ha1 or by ha1b; INVITEs to Genesis are
challenged (407) unless the source is in allowList."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.render.kamailio_helpers import MariaDB
from tests.sip.harness import PRIV, Endpoint, Lab, call, md5, start_lab

A1, PHONE, TRUSTED = "127.0.0.11", "127.0.0.101", "127.0.0.170"
SUBSCRIBERS = [
    {"username": "genesis_a-1", "domain": PRIV, "password": "genesis-pw"},
    {"username": "5001", "domain": PRIV, "password": "pw-5001"},
    {"username": "5002", "domain": PRIV, "ha1": md5(f"5002:{PRIV}:pw-5002")},
    {"username": "5003", "domain": PRIV, "ha1b": md5(f"5003@{PRIV}:{PRIV}:pw-5003")},
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, sip_mariadb: MariaDB) -> Iterator[Lab]:
    started = start_lab(tmp_path_factory.mktemp("auth"), sip_mariadb,
                        {"enableRegAuth": "Yes", "enableInviteAuth": "Yes",
                         "allowList": TRUSTED}, {"subscribers": SUBSCRIBERS})
    try:
        started.endpoint("A1", A1, "genesis_a-1", "genesis-pw")  # a Genesis authenticates too
        yield started
    finally:
        started.stop()


@pytest.mark.parametrize("user, auth_user, password", [
    ("5001", "5001", "pw-5001"),  # by password
    ("5002", "5002", "pw-5002"),  # by ha1 only: user name without the domain
    ("5003", f"5003@{PRIV}", "pw-5003"),  # by ha1b only: user name user@domain
])
def test_register_is_challenged_then_accepted(lab: Lab, user: str, auth_user: str,
                                              password: str) -> None:
    phone = Endpoint(lab.agents, PHONE, user, password)
    reg = phone.register(lab.proxy, auth_user=auth_user)
    assert [item.code for item in reg.responses()] == [401, 200], reg.describe()
    challenge = reg.responses()[0].header("WWW-Authenticate")
    assert challenge.startswith(f'Digest realm="{PRIV}"')
    assert reg.sent("REGISTER")[1].header("Authorization").startswith(
        f'Digest username="{auth_user}"')
    contacts = lab.proxy.sql(f"SELECT contact FROM location WHERE username='{user}'")
    assert contacts == [[f"sip:{user}@{PHONE}:{phone.port}"]]


def test_a_contact_missing_from_the_database_is_written_at_its_refresh(lab: Lab) -> None:
    """usrloc db_check_update: a contact Kamailio keeps in memory but whose row is missing (its
    write was refused while a replica waited for its promotion, docs/database.md) is inserted
    when the phone refreshes it, instead of an UPDATE of nothing that the next failover would
    lose."""
    phone = Endpoint(lab.agents, "127.0.0.102", "5001", "pw-5001")
    query = "SELECT contact FROM location WHERE username='5001' AND contact LIKE '%127.0.0.102%'"
    assert [item.code for item in phone.register(lab.proxy).responses()] == [401, 200]
    assert lab.proxy.sql(query) == [[f"sip:5001@127.0.0.102:{phone.port}"]]
    lab.proxy.sql("DELETE FROM location WHERE username='5001' AND contact LIKE '%127.0.0.102%'")
    assert lab.proxy.sql(query) == []
    assert [item.code for item in phone.register(lab.proxy).responses()] == [401, 200]
    assert lab.proxy.sql(query) == [[f"sip:5001@127.0.0.102:{phone.port}"]]


@pytest.mark.parametrize("user, auth_user, password", [
    ("5001", "5001", "wrong"),
    ("5002", f"5002@{PRIV}", "pw-5002"),  # no ha1b stored for 5002
    ("5003", "5003", "pw-5003"),  # no ha1 stored for 5003
    ("6000", "6000", "pw"),  # no such subscriber
])
def test_register_with_wrong_credentials_is_refused(lab: Lab, user: str, auth_user: str,
                                                    password: str) -> None:
    reg = Endpoint(lab.agents, "127.0.0.103", user, password).register(
        lab.proxy, auth_user=auth_user, check=False)
    assert reg.rc != 0
    assert [item.code for item in reg.responses()] == [401, 401], reg.describe()


def test_genesis_registered_with_credentials(lab: Lab) -> None:
    reg = lab.endpoints["A1"].registrations[-1]
    assert [item.code for item in reg.responses()] == [401, 200]
    assert lab.endpoints["A1"].uri in lab.proxy.destinations()


def test_invites_to_genesis_need_credentials_unless_allow_list(lab: Lab) -> None:
    genesis = lab.endpoints["A1"]
    uri = f"sip:5551234@{lab.proxy.public}"
    before = len(genesis.invites())
    # an unauthenticated INVITE from the phone: 407, Genesis sees nothing
    plain = call(lab.agents, lab.proxy, PHONE, uri, from_user="5001", recv_timeout_ms=2000)
    assert plain.codes() == [407], plain.describe()
    challenge = plain.responses()[0].header("Proxy-Authenticate")
    assert challenge.startswith(f'Digest realm="{PRIV}"')
    assert len(genesis.invites()) == before
    # answering the challenge: the call goes through
    authed = call(lab.agents, lab.proxy, PHONE, uri, from_user="5001", auth=("5001", "pw-5001"))
    assert authed.rc == 0, authed.describe()
    assert len(genesis.invites()) == before + 1
    assert "Proxy-Authorization" not in genesis.invites()[-1].text  # consumed
    # wrong credentials: challenged again, never through
    wrong = call(lab.agents, lab.proxy, PHONE, uri, from_user="5001", auth=("5001", "nope"),
                 recv_timeout_ms=2000)
    assert wrong.rc != 0 and wrong.codes().count(407) == 2, wrong.describe()
    # an allowList source (a provider) is not challenged
    trusted = call(lab.agents, lab.proxy, TRUSTED, uri)
    assert trusted.rc == 0 and 407 not in trusted.codes(), trusted.describe()
    assert len(genesis.invites()) == before + 2
    assert not lab.proxy.problems(), lab.proxy.problems()
