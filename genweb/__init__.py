"""genweb: the web interface of the Genesis High Availability Proxy Server."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError, CSRFProtect

__version__ = "0.1.0"

csrf = CSRFProtect()


def instance_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Where the store and credentials live: --instance, else $GENWEB_INSTANCE, else ./instance."""
    chosen = explicit or os.environ.get("GENWEB_INSTANCE") or Path.cwd() / "instance"
    return Path(chosen).resolve()


def _secret_key(instance: Path) -> str:
    """A per-instance random key, kept so sessions and CSRF tokens survive restarts."""
    path = instance / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_text().strip()


def create_app(test_config: dict[str, Any] | None = None,
               instance: str | os.PathLike | None = None) -> Flask:
    """The application factory (Flask's tutorial shape)."""
    folder = instance_dir(instance or (test_config or {}).get("INSTANCE"))
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=str(folder), instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=_secret_key(folder),
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder / 'genweb.sqlite'}",
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"timeout": 30}},
        HTPASSWD=str(folder / "htpasswd"),
        WTF_CSRF_TIME_LIMIT=None,  # an operator may keep a page open for hours
        INDEX_PAGE_SIZE=100,
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,
        VERSION=__version__,
        NODE_CONNECTOR="tcp",  # how commits reach nodes: "tcp", or "lab:NAME" (docs/lab.md)
    )
    app.config.from_pyfile("config.py", silent=True)
    if test_config:
        app.config.update(test_config)

    from .store import db, ensure_defaults
    from .store.tx import configure_sqlite

    db.init_app(app)
    csrf.init_app(app)
    with app.app_context():
        configure_sqlite(db.engine)
        db.create_all()
        ensure_defaults()

    _register_auth(app)
    _register_blueprints(app)
    _register_errors(app)
    return app


def _register_auth(app: Flask) -> None:
    from .auth import auth

    @app.before_request
    @auth.login_required
    def _require_login() -> None:
        """Every route, static files included, needs HTTP basic auth."""


def _register_blueprints(app: Flask) -> None:
    from .api import register as register_api
    from .blueprints import register

    register(app)
    register_api(app)


def _register_errors(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        return render_template("error.html", code=400, title="Form expired",
                               message="The form was not accepted (" + error.description + "). "
                               "Nothing was saved: reload the page and try again."), 400

    @app.errorhandler(404)
    def _not_found(_error):
        return render_template("error.html", code=404, title="Not found",
                               message="There is no such page or record."), 404

    @app.errorhandler(500)
    def _server_error(_error):
        return render_template("error.html", code=500, title="Internal error",
                               message="Something went wrong on the server. The details are in the "
                               "server log; reload the page to see what was saved."), 500
