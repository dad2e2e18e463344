"""The lab suite: one 3-node lab per test session, torn down and checked at the end.

Skips (with the reason) only where the lab cannot exist: not root, or no ``ip netns``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from genweb import nodes

from .labkit import (
    built_lab,
    client_instance,
    host_view,
    lab_targets,
    lab_unavailable,
    recorded_access,
    sweep_orphaned_test_labs,
)


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "lab: needs root and network namespaces (tests/lab)")


@pytest.fixture(scope="session")
def host_before() -> dict[str, object]:
    """The host's default namespace before the lab (and after any orphaned test lab left)."""
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    sweep_orphaned_test_labs()
    return host_view()


# The session's lab; a module that needs a cluster of its own overrides these four fixtures
# with module-scoped ones built from the functions above (tests/lab/test_status_lab.py).


@pytest.fixture(scope="session")
def lab(host_before):
    yield from built_lab()
    assert host_view() == host_before, "the host's default namespace changed"


@pytest.fixture(scope="session")
def web_instance(lab, tmp_path_factory) -> Path:
    return client_instance(lab, tmp_path_factory.mktemp("web-instance"))


@pytest.fixture(scope="session")
def access(lab, web_instance) -> nodes.NodeAccess:
    return recorded_access(lab, web_instance)


@pytest.fixture(scope="session")
def targets(lab) -> list[nodes.Target]:
    return lab_targets(lab)
