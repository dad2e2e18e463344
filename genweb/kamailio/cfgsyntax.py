"""Quoting for the files Kamailio reads: kamailio.cfg strings and the ini-style files of the
tls and http_client modules (Kamailio's cfg_parser). Operator text only ever reaches those files
through these functions, so it cannot end a string, start a directive or add a line.
"""

from __future__ import annotations

import re

# Control characters (newline, CR, NUL ...) cannot be written in either syntax: refuse them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class CfgValueError(ValueError):
    """An operator value that no quoting can make safe for the target file."""


def _check(value: str, what: str) -> str:
    if _CONTROL.search(value):
        raise CfgValueError(f"{what}: control characters (such as a line break) cannot be "
                            "written into Kamailio's configuration")
    return value


def cfg_str(value: str, what: str = "value") -> str:
    """A double-quoted kamailio.cfg string literal (the lexer knows \\" and \\\\)."""
    _check(value, what)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ini_str(value: str, what: str = "value") -> str:
    """A double-quoted value for tls.cfg / http_client.cfg (core cfg_parser, same escapes)."""
    return cfg_str(value, what)


def plain_token(value: str, pattern: str, what: str) -> str:
    """A value written without quotes (a header name, a realm in a PV format string): it must
    match ``pattern`` in full, which the catalogue's checker already guarantees."""
    if not re.fullmatch(pattern, value):
        raise CfgValueError(f"{what}: '{value}' cannot be written into Kamailio's configuration")
    return value


def comment_text(value: str, what: str = "value") -> str:
    """Operator text in a comment line: one line, nothing more."""
    return _check(value, what)


def db_url_password(password: str) -> str:
    """A password that Kamailio 5.6's db_url parser reads back unchanged.

    The parser (lib/srdb1/db_id.c) takes the text up to the last '@' as user:password, but a '/'
    in the password ends the host part first; later Kamailio versions fixed this, 5.6.3 did not.
    """
    _check(password, "dbrwPass")
    if "/" in password:
        raise CfgValueError("dbrwPass: Kamailio 5.6 cannot use a database password containing "
                            "'/' (its db_url parser stops there); choose a password without '/'")
    return password
