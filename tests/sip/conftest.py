"""Fixtures of the SIP scenarios: one MariaDB for the session, a notification receiver, and the
order of the tests that straddle the session.

Outbound registrations are sent by Kamailio's uac timer, which runs at start and then every
90 s (7.1.9). Tests marked ``early`` run first and start their proxies; tests marked ``late``
run last and see what the second timer run sent, so the wait overlaps the rest of the suite.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.render.kamailio_helpers import MariaDB
from tests.sip.harness import NotifyServer

TOOLS = ("kamailio", "kamcmd", "sipp", "mariadbd", "mariadb-install-db", "mariadb")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "early: SIP test that starts a proxy the late tests use")
    config.addinivalue_line("markers", "late: SIP test that needs the uac timer's second run")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    sip = [item for item in items if "tests/sip/" in str(item.fspath).replace("\\", "/")]
    if missing:
        skip = pytest.mark.skip(reason=f"needs {', '.join(missing)} (scripts/test.sh installs it)")
        for item in sip:
            item.add_marker(skip)
    early = [item for item in items if item.get_closest_marker("early")]
    late = [item for item in items if item.get_closest_marker("late")]
    rest = [item for item in items if item not in early and item not in late]
    items[:] = early + rest + late


@pytest.fixture(scope="session")
def sip_mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """The session's database server; every proxy gets its own database in it."""
    server = MariaDB(tmp_path_factory.mktemp("sip-mariadb")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def notify_server() -> Iterator[NotifyServer]:
    server = NotifyServer()
    yield server
    server.stop()
