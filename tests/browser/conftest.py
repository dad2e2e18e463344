"""Real-browser fixtures: Debian's Chromium driven by Playwright against a live genweb server.

One browser for the whole session (it is the slow part); a fresh instance folder, app and
server per test, so every test starts from an empty store. CSRF stays ENABLED: the browser
submits the token as an operator's would.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from browserkit import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CREDENTIALS,
    PASSWORD,
    TIMEOUT_MS,
    USER,
    Dialogs,
    Live,
    served,
)

from genweb import create_app
from genweb.auth import set_password


@pytest.fixture(scope="session")
def browser(playwright_session):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium): "
                    "the real-browser tests need it")
    chromium = playwright_session.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                  args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def live(tmp_path) -> Iterator[Live]:
    """A fresh instance served on 127.0.0.1 (random port) with CSRF protection on."""
    folder = tmp_path / "instance"
    folder.mkdir()
    set_password(folder / "htpasswd", USER, PASSWORD)
    app = create_app({"WTF_CSRF_ENABLED": True}, instance=folder)
    with served(app) as url:
        yield Live(app, url, folder)


@pytest.fixture
def context(browser, live):
    """A browser profile logged in with basic auth; JavaScript on."""
    ctx = browser.new_context(base_url=live.url,
                              http_credentials=CREDENTIALS)
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def dialogs(page) -> Dialogs:
    """Every dialog of ``page``, recorded; accepted unless the test sets ``dialogs.accept``."""
    return Dialogs(page)
