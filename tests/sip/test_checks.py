"""Registration checks for INVITEs to Genesis from untrusted sources: enableRegCheck (7.1.8,
the From user must be registered) and enableContactCheck (7.1.7, the From user must be
registered with this Contact; it wins over enableRegCheck). An INVITE that fails is ignored:
no answer, nothing reaches Genesis. allowList sources are not checked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.render.kamailio_helpers import MariaDB
from tests.sip.harness import Lab, call, genesis_subscribers, start_lab

A1, PHONE, OTHER, TRUSTED = "127.0.0.11", "127.0.0.101", "127.0.0.104", "127.0.0.170"


def checks_lab(folder, mariadb: MariaDB, proxy: dict[str, str]) -> Lab:
    lab = start_lab(folder, mariadb, {"allowList": TRUSTED, **proxy},
                    {"subscribers": genesis_subscribers("genesis_a-1", "5001", "5002")})
    lab.endpoint("A1", A1, "genesis_a-1")
    lab.endpoint("phone", PHONE, "5001")  # registered: Contact sip:5001@PHONE:<its port>
    return lab


@pytest.fixture(scope="module")
def reg_check(tmp_path_factory: pytest.TempPathFactory, sip_mariadb: MariaDB) -> Iterator[Lab]:
    lab = checks_lab(tmp_path_factory.mktemp("regcheck"), sip_mariadb, {"enableRegCheck": "Yes"})
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="module")
def contact_check(tmp_path_factory: pytest.TempPathFactory,
                  sip_mariadb: MariaDB) -> Iterator[Lab]:
    lab = checks_lab(tmp_path_factory.mktemp("contactcheck"), sip_mariadb,
                     {"enableContactCheck": "Yes", "enableRegCheck": "Yes"})
    try:
        yield lab
    finally:
        lab.stop()


def attempt(lab: Lab, source: str, from_user: str, contact: str = "") -> tuple[bool, object]:
    """One call to Genesis; (whether Genesis got the INVITE, the caller)."""
    before = len(lab.endpoints["A1"].invites())
    caller = call(lab.agents, lab.proxy, source, f"sip:5551234@{lab.proxy.public}",
                  from_user=from_user, contact=contact, recv_timeout_ms=1500)
    return len(lab.endpoints["A1"].invites()) > before, caller


def test_reg_check_lets_registered_from_users_in(reg_check: Lab) -> None:
    phone = reg_check.endpoints["phone"]
    # the registered user 5001, even from another address and Contact
    reached, caller = attempt(reg_check, OTHER, "5001", f"sip:5001@{OTHER}:5999")
    assert reached and caller.rc == 0, caller.describe()
    reached, caller = attempt(reg_check, PHONE, "5001", f"sip:5001@{PHONE}:{phone.port}")
    assert reached and caller.rc == 0, caller.describe()
    # a subscriber that is not registered: ignored
    reached, caller = attempt(reg_check, OTHER, "5002")
    assert not reached and not caller.responses(), caller.describe()
    # the same from allowList: not checked
    reached, caller = attempt(reg_check, TRUSTED, "5002")
    assert reached and caller.rc == 0, caller.describe()
    assert not reg_check.proxy.problems(), reg_check.proxy.problems()


def test_contact_check_needs_the_registered_contact(contact_check: Lab) -> None:
    phone = contact_check.endpoints["phone"]
    registered = f"sip:5001@{PHONE}:{phone.port}"
    reached, caller = attempt(contact_check, PHONE, "5001", registered)
    assert reached and caller.rc == 0, caller.describe()
    # registered user, other Contact: ignored although enableRegCheck alone would let it in
    reached, caller = attempt(contact_check, PHONE, "5001", f"sip:5001@{PHONE}:5999")
    assert not reached and not caller.responses(), caller.describe()
    reached, caller = attempt(contact_check, OTHER, "5002")
    assert not reached and not caller.responses(), caller.describe()
    reached, caller = attempt(contact_check, TRUSTED, "5002")
    assert reached and caller.rc == 0, caller.describe()
    assert not contact_check.proxy.problems(), contact_check.proxy.problems()
