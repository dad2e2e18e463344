"""Fixtures of the TLS tests: the test PKI and one MariaDB for the session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.render.kamailio_helpers import MariaDB
from tests.tls.pki import Pki, make_pki

TOOLS = ("kamailio", "kamcmd", "openssl", "mariadbd", "mariadb-install-db", "mariadb")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    if missing:
        skip = pytest.mark.skip(reason=f"needs {', '.join(missing)} (scripts/test.sh installs it)")
        for item in items:
            if "tests/tls/" in str(item.fspath).replace("\\", "/"):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def tls_mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    server = MariaDB(tmp_path_factory.mktemp("tls-mariadb")).start()
    yield server
    server.stop()
