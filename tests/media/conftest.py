"""Fixtures of the media tests: one MariaDB and one rtpengine (from the rendered
rtpengine.conf) for the session; each module starts the Kamailio configurations it needs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.media.lab import MediaPorts, MediaRtpengine, media_snapshot
from tests.render.kamailio_helpers import MariaDB
from tests.render.media_helpers import free_port_range

TOOLS = ("kamailio", "kamcmd", "sipp", "mariadbd", "mariadb-install-db", "mariadb", "rtpengine",
         "rtpengine-ctl", "redis-server", "openssl")
MISSING = [tool for tool in TOOLS if not shutil.which(tool)]
MODULES = ("test_nat.py", "test_encryption.py")  # test_failover.py checks its own tools


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not MISSING:
        return
    skip = pytest.mark.skip(reason=f"needs {', '.join(MISSING)} (scripts/test.sh installs it)")
    for item in items:
        if Path(str(item.fspath)).name in MODULES:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def media_mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    server = MariaDB(tmp_path_factory.mktemp("media-mariadb")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rtpengine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaRtpengine]:
    """rtpengine with the rendered configuration: tos, a free port range, timeout 3 s."""
    folder = tmp_path_factory.mktemp("media-rtpengine")
    engine = MediaRtpengine(folder, media_snapshot(MediaPorts(), rtp_ports=free_port_range(200)))
    try:
        yield engine.start()
    finally:
        engine.stop()
