"""Value grammars of the manual, as pure checkers.

Each checker takes the operator's text (already stripped, never empty) and returns the
normalised value to store, or raises :class:`Invalid` with a message for the operator.
Nothing here imports Flask: the pages, the API and the commit plan all call the same code.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Callable

Checker = Callable[[str], str]


class Invalid(ValueError):
    """A value the operator must correct; the message is shown beside the field."""


# -- atoms -----------------------------------------------------------------------------------

# Always used with fullmatch: "$" would also match before a trailing newline, and a newline
# smuggled into a host name would end up inside a generated configuration file.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_DOTTED_NUMERIC = re.compile(r"[0-9.]+")
# ASCII digits only: str.isdigit() also accepts '²' or '５', which int() then rejects or reads.
_DIGITS = re.compile(r"[0-9]{1,10}")

HOSTNAME_HINT = "letters, numbers and '-' in dot-separated labels, such as gw1.example.com"


def is_ipv4(text: str) -> bool:
    """True for a dotted-quad IPv4 address (no leading zeros, no shorthand)."""
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def is_hostname(text: str) -> bool:
    """True for an RFC 1123 host name (a dotted number must be a valid IPv4 instead)."""
    if not text or len(text) > 253 or _DOTTED_NUMERIC.fullmatch(text):
        return False
    name = text[:-1] if text.endswith(".") else text
    return all(_LABEL.fullmatch(label) for label in name.split("."))


def is_host(text: str) -> bool:
    return is_ipv4(text) or is_hostname(text)


def parse_port(text: str) -> int:
    if not text:
        raise Invalid("the port after ':' is missing: give a port number (1-65535) or leave out "
                      "the ':'")
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= 65535:
        raise Invalid(f"'{text}' is not a port number (1-65535)")
    return int(text)


def parse_mask(text: str) -> int:
    """A subnet mask in CIDR (24) or contiguous dot-decimal (255.255.255.0) form -> prefix length."""
    if _DIGITS.fullmatch(text):
        if not 0 <= int(text) <= 32:
            raise Invalid(f"'{text}' is not a CIDR prefix length (0-32)")
        return int(text)
    if is_ipv4(text):
        bits = int(ipaddress.IPv4Address(text))
        inverted = ~bits & 0xFFFFFFFF
        if inverted & (inverted + 1) == 0:  # ones then zeros: a contiguous mask
            return 32 - inverted.bit_length()
        raise Invalid(f"'{text}' is not a contiguous subnet mask: its 1 bits must all come first, "
                      "as in 255.255.255.0 or 255.255.0.0")
    if not text:
        raise Invalid("the subnet after '/' is missing: give a CIDR prefix such as 24 or a "
                      "dot-decimal mask such as 255.255.255.0, or leave out the '/'")
    raise Invalid(f"'{text}' is not a subnet mask (CIDR such as 24 or dot-decimal such as 255.255.255.0)")


def split_entries(text: str) -> list[str]:
    """List values: several entries per line, separated by commas and/or white space."""
    return [item for item in re.split(r"[\s,]+", text) if item]


def split_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# -- single values ---------------------------------------------------------------------------


def ipv4(value: str) -> str:
    if not is_ipv4(value):
        raise Invalid(f"'{value}' is not an IPv4 address: four numbers 0-255 separated by dots, "
                      "without leading zeros (such as 192.168.1.10)")
    return value


def host(value: str) -> str:
    if not is_host(value):
        raise Invalid(f"'{value}' is not an IPv4 address (such as 192.168.1.10) or a host name "
                      f"({HOSTNAME_HINT})")
    return value


def subnet_mask(value: str) -> str:
    prefix = parse_mask(value)
    return str(prefix) if _DIGITS.fullmatch(value) else value  # "024" is stored as "24"


def port(value: str) -> str:
    return str(parse_port(value))


def integer(low: int, high: int | None = None, *, also: tuple[int, ...] = ()) -> Checker:
    """A whole number in [low, high], or one of the values in ``also``."""

    def check(value: str) -> str:
        if not re.fullmatch(r"[0-9]+", value):
            raise Invalid(f"'{value}' is not a whole number (digits 0-9 only)")
        # Past 18 digits the number is out of any range here, and int() refuses 4300+ digits.
        number = int(value) if len(value) <= 18 else 10**18
        if number in also or (number >= low and (high is None or number <= high)):
            return str(number)
        allowed = f"{low}-{high}" if high is not None else f"{low} or more"
        if also:
            allowed = " or ".join([*map(str, also), allowed])
        shown = number if len(value) <= 18 else f"{value[:12]}..."
        raise Invalid(f"{shown} is out of range (allowed: {allowed})")

    return check


def pattern(regex: str, what: str, max_length: int = 255) -> Checker:
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if len(value) > max_length:
            raise Invalid(f"too long (at most {max_length} characters)")
        if not compiled.fullmatch(value):
            raise Invalid(f"'{value}' is not valid: {what}")
        return value

    return check


def header_text(value: str) -> str:
    """A SIP header value: printable ASCII, no quotes or backslashes (it lands in kamailio.cfg)."""
    if len(value) > 128:
        raise Invalid("too long (at most 128 characters)")
    if not re.fullmatch(r"[\x20-\x7e]+", value) or '"' in value or "\\" in value:
        raise Invalid("use printable characters only, without quotes or backslashes")
    return value


def hex32(value: str) -> str:
    if not re.fullmatch(r"[0-9A-Fa-f]{32}", value):
        raise Invalid("must be 32 hexadecimal digits (an MD5 hash)")
    return value.lower()


_PVT_DIR = "/etc/ssl/genproxy_pvt"


def pvt_file(value: str) -> str:
    """A key or certificate file confined to /etc/ssl/genproxy_pvt; stored as the bare name."""
    name = value
    if value.startswith("/"):
        head, _, name = value.rpartition("/")
        if head.rstrip("/") != _PVT_DIR:
            raise Invalid(f"'{value}': the file must be in '{_PVT_DIR}'; enter its name there, "
                          "such as proxy.key")
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}", name):
        raise Invalid(
            f"'{value}' is not a file name in '{_PVT_DIR}': use letters, numbers, '.', '-' and "
            "'_', without '/' or '..' (such as proxy.key)"
        )
    return name


def abs_path(value: str) -> str:
    """An absolute file or directory path on the nodes, without '..' or unusual characters."""
    if not value.startswith("/"):
        raise Invalid(f"'{value}' is not an absolute path: it must start with '/', such as "
                      "/etc/ssl/certs/ca.pem")
    if not re.fullmatch(r"[A-Za-z0-9._/+@-]{1,255}", value):
        raise Invalid("path may contain only letters, numbers, '.', '_', '-', '+', '@' and '/' "
                      "(at most 255 characters)")
    if "/../" in value + "/":
        raise Invalid(f"'{value}': write the path without '..'")
    return value


# Kamailio's cfg_parser (tls.cfg, http_client.cfg) refuses a value longer than this
# ("Token too long"), and the module then stops Kamailio from starting.
CFG_PARSER_MAX = 512


def cipher_list(value: str) -> str:
    """An OpenSSL cipher list (9.2.11, 10.2.10). OpenSSL must select at least one cipher from it:
    Kamailio's tls module refuses to start on a list that selects none."""
    if len(value) > CFG_PARSER_MAX:
        raise Invalid(f"too long (at most {CFG_PARSER_MAX} characters)")
    if not re.fullmatch(r"[A-Za-z0-9:+!@=_.,-]+", value):
        raise Invalid("must be an OpenSSL cipher list such as 'HIGH:!aNULL:!MD5'")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).set_ciphers(value)
    except ssl.SSLError:
        raise Invalid(f"OpenSSL selects no cipher from '{value}': use an OpenSSL cipher list "
                      "such as 'HIGH:!aNULL:!MD5'") from None
    return value


def config_password(value: str) -> str:
    """A password written into a Kamailio configuration file (notifyPassword, http_client.cfg):
    a quoted string there carries any printable text, but no control character."""
    if len(value) > 256:
        raise Invalid("too long (at most 256 characters)")
    if re.search(r"[\x00-\x1f\x7f]", value):
        raise Invalid("use printable characters only (no tabs, line breaks or other control "
                      "characters)")
    return value


def pass_phrase(value: str) -> str:
    """An SNMPv3 pass phrase of a fence (6.2.11, 6.2.13): the fence agent hands it to snmpget as
    a command-line argument, which cannot hold a NUL character (the agent then fails to fence)."""
    if len(value) > 256:
        raise Invalid("too long (at most 256 characters)")
    if "\n" in value or "\r" in value:
        raise Invalid("must be a single line")
    if "\x00" in value:
        raise Invalid("the NUL character cannot be part of a pass phrase: the fence agent passes "
                      "it to snmpget on a command line")
    return value


def db_url_password(value: str) -> str:
    """dbrwPass travels in Kamailio 5.6's db_url, whose parser stops at '/'. With MS SQL,
    db_unixodbc pastes it unquoted into the ODBC connection string "...;PWD=<dbrwPass>;", where
    ';' ends it (the rest would be read as further connection attributes) and a leading '{'
    starts a braced value."""
    if "/" in value:
        raise Invalid("Kamailio cannot use a database password containing '/': choose another")
    if ";" in value or value.startswith("{"):
        raise Invalid("Kamailio's ODBC connection (MS SQL) cannot carry a password containing ';' "
                      "or starting with '{': choose another")
    if len(value) > 256 or re.search(r"[\x00-\x1f\x7f]", value):
        raise Invalid("use at most 256 printable characters")
    return value


# -- the manual's list grammars --------------------------------------------------------------


def address_entry(entry: str) -> str:
    """``<IP Address>[:<port>][/<subnet>]`` (7.1.11-7.1.13)."""
    match = re.fullmatch(r"([^:/]+)(?::([^/]*))?(?:/(.*))?", entry)
    if not match or not is_ipv4(match.group(1)):
        raise Invalid(f"'{entry}' is not <IP Address>[:<port>][/<subnet>] with an IPv4 address "
                      "(such as 192.0.2.7, 192.0.2.7:5060 or 192.0.2.0/24)")
    address, port_text, mask = match.groups()
    if port_text is not None:
        _in_entry(entry, parse_port, port_text)
    if mask is not None:
        if ":" in mask:
            raise Invalid(f"'{entry}': put the port before the subnet, as "
                          "<IP Address>:<port>/<subnet>")
        prefix = _in_entry(entry, parse_mask, mask)
        network = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)
        # A host address with a mask is ambiguous (one host, or its whole subnet?): refuse it and
        # say both ways of writing what the operator may have meant.
        if network.network_address != ipaddress.IPv4Address(address):
            raise Invalid(f"'{entry}': a /{prefix} subnet starts at {network.network_address}; "
                          f"enter {network.network_address}/{mask} for the whole subnet, or "
                          f"{address} alone for one address")
    return entry


def _in_entry(entry: str, parse: Callable[[str], int], text: str) -> int:
    """Run ``parse`` on a part of a list entry; a refusal names the whole entry."""
    try:
        return parse(text)
    except Invalid as exc:
        raise Invalid(f"'{entry}': {exc}") from None


def _entry_list(value: str, check: Checker) -> str:
    """Check every entry; keep the operator's lines, with single spaces between entries."""
    lines = []
    for line in value.splitlines():
        entries = [check(item) for item in split_entries(line)]
        if entries:
            lines.append(" ".join(entries))
    return "\n".join(lines)


def address_list(value: str) -> str:
    return _entry_list(value, address_entry)


def host_port(entry: str) -> str:
    """``<address>[:<port>]`` or ``<host>[:<port>]``."""
    name, sep, port_text = entry.partition(":")
    if not is_host(name):
        raise Invalid(f"'{entry}' is not <address>[:<port>] or <host>[:<port>] (an IPv4 address "
                      f"or a host name: {HOSTNAME_HINT})")
    if sep:
        _in_entry(entry, parse_port, port_text)
    return entry


def host_port_list(value: str) -> str:
    return _entry_list(value, host_port)


def alias_list(value: str) -> str:
    """One ``<hostname>[:<port>]`` per line (3.11)."""
    lines = split_lines(value)
    for line in lines:
        if re.search(r"[\s,]", line):
            raise Invalid(f"'{line}': enter each hostname on a separate line")
        name, sep, port_text = line.partition(":")
        if not is_host(name):
            raise Invalid(f"'{line}' is not <hostname>[:<port>] (a host name: {HOSTNAME_HINT}; "
                          "or an IPv4 address)")
        if sep:
            _in_entry(line, parse_port, port_text)
    return "\n".join(lines)


def socket_entry(protocols: tuple[str, ...]) -> Checker:
    """``[<proto>:]<ip>[:<port>]`` with proto one of ``protocols``."""

    grammar = (f"[<proto>:]<ip>[:<port>] with <proto> one of {', '.join(protocols)} and <ip> "
               "an IPv4 address")

    def check(entry: str) -> str:
        parts = entry.split(":")
        proto = parts.pop(0).lower() if parts and not is_ipv4(parts[0]) else None
        if not parts or len(parts) > 2 or not is_ipv4(parts[0]):
            raise Invalid(f"'{entry}' is not {grammar}")
        if proto is not None and proto not in protocols:
            raise Invalid(f"'{entry}': the protocol must be one of {', '.join(protocols)}")
        if len(parts) == 2:
            _in_entry(entry, parse_port, parts[1])
        return entry if proto is None else f"{proto}:{':'.join(parts)}"

    return check


def socket_list(protocols: tuple[str, ...]) -> Checker:
    one = socket_entry(protocols)

    def check(value: str) -> str:
        return _entry_list(value, one)

    return check


def notify_url(value: str) -> str:
    """``[http[s]://]<server>[:<port>]`` (10.2.1); an optional path is allowed (docs/decisions.md)."""
    if len(value) > 255:  # http_client.cfg holds it (with http:// added): CFG_PARSER_MAX
        raise Invalid("too long (at most 255 characters)")
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", value)
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        raise Invalid(f"'{value}': only http:// or https:// may come before the server")
    if re.match(r"https?:(?!//)", value, re.I):
        raise Invalid(f"'{value}': write the scheme as http:// or https://, with two slashes")
    if scheme and value[scheme.end():scheme.end() + 1] in ("", ":", "/", "?", "#"):
        raise Invalid(f"'{value}': the server after '{scheme.group(0)}' is missing")
    match = re.fullmatch(r"(?:(https?)://)?([^/:?#]+)(?::([^/?#]*))?(/[^\s?#]*)?", value, re.I)
    if not match or not is_host(match.group(2)):
        raise Invalid(f"'{value}' is not [http[s]://]<server>[:<port>] (<server> an IPv4 address "
                      "or a host name, such as https://is.example.com:8443)")
    scheme_text, server, port_text, path = match.groups()
    if port_text is not None:
        port_text = str(_in_entry(value, parse_port, port_text))
    if path and not re.fullmatch(r"[A-Za-z0-9._~/%+-]*", path):
        raise Invalid(f"'{value}': the path has characters that are not allowed")
    # Scheme and server are case-insensitive: store them in lower case, so that notifyURL's
    # uniqueness is not dodged by HTTPS://IS.example.com beside https://is.example.com.
    return "".join([f"{scheme_text.lower()}://" if scheme_text else "", server.lower(),
                    f":{port_text}" if port_text is not None else "", path or ""])


_PARAMS = r"(?:;[A-Za-z0-9_.!~*'+-]+(?:=[A-Za-z0-9_.!~*'+:-]+)?)*"
_SIP_USER = r"[A-Za-z0-9_.!~*'()&=+$,?/%-]+"


def sip_uri(value: str) -> str:
    """``[sip[s]:]<URI>[;<parameters>]`` (12.2.10): URI is [user@]host[:port]."""
    if re.fullmatch(r"sips?:", value, re.I):
        raise Invalid(f"'{value}': the URI after '{value}' is missing, such as sip:sip.example.net")
    match = re.fullmatch(rf"(?:(sips?):)?(?:({_SIP_USER})@)?([^:;@]+)(?::([0-9]*))?({_PARAMS})",
                         value, re.I)
    if not match or not is_host(match.group(3)):
        raise Invalid(f"'{value}' is not [sip[s]:]<URI>[;<parameters>] (such as "
                      "sip:sip.example.net;transport=tcp)")
    if match.group(4) is not None:
        _in_entry(value, parse_port, match.group(4))
    return value


def contact_addr(value: str) -> str:
    """``<host>[:<port>][;<parameters>]`` without a scheme (12.2.13)."""
    if re.match(r"sips?:", value, re.I):
        raise Invalid(f"'{value}': do not prepend 'sip:' or 'sips:'; enter "
                      "<host>[:<port>][;<parameters>] such as 203.0.113.10:5060;transport=tcp")
    match = re.fullmatch(rf"([^:;]+)(?::([0-9]*))?({_PARAMS})", value)
    if not match or not is_host(match.group(1)):
        raise Invalid(f"'{value}' is not <host>[:<port>][;<parameters>] (such as "
                      "203.0.113.10:5060;transport=tcp)")
    if match.group(2) is not None:
        _in_entry(value, parse_port, match.group(2))
    return value


def db_host(value: str) -> str:
    """``[<protocol>:]<host>[,<port>]`` (13.1.3)."""
    match = re.fullmatch(r"(?:([A-Za-z]+):)?([^,:]+)(?:,(.*))?", value)
    if not match or not is_host(match.group(2)):
        hint = " (the port follows a comma: sql.example.com,1433)" if re.fullmatch(
            r"(?:[A-Za-z]+:)?[^,:]+:[0-9]+", value) else " (such as tcp:sql.example.com,1433)"
        raise Invalid(f"'{value}' is not [<protocol>:]<host>[,<port>]{hint}")
    if match.group(1) and match.group(1).lower() != "tcp":
        raise Invalid(f"'{value}': the only protocol the MS SQL ODBC driver supports is 'tcp'")
    if match.group(3) == "":
        raise Invalid(f"'{value}': the port after ',' is missing: give a port number (1-65535) "
                      "or leave out the ','")
    if match.group(3) is not None:
        _in_entry(value, parse_port, match.group(3))
    return value


def tls_domain(value: str) -> str:
    """``<IP Address>:<port>``, both required (9.2.1); 'default' names the two default sections."""
    if value == "default":
        return value
    address, sep, port_text = value.partition(":")
    if not sep or not is_ipv4(address):
        raise Invalid(f"'{value}' is not <IP Address>:<port>: both an IPv4 address and a port "
                      "are required, such as 192.0.2.20:5061")
    return f"{address}:{_in_entry(value, parse_port, port_text)}"


# -- helpers for cross-field rules -----------------------------------------------------------


def in_subnet(address: str, network_address: str, mask: str) -> bool:
    """Whether ``address`` lies in the subnet of ``network_address``/``mask``."""
    try:
        prefix = parse_mask(mask)
        network = ipaddress.IPv4Network(f"{network_address}/{prefix}", strict=False)
        return ipaddress.IPv4Address(address) in network
    except (Invalid, ValueError):
        return False
