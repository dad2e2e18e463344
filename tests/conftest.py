"""Shared fixtures: an application on a throw-away instance folder, and a logged-in client."""

from __future__ import annotations

import base64
import os

import pytest

# The network rule (DESIGN.md 5): node connections from any test reach only loopback and the
# lab's ranges, whatever addresses a test or a fuzzer puts into the configuration.
os.environ["GENWEB_ALLOWED_NETWORKS"] = "127.0.0.0/8,198.18.0.0/15"

from genweb import create_app
from genweb.auth import set_password
from genweb.store import db

USER, PASSWORD = "operator", "correct horse"


def basic_auth(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def instance(tmp_path):
    folder = tmp_path / "instance"
    folder.mkdir()
    set_password(folder / "htpasswd", USER, PASSWORD)
    return folder


@pytest.fixture
def app(instance):
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False}, instance=instance)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(app):
    """An application context, for calling the store directly."""
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    """A test client that sends the operator's basic-auth credentials on every request."""
    test_client = app.test_client()
    test_client.environ_base["HTTP_AUTHORIZATION"] = basic_auth()["Authorization"]
    return test_client


@pytest.fixture(scope="session")
def playwright_session():
    """One Playwright driver for the whole run: its sync API allows only one per thread, and
    both the browser tests and the install tests drive Chromium."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        pytest.skip("the Python playwright package is not installed (pip install -e .[test])")
    with sync_playwright() as playwright:
        yield playwright
