"""HTTP basic authentication against an htpasswd file that nginx can share.

Passwords are stored as salted SHA-512 crypt hashes (``$6$``), a format both nginx's
``auth_basic_user_file`` (through the system crypt) and this application verify.
"""

from __future__ import annotations

import hmac
import os
import re
import tempfile
from pathlib import Path

from flask import current_app
from flask_httpauth import HTTPBasicAuth

try:  # the crypt module left the standard library in Python 3.13
    import crypt as _crypt
except ImportError:  # pragma: no cover - newer Pythons use the crypt-r package
    import crypt_r as _crypt

REALM = "Genesis High Availability Proxy Server"
USERNAME = re.compile(r"[A-Za-z0-9._-]{1,64}")

auth = HTTPBasicAuth(realm=REALM)


def hash_password(password: str) -> str:
    return _crypt.crypt(password, _crypt.mksalt(_crypt.METHOD_SHA512))


def read_users(path: Path) -> dict[str, str]:
    users: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return users
    for line in text.splitlines():
        name, sep, hashed = line.strip().partition(":")
        if sep and name and not name.startswith("#"):
            users[name] = hashed
    return users


def set_password(path: Path, username: str, password: str) -> bool:
    """Create or change a user; returns True when the user is new. Writes atomically."""
    if not USERNAME.fullmatch(username):
        raise ValueError("user names may contain letters, numbers, '.', '_' and '-' only")
    if not password:
        raise ValueError("the password must not be empty")
    users = read_users(path)
    created = username not in users
    users[username] = hash_password(password)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".htpasswd.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.writelines(f"{name}:{hashed}\n" for name, hashed in sorted(users.items()))
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return created


def check_password(path: Path, username: str, password: str) -> bool:
    hashed = read_users(path).get(username)
    if not hashed or not password:
        return False
    return hmac.compare_digest(_crypt.crypt(password, hashed) or "", hashed)


@auth.verify_password
def _verify(username: str, password: str) -> str | None:
    if username and check_password(Path(current_app.config["HTPASSWD"]), username, password):
        return username
    return None


@auth.error_handler
def _unauthorized(status: int):
    from flask import jsonify, render_template, request

    if request.path.startswith("/api/"):
        return jsonify(code=status, status="Unauthorized",
                       message="HTTP basic authentication is required"), status
    return render_template("unauthorized.html"), status
