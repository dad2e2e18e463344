"""No injection (issue 4, point 8): hostile text in every free-text key either is refused by the
catalogue's validation or reaches the rendered files confined to where it belongs, and the
engines still accept the files.

Every key of kind text, list or secret (read from the catalogue) gets hostile text: quotes,
backslashes, line breaks, ``#!`` directives, shell and Kamailio pseudo-variable syntax, control
characters, unicode (RTL overrides, emoji, combining marks), very long strings, and the key's
own example with all of that spliced in. Each example goes through the validation the pages and
the API run (``Page.validate`` on the merged values; the store's uniqueness checks are mimicked),
then render, then:

- **confinement**: the same snapshot is rendered a second time with every accepted value's
  special characters replaced by ``x`` (the *sanitized* render). kamailio.cfg, tls.cfg,
  http_client.cfg and the crm script are lexed (strings, comments, code) and must have the very
  same code in both renders: hostile text only ever changes the inside of a string literal or a
  comment, and each such literal unescapes to the hostile text. Every other file must be byte
  for byte the same (the values never reach them), except the fence pass-phrase files, which
  hold the pass phrase exactly, and the alert destinations, which must parse back to the values.
  The database rows carry the values verbatim (parameters, never SQL text), and the db_url is
  read back the way Kamailio 5.6 and unixODBC read it.
- **engines**: ``kamailio -c`` on kamailio.cfg for both database engines (it exits 0 even with
  errors, so its output is read); a short-lived Kamailio loading only the tls and http_client
  modules with the rendered tls.cfg and http_client.cfg, since ``kamailio -c`` never reads them
  (the modules parse them in mod_init, which also loads the TLS files and cipher lists), and
  reading back what they parsed; ``crm configure load update`` into an offline CIB file and
  ``crm_verify``, then the CIB's attributes read back (the fence pass phrases must not be
  there); each SNMPv3 fence agent run on its CIB parameters with a fake snmpget, which must get
  the pass phrases byte for byte; ``corosync -t`` on corosync.conf when a node address is local.

Many keys are hostile at once in each example so that one engine run covers them all, and the
engines run side by side; a crm script crmsh has already verified is not loaded again (the keys
that reach the CIB take addresses and names only, so most examples repeat the baseline's). A
derandomized run keeps CI reproducible; GENWEB_INJECTION_EXAMPLES sets the number of examples
(40: about a minute). There is no shrinking (each step would rerun the engines): a failure
names the key, and the notes list every accepted hostile value with repr().
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from genweb.catalogue import PAGES, Invalid, Kind, Page
from genweb.catalogue.pages import DB_MSSQL, DB_MYSQL
from genweb.commit import alerts, cluster, database
from genweb.commit.render import Rendered, render
from genweb.commit.secrets import new_default_tls
from genweb.commit.snapshot import Snapshot
from genweb.kamailio import model as kam
from genweb.kamailio.tlscfg import tls_sockets
from tests.render.kamailio_helpers import Daemon, Kamailio, free_port, problems, tool_missing
from tests.render.test_cluster import agent_snmp_argv

TOOLS = ("kamailio", "kamcmd", "crm", "cibadmin", "crm_verify", "crm_simulate", "corosync")
pytestmark = pytest.mark.skipif(bool(tool_missing(*TOOLS)), reason=tool_missing(*TOOLS) or "")

FREE_TEXT = (Kind.TEXT, Kind.LIST, Kind.SECRET)

# -- what the commit generates (fixed: render must be deterministic) ---------------------------

_KEY_PEM, _CERT_PEM = new_default_tls()
GENERATED = {
    "rtpDbPass": "Zq3_x-9TfL0wNs7uVbYc2dEe",
    "corosyncAuthkey": base64.b64encode(bytes(range(256))).decode(),
    "kamailioDefaultKey": _KEY_PEM,
    "kamailioDefaultCert": _CERT_PEM,
}

# -- the baseline: every feature on, every free-text key set ---------------------------------

BASE_SETTINGS: dict[str, dict[str, str]] = {
    "systemConfig": {
        "systemName": "genproxysa", "privateIP": "127.0.0.100", "privatePort": "5060",
        "privatePortTLS": "5061", "privateSubnet": "8", "privatePing": "127.0.0.1",
        "publicIP": "198.51.100.10", "publicPort": "5060", "publicPortTLS": "5061",
        "publicPing": "127.0.0.254", "alias": "proxy.example.com\nproxy.example.com:5061",
        "mappedIP": "127.0.0.101", "mappedPort": "5062", "mappedPortTLS": "5063",
        "startAtBoot": "Yes", "onFailMode": "Fence", "startup-fencing": "Yes",
    },
    "proxyConfig": {
        "serverHeader": "Acme SBC (v2/linux)", "userAgent": "Acme UA 1.0", "enableTLS": "Yes",
        "rrIgnoreSips": "Yes", "enableRegAuth": "Yes", "enableInviteAuth": "Yes",
        "enableContactCheck": "Yes", "enableRegCheck": "Yes", "enableNAT": "Yes",
        "notifyCaCert": "/etc/ssl/certs/ca-certificates.crt",
        "denyList": "198.51.100.7\n203.0.113.0/24, 192.0.2.5:5060",
        "allowList": "198.51.100.20 198.51.100.21:5060", "proxyList": "192.168.40.0/255.255.255.0",
        "dispatchPriUser": "genesis_a", "dispatchSecUser": "genesis_b",
        "dispatchListenSock": "127.0.0.100:8080 tls:127.0.0.100:8443",
        "dispatchAuthUser": "genesis_is", "dispatchAuthRealm": "proxy.example.com",
        "dispatchAuthPassword": "s3cret-pass",
        "dispatchAuthHa1": "0123456789abcdef0123456789abcdef",
        "dispatchAuthHa1b": "fedcba9876543210fedcba9876543210",
    },
    "mediaConfig": {
        "amtelcoMediaEncryption": "Amtelco.media_encryption", "rtpList": "192.0.2.10 sip.example.net:5060",
        "dtlsList": "192.0.2.11", "sdesList": "192.0.2.12:5061", "changeMediaEncryption": "Yes",
        "enableAvpf": "Yes",
    },
    "databaseConfig": {
        "rootPass": "root-pass-1", "dbHost": "tcp:sql.example.com,1433", "kamDatabase": "kamailio",
        "dbrwUser": "amtelco", "dbrwPass": "rw-pass-1", "dbroPass": "ro-pass-1",
        "replicationPass": "repl-pass-1",
    },
}


def _node(number: int) -> dict[str, str]:
    return {"nodeID": str(number), "nodeName": f"node{number}", "privateIP": f"127.0.0.{number}",
            "publicIP": f"127.0.1.{number}", "sshKeyEnable": "No", "sshPassword": f"ssh-pass-{number}"}


BASE_RECORDS: dict[str, list[dict[str, str]]] = {
    "haNodes": [_node(1), _node(2), _node(3)],
    "fences": [
        {"fenceName": "net1", "fenceNodeName": "node1", "fencePriority": "1",
         "fenceAgent": "fence_ifmib", "fenceDevicePlug": "sw-n1", "fenceDeviceIP": "127.0.0.250",
         "fenceDeviceIPPort": "161", "fenceSnmpVersion": "2c", "fenceSnmpUser": "private"},
        {"fenceName": "pdu2", "fenceNodeName": "node2", "fencePriority": "2",
         "fenceAgent": "fence_tripplite_snmp", "fenceDevicePlug": "2", "fenceDeviceIP": "pdu.example.net",
         "fenceDeviceIPPort": "1161", "fenceSnmpVersion": "3", "fenceSnmpUser": "pdu-admin",
         "fenceSnmpAuthProt": "SHA", "fenceSnmpAuthPass": "auth-pass-2",
         "fenceSnmpPrivProt": "AES", "fenceSnmpPrivPass": "priv-pass-2"},
        {"fenceName": "pdu3", "fenceNodeName": "node3", "fenceAgent": "fence_apc_snmp",
         "fenceDevicePlug": "3", "fenceDeviceIP": "127.0.0.251", "fenceSnmpVersion": "3",
         "fenceSnmpUser": "pdu-admin", "fenceSnmpAuthProt": "MD5", "fenceSnmpAuthPass": "auth-pass-3"},
    ],
    "tlsProxyConfigs": [
        {"tlsDomain": "default", "tlsRole": "server", "tlsCipherList": "HIGH:!aNULL:!MD5"},
        {"tlsDomain": "default", "tlsRole": "client"},
        {"tlsDomain": "127.0.0.9:5061", "tlsRole": "client", "method": "TLSv1.2",
         "tlsPrivateKey": "proxy.key", "tlsCertificate": "proxy.crt", "tlsVerify": "On",
         "tlsVerifyDepth": "3", "tlsCaPath": "/etc/ssl/genproxy_ca/", "tlsCaList": "/etc/ssl/ca-list.pem",
         "tlsCrl": "/etc/ssl/crl.pem", "tlsCipherList": "ECDHE+AESGCM:@STRENGTH"},
        {"tlsDomain": "127.0.0.100:5061", "tlsRole": "server", "tlsPrivateKey": "server.pem",
         "tlsVerify": "Optional", "tlsCaList": "/etc/ssl/genproxy_pvt/ca.pem",
         "tlsCipherList": "HIGH"},
    ],
    "notifies": [
        {"notifyURL": "https://is.example.com:8443/events/proxy", "notifyRedirect": "No",
         "notifyUser": "proxy", "notifyPassword": "notify-pass-1", "notifyUserAgent": "Genesis Proxy",
         "notifyVerifyPeer": "Yes", "notifyVerifyHost": "Yes", "notifyClientKey": "notify-client.key",
         "notifyClientCert": "notify-client.crt", "notifyCipherList": "HIGH:!aNULL",
         "notifyTlsVersion": "TLSv1.3+"},
        {"notifyURL": "192.0.2.30:8080", "notifyUser": "watcher", "notifyPassword": "notify-pass-2",
         "notifyUserAgent": "Watcher 2"},
    ],
    "subscribers": [
        {"username": "5000", "domain": "127.0.0.100", "password": "phone-pass"},
        {"username": "genesis_a-1", "domain": "proxy.example.com",
         "ha1": "00112233445566778899aabbccddeeff", "ha1b": "ffeeddccbbaa99887766554433221100"},
    ],
    "outboundRegistrations": [
        {"l_uuid": "trunk1", "l_username": "acct1", "l_domain": "provider.example.net",
         "r_username": "acct1", "r_domain": "provider.example.net", "realm": "provider",
         "auth_username": "acct1", "auth_password": "trunk-pass-1",
         "auth_proxy": "sip:sip.example.net;transport=tcp", "expires": "600",
         "reg_contact_addr": "203.0.113.10:5060;transport=tcp", "socket": "udp:127.0.0.100:5060"},
        {"l_uuid": "trunk2", "l_username": "acct2", "l_domain": "provider.example.net",
         "r_username": "acct2", "r_domain": "provider.example.net", "auth_username": "acct2",
         "auth_password": "trunk-pass-2", "auth_ha1": "0123456789abcdef0123456789abcdef",
         "auth_proxy": "sips:sip.example.net", "socket": "127.0.0.101"},
    ],
}

# Keys the store never lets an operator change, whatever the value: the default TLS sections'
# domain (9.1). Everything else of kind text, list or secret is fed hostile text.
LOCKED = {("tlsProxyConfigs", 0, "tlsDomain"), ("tlsProxyConfigs", 1, "tlsDomain")}


@dataclass(frozen=True)
class Slot:
    """One place an operator types text: a settings page's key, or a key of one record."""

    page: str
    index: int | None
    key: str

    @property
    def label(self) -> str:
        return f"{self.page}.{self.key}" if self.index is None else f"{self.page}[{self.index}].{self.key}"


def free_text_slots() -> tuple[Slot, ...]:
    slots = []
    for page in PAGES.values():
        keys = [key.name for key in page.keys if key.kind in FREE_TEXT]
        if page.collection:
            slots += [Slot(page.name, index, key) for index in range(len(BASE_RECORDS.get(page.name, [])))
                      for key in keys if (page.name, index, key) not in LOCKED]
        else:
            slots += [Slot(page.name, None, key) for key in keys]
    return tuple(slots)


SLOTS = free_text_slots()

# -- hostile text ----------------------------------------------------------------------------

# Characters that may land outside quotes (addresses, host names, ports, paths, names): every
# other character of an accepted value is "special" and must only ever reach string literals.
SAFE = re.compile(r"[A-Za-z0-9._:/@+,-]*")


def sanitize(text: str) -> str:
    return "".join(char if SAFE.fullmatch(char) else "x" for char in text)


NASTY = (
    '"', "'", "\\", "\\\\", '\\"', "\n", "\r", "\r\n", "\t", "\x00", "\x1b[31m", "\x7f", "\x0b",
    "#!", "#!define GRP_DENY 9", "#!substdef '/x/y/'", "!!define X", "# comment", "//", "/*", "*/",
    "$(id)", "`id`", "${IFS}", ";", "; exit;", '"; exit; "', "'; DROP TABLE subscriber; --",
    "{}", "{", "}", "[", "]", "[notify9]", "%", "%s%n", "%00", "$var(x)", "$(hdr(X))",
    "$(hdr(Via){s.select,0,;})", "$ru", "$avp(s:x)", "$$", "=>", "=", ",", "&", "|", "<>", "?",
    "*", "!", "~", "()", "a b", " leading", "trailing ", "@", ":", "/", "..", "../../etc/passwd",
    '\n[notify9]\nurl = "http://evil.example"', '"\nlisten=udp:0.0.0.0:5060\n#',
    "\nprimitive evil ocf:heartbeat:Dummy", "x\" op monitor interval=1s \"", "\u202eevil",
    "ab\u202ecd", "\u200b", "\ufeff", "\U0001f600", "e\u0301", "\u0301", "\u0627\u0644\u0639",
    "\u65e5\u672c", "\u00e9\u00e8", "\uff0e\uff0e", "GRP_DENY", "SET_PRI_USER", "WITH_TLS",
    "A" * 600, "9" * 600, "x/" * 300, "\u00e9" * 300, "HIGH:" * 120,
)
_PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7f))
_HOSTILE_CHARS = st.sampled_from(list(_PRINTABLE + "\t\n\r\x00\x1b\x7f\u202e\u0301\u00e9\U0001f600"))
GENERATED_TEXT = st.one_of(
    st.text(alphabet=_HOSTILE_CHARS, max_size=40),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
)
FRAGMENT = st.one_of(st.sampled_from(NASTY), st.text(alphabet=_HOSTILE_CHARS, min_size=1, max_size=8))


def splice(valid: str, fragment: str, at: int) -> str:
    position = at % (len(valid) + 1)
    return valid[:position] + fragment + valid[position:]


def base_value(slot: Slot) -> str:
    if slot.index is None:
        return BASE_SETTINGS.get(slot.page, {}).get(slot.key, "")
    return BASE_RECORDS[slot.page][slot.index].get(slot.key, "")


def valid_values(slot: Slot) -> list[str]:
    """The key's example and its baseline values (every record's, for a collection)."""
    values = [PAGES[slot.page].key(slot.key).example, base_value(slot)]
    if slot.index is not None:
        values += [record.get(slot.key, "") for record in BASE_RECORDS[slot.page]]
    return sorted({value for value in values if value})


CANDIDATE_CHARS = _PRINTABLE + "\t\n\x00\x7f\u202e\u200b\u0301\u00e9\u65e5\U0001f600"


def slipping_chars(slot: Slot) -> str:
    """The characters outside SAFE that the key's checker lets through inside one of its valid
    values: the ones that must then be confined. Found by asking the checker, one at a time."""
    key = PAGES[slot.page].key(slot.key)
    found = []
    for char in CANDIDATE_CHARS:
        if SAFE.fullmatch(char):
            continue
        tries = [splice(value, char, at) for value in valid_values(slot)
                 for at in (0, len(value) // 2, len(value))]
        for candidate in tries:
            try:
                key.clean(candidate)
            except Invalid:
                continue
            found.append(char)
            break
    return "".join(found)


def hostile(slot: Slot) -> st.SearchStrategy[str]:
    """Hostile text for one key: nasty samples, generated text, the key's own valid values with
    something nasty spliced in (often made of the special characters its checker lets through),
    and its valid values repeated into very long ones."""
    valid = valid_values(slot)
    strategies = [st.sampled_from(NASTY), GENERATED_TEXT]
    slipping = slipping_chars(slot)
    if valid and slipping:
        strategies.append(st.builds(splice, st.sampled_from(valid), st.text(
            alphabet=st.sampled_from(list(slipping)), min_size=1, max_size=12), st.integers(0, 400)))
    if valid:
        strategies += [
            st.builds(splice, st.sampled_from(valid), FRAGMENT, st.integers(0, 400)),
            st.builds(lambda value, times: value * times, st.sampled_from(valid), st.integers(2, 80)),
        ]
        if PAGES[slot.page].key(slot.key).kind is Kind.LIST:
            strategies.append(st.builds(lambda value, extra: f"{value}\n{extra}",
                                        st.sampled_from(valid), FRAGMENT))
    return st.one_of(*strategies)


HOSTILE = st.fixed_dictionaries({slot.label: hostile(slot) for slot in SLOTS})

# -- validation, as the pages and the API run it -------------------------------------------------


@dataclass
class Outcome:
    """What validation made of one example: the stored configuration and which values it took."""

    settings: dict[str, dict[str, str]]
    records: dict[str, list[dict[str, str]]]
    accepted: dict[Slot, str] = field(default_factory=dict)  # cleaned values that differ from the baseline
    refused: dict[Slot, tuple[str, str]] = field(default_factory=dict)  # value, message


def _check_messages(errors: Mapping[str, str]) -> None:
    for name, message in errors.items():
        assert isinstance(message, str) and message.strip(), (name, message)


def settle(page: Page, base: Mapping[str, str], drawn: Mapping[str, str]
           ) -> tuple[dict[str, str], dict[str, str], dict[str, tuple[str, str]]]:
    """Validate ``base`` with ``drawn`` merged in, as a save does; a refused key goes back to its
    baseline value (the operator corrects it) until the page saves. Returns (stored values,
    accepted drawn keys with their cleaned values, refused drawn keys)."""
    values = {**base, **drawn}
    refused: dict[str, tuple[str, str]] = {}
    while True:
        cleaned, errors = page.validate(values)
        _check_messages(errors)
        if not errors:
            break
        blamed = [name for name in errors if name in drawn and name not in refused]
        if not blamed:  # a cross-field rule blames a key nobody drew: undo the drawn keys one by one
            blamed = [next(name for name in drawn if name not in refused)]
        for name in blamed:
            refused[name] = (values[name], errors.get(name, "refused by a cross-field rule"))
            values[name] = base.get(name, page.key(name).initial())
    unchanged = {name: page.key(name).clean(base.get(name, page.key(name).initial())) for name in drawn}
    accepted = {name: cleaned[name] for name in drawn
                if name not in refused and cleaned[name] != unchanged[name]}
    return cleaned, accepted, refused


def _unique_key(page: Page, values: Mapping[str, str]) -> list[str]:
    return ["\x1f".join(values.get(key, "") for key in keys).lower() for keys in page.unique]


def validate_example(drawn_by_label: Mapping[str, str]) -> Outcome:
    by_place: dict[tuple[str, int | None], dict[str, str]] = {}
    for slot in SLOTS:
        by_place.setdefault((slot.page, slot.index), {})[slot.key] = drawn_by_label[slot.label]
    outcome = Outcome({}, {})

    def record(page_name: str, index: int | None, accepted: dict, refused: dict) -> None:
        outcome.accepted.update({Slot(page_name, index, k): v for k, v in accepted.items()})
        outcome.refused.update({Slot(page_name, index, k): v for k, v in refused.items()})

    for name, base in BASE_SETTINGS.items():
        stored, accepted, refused = settle(PAGES[name], base, by_place.get((name, None), {}))
        outcome.settings[name] = stored
        record(name, None, accepted, refused)
    for name, rows in BASE_RECORDS.items():
        page = PAGES[name]
        outcome.records[name] = []
        seen: set[str] = set()
        for index, base in enumerate(rows):
            drawn = dict(by_place.get((name, index), {}))
            if name == "fences":  # the store: fenceNodeName names a defined node (renamed with it)
                victim = int(base["fenceNodeName"].removeprefix("node")) - 1
                base = {**base, "fenceNodeName": outcome.records["haNodes"][victim]["nodeName"]}
            stored, accepted, refused = settle(page, base, drawn)
            others = {key for other, row in enumerate(rows) if other != index
                      for key in _unique_key(page, row)}
            if (seen | others) & set(_unique_key(page, stored)):  # the store: another record has it
                unique_keys = {key for keys in page.unique for key in keys}
                for key in unique_keys & set(accepted):
                    refused[key] = (accepted.pop(key), "another record already has it")
                stored, _, _ = settle(page, base, {k: v for k, v in drawn.items() if k not in refused})
            seen |= set(_unique_key(page, stored))
            outcome.records[name].append(stored)
            record(name, index, accepted, refused)
    return outcome


# -- the sanitized twin ------------------------------------------------------------------------

def snapshot(outcome: Outcome, engine: str, sanitized: bool = False) -> Snapshot:
    settings = {page: dict(values) for page, values in outcome.settings.items()}
    records = {page: [dict(row) for row in rows] for page, rows in outcome.records.items()}
    settings["databaseConfig"]["dbEngine"] = engine
    if sanitized:
        for slot, value in outcome.accepted.items():
            if PAGES[slot.page].key(slot.key).kind is Kind.LIST:
                continue  # list entries are addresses and names only (checked, never special)
            target = settings[slot.page] if slot.index is None else records[slot.page][slot.index]
            target[slot.key] = sanitize(value)
    return Snapshot.build(settings, records, GENERATED)


# -- lexing the files operator text reaches ------------------------------------------------------


@dataclass(frozen=True)
class Syntax:
    """How a file's reader splits it into code, string literals and comments."""

    quotes: Mapping[str, str]  # quote character -> escape style of its strings (see unescape)
    hash_comment: str  # '#' starts a comment "anywhere" in code, or only at the "line" start
    directives: bool = False  # kamailio.cfg: '#!' in code is a pre-processor directive (code)
    slash_comments: bool = False  # kamailio.cfg: '//' starts a line comment, '/*' a block one
    comment_escapes: bool = False  # cfg_parser: a backslash in a comment escapes the line break


# Kamailio 5.6's core/cfg.lex: "..." knows \n \r \a \t \" \\ \xHH \NNN and an escaped line
# break, other backslashes stay; '...' knows no escape at all.
KAMAILIO_CFG = Syntax({'"': "kamailio", "'": "none"}, "anywhere", directives=True,
                      slash_comments=True)
# core/cfg_parser.c (tls.cfg, http_client.cfg): "..." knows \\ \" \n \r \t and an escaped
# line break, and refuses any other escape.
CFG_PARSER = Syntax({'"': "cfg_parser"}, "anywhere", comment_escapes=True)
# crmsh splits lines as POSIX shlex does: inside "..." a backslash escapes only '"' and '\\'.
CRM = Syntax({'"': "shell", "'": "none"}, "line")

Token = tuple[str, str, int]  # kind (code, str, comment, broken), text, line


def lex(text: str, syntax: Syntax) -> list[Token]:
    tokens: list[Token] = []
    code: list[str] = []
    i, line, n = 0, 1, len(text)
    at_line_start = True  # nothing but white space since the last line break

    def flush() -> None:
        if code:
            tokens.append(("code", "".join(code), line))
            code.clear()

    def comment_end(start: int) -> int:
        j = start
        while j < n and text[j] != "\n":
            j += 2 if syntax.comment_escapes and text[j] == "\\" else 1
        return min(j, n)

    while i < n:
        char = text[i]
        if char in syntax.quotes:
            flush()
            j = i + 1
            while j < n and text[j] != char:
                j += 2 if syntax.quotes[char] != "none" and text[j] == "\\" else 1
            if j >= n:
                tokens.append(("broken", text[i:], line))
                return tokens
            tokens.append(("str", text[i:j + 1], line))
            line += text[i:j + 1].count("\n")
            i = j + 1
        elif char == "#" and syntax.directives and text[i + 1:i + 2] == "!":
            code.append("#!")  # a directive (#!KAMAILIO, #!define ...): code
            i += 2
        elif (char == "#" and (syntax.hash_comment == "anywhere" or at_line_start)) or (
                syntax.slash_comments and text.startswith("//", i)):
            flush()
            end = comment_end(i)
            tokens.append(("comment", text[i:end], line))
            line += text[i:end].count("\n")
            i = end
        elif syntax.slash_comments and text.startswith("/*", i):
            flush()
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            tokens.append(("comment", text[i:end], line))
            line += text[i:end].count("\n")
            i = end
        else:
            code.append(char)
            if char == "\n":
                flush()
                line += 1
            at_line_start = char == "\n" or (at_line_start and char in " \t")
            i += 1
            continue
        at_line_start = False
    flush()
    return tokens


class Unreadable(ValueError):
    """A string literal the engine's reader refuses (cfg_parser: an unsupported escape)."""


def unescape(token: str, style: str) -> str:
    """The text an engine reads from a string literal (quotes included in ``token``)."""
    body = token[1:-1]
    if style == "none":
        return body
    out, i = [], 0
    while i < len(body):
        char = body[i]
        if char != "\\" or i + 1 >= len(body):
            out.append(char)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt == "\n":  # an escaped line break: nothing
            i += 2
        elif style == "shell":
            out.append(nxt if nxt in '"\\' else "\\" + nxt)
            i += 2
        elif nxt in '"\\' or nxt in "nrt":
            out.append({"n": "\n", "r": "\r", "t": "\t"}.get(nxt, nxt))
            i += 2
        elif style == "cfg_parser":
            raise Unreadable(f"unsupported escape \\{nxt} in {token!r}")
        elif nxt == "a":
            out.append("\a")
            i += 2
        elif (hexa := re.match(r"x([0-9a-fA-F]{1,2})", body[i + 1:])):
            out.append(chr(int(hexa.group(1), 16)))
            i += 1 + len(hexa.group(0))
        elif (octal := re.match(r"[0-7]{2,3}", body[i + 1:])):
            out.append(chr(int(octal.group(0), 8) & 0xFF))
            i += 1 + len(octal.group(0))
        else:  # Kamailio keeps a backslash it does not know
            out.append(char)
            i += 1
    return "".join(out)


HEX32 = re.compile(r"[0-9a-f]{32}")


_CONFINED: set[tuple[str, str, int]] = set()  # pairs already checked (every node has the same files)


def confined(where: str, hostile_text: str, sanitized_text: str, syntax: Syntax) -> None:
    """The hostile file has exactly the code of its sanitized twin; only string literals and
    comments differ, and each unescapes to the hostile version of the twin's text."""
    if (hostile_text, sanitized_text, id(syntax)) in _CONFINED:
        return
    ours, twin = lex(hostile_text, syntax), lex(sanitized_text, syntax)
    for index, (mine, theirs) in enumerate(zip(ours, twin, strict=False)):
        same_shape = mine[0] == theirs[0] and (mine[0] != "code" or mine[1] == theirs[1])
        assert same_shape, (
            f"{where} line {mine[2]}: hostile text changed the code (not only a string):\n"
            f"  hostile:   {mine[1]!r}\n  sanitized: {theirs[1]!r}\n"
            f"  context:   {[token[1] for token in ours[max(0, index - 2):index + 3]]!r}")
        if mine[0] == "str":
            style = syntax.quotes[mine[1][0]]
            try:
                a, b = unescape(mine[1], style), unescape(theirs[1], style)
            except Unreadable as exc:
                raise AssertionError(f"{where} line {mine[2]}: {exc}") from None
        elif mine[0] == "comment":
            a, b = mine[1], theirs[1]
        else:
            continue
        assert sanitize(a) == sanitize(b) or (HEX32.fullmatch(a) and HEX32.fullmatch(b)), (
            f"{where} line {mine[2]}: a string does not read back as the operator's text:\n"
            f"  hostile token {mine[1]!r} reads {a!r}\n  sanitized twin reads {b!r}")
    assert len(ours) == len(twin), f"{where}: hostile text added or removed tokens"
    assert not any(token[0] == "broken" for token in ours), f"{where}: an unterminated string"
    _CONFINED.add((hostile_text, sanitized_text, id(syntax)))


def json_confined(where: str, mine: object, theirs: object) -> None:
    if isinstance(mine, dict):
        assert isinstance(theirs, dict) and mine.keys() == theirs.keys(), where
        for key in mine:
            json_confined(f"{where}.{key}", mine[key], theirs[key])
    elif isinstance(mine, list):
        assert isinstance(theirs, list) and len(mine) == len(theirs), where
        for index, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            json_confined(f"{where}[{index}]", a, b)
    elif isinstance(mine, str):
        assert isinstance(theirs, str) and sanitize(mine) == sanitize(theirs), (where, mine, theirs)
    else:
        assert mine == theirs, (where, mine, theirs)


_SQL_UNESCAPES = {"0": "\0", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "Z": "\x1a"}


def read_sql_literal(text: str) -> str:
    """A MariaDB single-quoted literal as the server reads it (default sql_mode)."""
    assert len(text) >= 2 and text[0] == text[-1] == "'", text
    out, chars = [], iter(text[1:-1])
    for char in chars:
        if char == "\\":
            escaped = next(chars)
            out.append(_SQL_UNESCAPES.get(escaped, escaped))
        else:
            assert char != "'", f"an unescaped quote ends the literal early: {text!r}"
            out.append(char)
    return "".join(out)


LEXED = {kam.KAMAILIO_CFG: KAMAILIO_CFG, kam.TLS_CFG: CFG_PARSER, kam.HTTP_CLIENT_CFG: CFG_PARSER}


def files_confined(snap: Snapshot, rendered: Rendered, twin: Rendered) -> None:
    assert rendered.files.keys() == twin.files.keys()
    secrets = {path: phrase for fence in snap.rows("fences")
               for path, phrase in cluster.fence_secrets(fence).values()}
    for node, files in rendered.files.items():
        theirs = {file.path: file for file in twin.files[node]}
        assert [file.path for file in files] == list(theirs), node
        for file in files:
            other = theirs[file.path]
            where = f"{node}:{file.path}"
            assert (file.mode, file.owner, file.group) == (other.mode, other.owner, other.group), where
            if file.path in LEXED:
                confined(where, file.content, other.content, LEXED[file.path])
            elif file.path == alerts.DESTINATIONS_FILE:
                json_confined(where, json.loads(file.content), json.loads(other.content))
            elif file.path in secrets:
                assert file.content == secrets[file.path], f"{where} is not the pass phrase itself"
            elif file.path == database.REPLICATION_PASSWORD_FILE:
                # one MariaDB string literal that reads back as replicationPass, nothing else
                assert file.content.count("\n") == 1, where
                assert read_sql_literal(file.content.rstrip("\n")) == snap.value(
                    "databaseConfig", "replicationPass"), where
            else:
                assert file.content == other.content, (
                    f"{where}: operator text reached a file that has no place for it")
    confined("crm script", rendered.crm, twin.crm, CRM)


# -- what the values mean where they land ----------------------------------------------------


def alert_destinations_hold_the_values(snap: Snapshot, rendered: Rendered) -> None:
    node = snap.nodes[0]["nodeName"]
    config = json.loads(rendered.file(node, alerts.DESTINATIONS_FILE).content)
    for destination, row in zip(config["destinations"], snap.rows("notifies"), strict=True):
        assert (destination["user"], destination["password"], destination["user_agent"]) == (
            row["notifyUser"], row["notifyPassword"], row["notifyUserAgent"])


def rows_hold_the_values(snap: Snapshot, rendered: Rendered) -> None:
    """Rows are parameters of the statements that write them: the values are data, verbatim."""
    subscribers = rendered.db_rows["subscriber"]
    for row, record in zip(subscribers, snap.rows("subscribers"), strict=True):
        assert (row["username"], row["domain"], row["password"]) == (record["username"], record["domain"], "")
    for row, record in zip(rendered.db_rows["uacreg"], snap.rows("outboundRegistrations"), strict=True):
        for key in ("l_uuid", "l_username", "l_domain", "r_username", "r_domain", "realm"):
            assert row[key] == record[key], key
        assert row["auth_username"] == (record["auth_username"] or record["r_username"])
        if record["auth_password"] and not record["realm"]:
            assert row["auth_password"] == record["auth_password"]
        elif record["auth_password"]:
            assert row["auth_password"] == ""  # hashed into auth_ha1 with the realm
        if record["reg_contact_addr"]:
            assert row["contact_addr"] == record["reg_contact_addr"]


def parse_db_url_56(url: str) -> dict[str, str]:
    """lib/srdb1/db_id.c of Kamailio 5.6 for scheme://user:password@host[:port]/database: the
    password runs to the last '@'; a '/' before it ends the host part instead (5.6's bug)."""
    match = re.fullmatch(r"([^:]+)://([^:@/]*):(.*)", url, re.S)
    assert match, url
    scheme, user, rest = match.groups()
    slash, at = rest.find("/"), rest.rfind("@")
    assert at >= 0 and (slash < 0 or slash > at), f"Kamailio 5.6 misreads {url!r}"
    host_db = rest[at + 1:]
    host, _, database = host_db.partition("/")
    return {"scheme": scheme, "user": user, "password": rest[:at], "host": host, "database": database}


def odbc_attributes(connection: str) -> dict[str, str]:
    """unixODBC's __get_attr: 'KEY=value;' pairs, a value starting with '{' runs to the '}'."""
    found, i = {}, 0
    while i < len(connection):
        while i < len(connection) and (connection[i].isspace() or connection[i] == ";"):
            i += 1
        if i >= len(connection):
            break
        equals = connection.find("=", i)
        if equals < 0:
            break
        key, i = connection[i:equals], equals + 1
        if connection[i:i + 1] == "{":
            end = i + 1
            while end < len(connection) and (connection[end] != "}" or connection[end + 1:end + 2] == "}"):
                end += 2 if connection[end] == "}" else 1
            value, i = connection[i + 1:end].replace("}}", "}"), end + 1
        else:
            end = connection.find(";", i)
            end = len(connection) if end < 0 else end
            value, i = connection[i:end], end
        found[key.upper()] = value
    return found


def db_url_holds_the_password(snap: Snapshot) -> None:
    password = snap.value("databaseConfig", "dbrwPass")
    url = kam.db_url(snap)
    parsed = parse_db_url_56(url)
    assert parsed["password"] == password, (url, parsed)
    if kam.db_module(snap) == "db_unixodbc":
        # db_unixodbc.c builds "DSN=<database>;UID=<user>;PWD=<password>;" without any quoting
        connection = f"DSN={parsed['database']};UID={parsed['user']};PWD={parsed['password']};"
        assert odbc_attributes(connection) == {"DSN": kam.ODBC_DSN, "UID": snap.value(
            "databaseConfig", "dbrwUser"), "PWD": password}, f"ODBC reads {connection!r} otherwise"


def hosts_hold_the_node_names(snap: Snapshot, rendered: Rendered) -> None:
    text = rendered.file(snap.nodes[0]["nodeName"], "/etc/hosts").content
    entries = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    assert all(len(entry) == 2 for entry in entries), text
    for node in snap.nodes:
        assert [node["privateIP"], node["nodeName"]] in entries, node


# -- the engines -------------------------------------------------------------------------------


def kamailio_checks(rendered: Rendered, snap: Snapshot, folder: Path) -> None:
    """``kamailio -c`` on the rendered kamailio.cfg (its paths moved into folder)."""
    files = [file for file in rendered.files[snap.nodes[0]["nodeName"]]
             if file.path.startswith(kam.KAMAILIO_DIR + "/")]
    runner = Kamailio(folder)
    runner.install(files, {kam.KAMAILIO_DIR + "/": f"{folder}/etc/", kam.PVT_DIR + "/": f"{folder}/pvt/"})
    runner.check()


_KEY_AND_CERT = _KEY_PEM + _CERT_PEM


def _crl() -> str:
    key = serialization.load_pem_private_key(_KEY_PEM.encode(), password=None)
    issuer = x509.load_pem_x509_certificate(_CERT_PEM.encode()).subject
    now = datetime.datetime.now(datetime.UTC)
    crl = (x509.CertificateRevocationListBuilder().issuer_name(issuer).last_update(now)
           .next_update(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    return crl.public_bytes(serialization.Encoding.PEM).decode()


CRL = _crl()
_TLS_FILE_LINE = re.compile(r'^(private_key|certificate|ca_list|crl|ca_path) = "(.*)"$', re.M)


def probe_files(tls_cfg: str, root: Path) -> str:
    """tls.cfg with every file it names moved under root (and created there): the tls module
    loads them at start-up, and a node has them (9.2.4-9.2.10 are the operator's files)."""

    count = iter(range(1000))

    def move(match: re.Match[str]) -> str:
        option, path = match.group(1), unescape(f'"{match.group(2)}"', "cfg_parser")
        target = Path(f"{root}/{next(count)}{path}")  # each its own: one may be another's folder
        if option == "ca_path":
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text({"crl": CRL, "ca_list": _CERT_PEM}.get(option, _KEY_AND_CERT))
        quoted = str(target).replace("\\", "\\\\").replace('"', '\\"')
        return f'{option} = "{quoted}"'

    return _TLS_FILE_LINE.sub(move, tls_cfg)


PROBE_CFG = """#!KAMAILIO
debug=3
log_stderror=yes
children=1
tcp_children=1
enable_tls=yes
{listens}
loadmodule "tls.so"
modparam("tls", "config", "{tls}")
{http}
loadmodule "ctl.so"
modparam("ctl", "binrpc", "unix:{ctl}")
request_route {{ drop; }}
"""


_SERVER_SECTION = re.compile(r"^\[server:([0-9.]+:[0-9]+)\]$", re.M)


def probe_sockets(tls_cfg: str) -> tuple[str, list[int]]:
    """The tls module refuses a server section whose <ip>:<port> is none of Kamailio's TLS
    sockets. The probe cannot bind the nodes' addresses: each server section moves to a TLS
    socket of its own on 127.0.0.1 (the domain is an address and a port, nothing hostile)."""
    ports: list[int] = []

    def move(match: re.Match[str]) -> str:
        ports.append(free_port((socket.SOCK_STREAM,)))
        return f"[server:127.0.0.1:{ports[-1]}]"

    return _SERVER_SECTION.sub(move, tls_cfg), ports


def _answers(ctl: Path) -> bool:
    """The RPC answers once every process is initialised (kamcmd may hang before: retry)."""
    if not ctl.exists():
        return False
    try:
        return subprocess.run(["kamcmd", "-s", f"unix:{ctl}", "core.uptime"], capture_output=True,
                              timeout=1).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def module_probe(snap: Snapshot, rendered: Rendered, folder: Path) -> str:
    """Kamailio with only the tls and http_client modules on the rendered tls.cfg and
    http_client.cfg: they parse them (and load the TLS files) at start-up, which ``kamailio -c``
    never does. Returns the start-up log once the RPC answers."""
    node = snap.nodes[0]["nodeName"]
    root = folder / "root"
    tls = folder / "probe-tls.cfg"
    tls_cfg, server_ports = probe_sockets(rendered.file(node, kam.TLS_CFG).content)
    tls.write_text(probe_files(tls_cfg, root))
    http = ""
    if snap.rows("notifies"):
        http_cfg = folder / "probe-http_client.cfg"
        http_cfg.write_text(rendered.file(node, kam.HTTP_CLIENT_CFG).content)
        http = f'loadmodule "http_client.so"\nmodparam("http_client", "config_file", "{http_cfg}")'
    for attempt in range(3):  # a free port may be taken before Kamailio binds it: try again
        log = _start_probe(folder / f"run{attempt}", tls, http, server_ports)
        if log is not None:
            return log
        tls_cfg, server_ports = probe_sockets(rendered.file(node, kam.TLS_CFG).content)
        tls.write_text(probe_files(tls_cfg, folder / f"root{attempt}"))
    raise AssertionError("Kamailio found no free TLS port on 127.0.0.1 three times")


def _start_probe(runtime: Path, tls: Path, http: str, server_ports: list[int]) -> str | None:
    runtime.mkdir()
    ctl = runtime / "ctl"
    cfg = runtime / "probe.cfg"
    listens = "\n".join(f"listen=tls:127.0.0.1:{port}" for port in
                         [free_port((socket.SOCK_STREAM,)), *server_ports])
    cfg.write_text(PROBE_CFG.format(listens=listens, tls=tls, http=http, ctl=ctl))
    daemon = Daemon(["kamailio", "-DD", "-E", "-f", str(cfg), "-Y", str(runtime), "-m", "64", "-M", "8"],
                    runtime / "probe.log")
    try:
        deadline = time.monotonic() + 20
        answered = False
        while daemon.alive() and time.monotonic() < deadline and not answered:
            answered = _answers(ctl)
            time.sleep(0 if answered else 0.05)
        log = daemon.text()
        if not daemon.alive() and "Address already in use" in log:
            return None
        assert answered, "Kamailio did not start with the rendered tls.cfg/http_client.cfg:\n" + \
            "\n".join(line for line in log.splitlines() if "DEBUG" not in line)[-4000:]
        found = problems(log)
        assert not found, "Kamailio's tls/http_client modules complained:\n" + "\n".join(found)
        return log
    finally:
        # Its shutdown sometimes waits on the TLS processes for seconds; the log is read already.
        if daemon.alive():
            os.killpg(daemon.pid, signal.SIGKILL)  # the group Daemon started: this probe only
            daemon.popen.wait(10)
        daemon.stop()


def probe_read_back(snap: Snapshot, log: str) -> None:
    """What the modules parsed is what the operator typed."""
    for name, row in zip(kam.notify_names(snap), snap.rows("notifies"), strict=True):
        url = row["notifyURL"].split("://", 1)[-1]
        expected = f"cname: [{name}] url: [{url}] username ["
        assert expected in log, f"http_client read {name} otherwise: expected {expected!r}"
        if row["notifyUser"]:
            credentials = f"username [{row['notifyUser']}] password [{row['notifyPassword']}]"
            assert f"cname: [{name}] url: [{url}] {credentials}" in log, (
                f"http_client read {name}'s credentials otherwise: {credentials!r}")
        assert f"useragent [{row['notifyUserAgent']}]" in log, row["notifyUserAgent"]
        if row["notifyCipherList"]:
            assert f"ciphersuites [{row['notifyCipherList']}]" in log
    for row in snap.rows("tlsProxyConfigs"):
        if row["tlsRole"] == "server" and row["tlsDomain"] != "default":
            continue  # moved to a probe socket (probe_sockets)
        label = f"TLS{'s' if row['tlsRole'] == 'server' else 'c'}<{row['tlsDomain']}>"
        cipher = row["tlsCipherList"] or "(null)"
        assert f"{label}: cipher_list='{cipher}'" in log, (label, cipher)
    ciphers = re.findall(r"TLS[sc]<[^>]*>: cipher_list='(.*)'$", log, re.M)
    listening = tls_sockets(snap)  # tls.cfg leaves out server profiles for foreign sockets
    expected = [row["tlsCipherList"] or "(null)" for row in snap.rows("tlsProxyConfigs")
                if row["tlsRole"] != "server" or row["tlsDomain"] in ("default", *listening)]
    assert sorted(ciphers) == sorted(expected), (ciphers, expected)


@pytest.fixture(scope="module")
def crm_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """crmsh offline (tests/render/test_cluster.py): a private HOME, and a crm_resource that
    answers for genweb's own OCF agents from genweb/agents."""
    agents = Path(__file__).resolve().parents[2] / "genweb" / "agents" / "ocf"
    folder = tmp_path_factory.mktemp("crm")
    wrapper = folder / "bin" / "crm_resource"
    wrapper.parent.mkdir()
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --show-metadata ] && [ "${2#ocf:amtelco:}" != "$2" ]; then\n'
        f'  exec env OCF_ROOT=/usr/lib/ocf "{agents}/${{2#ocf:amtelco:}}" meta-data\n'
        "fi\n"
        f'exec {shutil.which("crm_resource")} "$@"\n')
    wrapper.chmod(0o755)
    home = folder / "home"
    home.mkdir()
    return {**os.environ, "PATH": f"{wrapper.parent}:{os.environ['PATH']}", "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache")}


# What crmsh says offline about a configuration that is right (tests/render/test_cluster.py).
EXPECTED_NOISE = ("lack of quorum", "Blind faith: not fencing unseen nodes")


def _run(command: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, env=dict(env), timeout=120)
    assert result.returncode == 0, f"{command[0]} exited {result.returncode}:\n{result.stderr}{result.stdout}"
    return result


# crm script and nodes -> the CIB crmsh made of them. crmsh takes ~2 s a run, and the keys that
# reach the CIB take addresses and names only, so most examples give the baseline's script again:
# the same input gets the same verdict, and only a new script is loaded again.
_LOADED: dict[tuple[str, tuple[tuple[str, str], ...]], ET.Element] = {}


def cib_checks(snap: Snapshot, rendered: Rendered, folder: Path, env: Mapping[str, str]) -> None:
    """The whole crm script loaded offline into a CIB file with the nodes, verified, read back."""
    nodes = tuple((node["nodeID"], node["nodeName"]) for node in snap.nodes)
    root = _LOADED.get((rendered.crm, nodes))
    if root is None:
        root = _LOADED[(rendered.crm, nodes)] = load_crm(snap, rendered, folder, env)
    cib_holds_the_values(snap, rendered, root)


def load_crm(snap: Snapshot, rendered: Rendered, folder: Path, env: Mapping[str, str]) -> ET.Element:
    cib = folder / "cib.xml"
    cib.write_text(_run(["cibadmin", "--empty"], env).stdout)
    env = {**env, "CIB_file": str(cib)}
    for node in snap.nodes:
        element = ET.Element("node", id=node["nodeID"], uname=node["nodeName"])
        _run(["cibadmin", "--create", "-o", "nodes", "-X", ET.tostring(element, encoding="unicode")], env)
    script = folder / "cluster.crm"
    script.write_text(rendered.crm)
    loaded = _run(["crm", "-D", "plain", "configure", "load", "update", str(script)], env)
    complaints = [line for line in loaded.stderr.splitlines()
                  if line.strip() and not any(noise in line for noise in EXPECTED_NOISE)]
    assert complaints == [], "crmsh complained:\n" + "\n".join(complaints)
    online = folder / "online.xml"
    _run(["crm_simulate", "--xml-file", str(cib), "--quorum", "true", "--save-output", str(online),
          *(arg for node in snap.nodes for arg in ("--node-up", node["nodeName"]))], env)
    _run(["crm_verify", "--xml-file", str(online), "-V"], env)
    return ET.parse(cib).getroot()


def cib_holds_the_values(snap: Snapshot, rendered: Rendered, root: ET.Element) -> None:
    configuration = root.find("configuration")
    allowed = set(cluster.cluster_object_ids(snap)) | {alerts.ALERT_ID}
    defined = {element.get("id") for part in ("resources", "constraints")
               for element in configuration.find(part)}
    assert defined <= allowed, f"objects nobody configured: {sorted(defined - allowed)}"
    properties = {pair.get("name"): pair.get("value")
                  for pair in configuration.find("crm_config").iter("nvpair")}
    assert properties["cluster-name"] == snap.value("systemConfig", "systemName")
    primitives = {element.get("id"): element for element in root.iter("primitive")}

    def params(rid: str) -> dict[str, str]:
        found = primitives[rid].find("instance_attributes")
        return {pair.get("name"): pair.get("value") for pair in found.iter("nvpair")}

    assert params(cluster.PRIVATE_IP)["ip"] == snap.value("systemConfig", "privateIP")
    for network, host in cluster.pings(snap):
        assert params(f"ping_{network}")["host_list"] == host
    every_value = {pair.get("value") for pair in root.iter("nvpair")}
    for fence in snap.rows("fences"):
        rid = f"stonith_{fence['fenceName']}"
        assert primitives[rid].get("type") == fence["fenceAgent"]
        found = params(rid)
        user = "community" if fence["fenceSnmpVersion"] == "2c" else "username"
        assert (found["plug"], found["ip"], found["ipport"], found[user], found["pcmk_host_list"]) == (
            fence["fenceDevicePlug"], fence["fenceDeviceIP"], fence["fenceDeviceIPPort"],
            fence["fenceSnmpUser"], fence["fenceNodeName"])
        assert not {"password", "snmp_priv_passwd"} & set(found), rid
        for _, phrase in cluster.fence_secrets(fence).values():  # in root-only files, not the CIB
            assert phrase not in every_value, rid
            # (a phrase the baseline's script holds anyway, such as 'interval', proves nothing)
            assert phrase not in rendered.crm or phrase in baseline_crm(), rid


_BASELINE_CRM: list[str] = []


def baseline_crm() -> str:
    if not _BASELINE_CRM:
        outcome = validate_example({slot.label: base_value(slot) for slot in SLOTS})
        _BASELINE_CRM.append(render(snapshot(outcome, DB_MYSQL)).crm)
    return _BASELINE_CRM[0]


def fence_agents_read_the_pass_phrases(snap: Snapshot, rendered: Rendered, folder: Path) -> None:
    """Each SNMPv3 fence agent, run as fenced runs it on the CIB's parameters (with a fake
    snmpget, tests/render/test_cluster.py), hands snmpget the pass phrases byte for byte."""
    root = _LOADED[(rendered.crm, tuple((node["nodeID"], node["nodeName"]) for node in snap.nodes))]
    primitives = {element.get("id"): element for element in root.iter("primitive")}
    node = snap.nodes[0]["nodeName"]
    for fence in snap.rows("fences"):
        phrases = cluster.fence_secrets(fence)
        if not phrases:
            continue
        where = folder / f"agent-{fence['fenceName']}"
        secrets = where / "secrets"
        secrets.mkdir(parents=True)
        for path, _ in phrases.values():
            (secrets / Path(path).name).write_text(rendered.file(node, path).content)
        try:
            argv = agent_snmp_argv(primitives[f"stonith_{fence['fenceName']}"], secrets, where)
        except FileNotFoundError:
            raise AssertionError(f"fence {fence['fenceName']}: the agent never ran snmpget with "
                                 f"the pass phrases {[p for _, p in phrases.values()]!r}") from None
        assert argv[argv.index("-A") + 1] == fence["fenceSnmpAuthPass"], fence["fenceName"]
        if "snmp_priv_passwd_script" in phrases:
            assert argv[argv.index("-X") + 1] == fence["fenceSnmpPrivPass"], fence["fenceName"]


def corosync_checks(snap: Snapshot, rendered: Rendered, folder: Path) -> None:
    addresses = [node[key] for node in snap.nodes for key in ("privateIP", "publicIP") if node[key]]
    if not any(address.startswith("127.") for address in addresses):
        return  # corosync -t needs one local address (the nodes are elsewhere)
    node = snap.nodes[0]["nodeName"]
    key = folder / "authkey"
    key.write_text(rendered.file(node, cluster.COROSYNC_AUTHKEY).content)
    key.chmod(0o400)
    conf = rendered.file(node, cluster.COROSYNC_CONF).content.replace(
        "\tcrypto_hash: sha256\n", f"\tcrypto_hash: sha256\n\tkeyfile: {key}\n", 1).replace(
        "logfile: /var/log/corosync/corosync.log", f"logfile: {folder / 'corosync.log'}", 1)
    path = folder / "corosync.conf"
    path.write_text(conf)
    result = subprocess.run(["corosync", "-t", "-c", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"corosync -t:\n{result.stderr}{result.stdout}"


# -- the test ----------------------------------------------------------------------------------


def unknown_agents(outcome: Outcome) -> None:
    """fenceAgent's grammar is 'fence_' and lower-case letters, digits, '_': nothing hostile gets
    through it, but a name that is no agent here (fence_abc) makes crmsh refuse the resource for
    a reason that is not injection. Such a name goes back to the baseline agent."""
    for index, fence in enumerate(outcome.records["fences"]):
        if not shutil.which(fence["fenceAgent"]):
            fence["fenceAgent"] = BASE_RECORDS["fences"][index]["fenceAgent"]
            outcome.accepted.pop(Slot("fences", index, "fenceAgent"), None)


def check_example(outcome: Outcome, folder: Path, crm_environment: Mapping[str, str]) -> None:
    """Render for each database engine, check confinement, then run the engines (in parallel:
    they are separate processes that mostly wait on their own start-up)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        checks = []
        for engine in (DB_MYSQL, DB_MSSQL):
            snap, twin = snapshot(outcome, engine), snapshot(outcome, engine, sanitized=True)
            try:
                rendered = render(snap)
            except Exception as exc:  # an accepted value render refuses: validation must refuse it
                raise AssertionError(f"render refused values validation accepted ({engine}): {exc!r}\n"
                                     + "\n".join(f"  {s.label} = {v!r}"
                                                 for s, v in outcome.accepted.items())) from exc
            files_confined(snap, rendered, render(twin))
            rows_hold_the_values(snap, rendered)
            alert_destinations_hold_the_values(snap, rendered)
            db_url_holds_the_password(snap)
            hosts_hold_the_node_names(snap, rendered)
            checks.append(pool.submit(kamailio_checks, rendered, snap, folder / engine.replace(" ", "_")))

        def probe() -> None:
            probe_read_back(snap, module_probe(snap, rendered, folder))

        def cluster_side() -> None:
            cib_checks(snap, rendered, folder, crm_environment)
            fence_agents_read_the_pass_phrases(snap, rendered, folder)
            corosync_checks(snap, rendered, folder)

        checks += [pool.submit(probe), pool.submit(cluster_side)]
        for check in checks:
            check.result()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("injection")


def _folder(workspace: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=workspace))


def test_the_baseline_is_valid_and_the_engines_take_it(workspace: Path, crm_env) -> None:
    outcome = validate_example({slot.label: base_value(slot) for slot in SLOTS})
    assert outcome.refused == {} and outcome.accepted == {}
    check_example(outcome, _folder(workspace), crm_env)


@pytest.mark.filterwarnings("ignore:Generating overly large repr")  # the drawn dict, on failure
@settings(max_examples=int(os.environ.get("GENWEB_INJECTION_EXAMPLES", "40")), deadline=None,
          derandomize=True, database=None,
          phases=(Phase.explicit, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example])
@given(drawn=HOSTILE)
def test_hostile_text_is_refused_or_confined_and_the_engines_accept_it(
        drawn: dict[str, str], workspace: Path, crm_env) -> None:
    outcome = validate_example(drawn)
    unknown_agents(outcome)
    note("accepted hostile values:\n" + "\n".join(
        f"  {slot.label} = {value!r}" for slot, value in outcome.accepted.items()))
    check_example(outcome, _folder(workspace), crm_env)


def test_every_free_text_key_is_probed() -> None:
    """The slots come from the catalogue: every key of kind text, list or secret of every page
    (every record of the baseline for collections), bar the store's locked ones."""
    keys = {(page.name, key.name) for page in PAGES.values() for key in page.keys if key.kind in FREE_TEXT}
    assert {(slot.page, slot.key) for slot in SLOTS} == keys
    for page in PAGES.values():
        assert page.name in BASE_SETTINGS or page.name in BASE_RECORDS, page.name


# -- the values that made the catalogue stricter --------------------------------------------

REFUSED_AT_SAVE = [
    # Kamailio's tls module stops the start-up: "Failure to set SSL context cipher list"
    ("tlsProxyConfigs", "tlsCipherList", "A", "OpenSSL selects no cipher"),
    ("notifies", "notifyCipherList", "!ALL", "OpenSSL selects no cipher"),
    # Kamailio's cfg_parser: "Token too long" past 512 characters, and the module stops the start
    ("tlsProxyConfigs", "tlsCipherList", "HIGH:" * 103 + "!MD5", "at most 512 characters"),
    ("notifies", "notifyURL", "https://is.example.com/" + "a" * 600, "at most 255 characters"),
    # render refused it (http_client.cfg cannot hold a control character)
    ("notifies", "notifyPassword", "pass\tword", "printable characters only"),
    ("notifies", "notifyPassword", "pass\x1bword", "printable characters only"),
    # db_unixodbc builds "DSN=genproxy;UID=<user>;PWD=<password>;" without quoting
    ("databaseConfig", "dbrwPass", "pw;Server=evil.example", "containing ';'"),
    ("databaseConfig", "dbrwPass", "{braced}", "starting with '{'"),
    # the fence agent cannot pass a NUL to snmpget: it never fences
    ("fences", "fenceSnmpAuthPass", "pass\x00phrase", "NUL character"),
    ("fences", "fenceSnmpPrivPass", "\x00" * 8, "NUL character"),
]

STILL_ACCEPTED = [
    ("notifies", "notifyPassword", 'n"p;w=#x $(id) \\ \u202e\U0001f600'),
    ("databaseConfig", "dbrwPass", 'rw"pa\\ss@w:rd$1 {x}'),
    ("fences", "fenceSnmpAuthPass", "tab\there! \x1b"),
    ("tlsProxyConfigs", "tlsCipherList", "HIGH:!aNULL:!MD5"),
    ("notifies", "notifyURL", "https://is.example.com:8443/" + "a" * 200),
]


@pytest.mark.parametrize(("page", "key", "value", "message"), REFUSED_AT_SAVE,
                         ids=[f"{p}.{k}:{v[:16]!r}" for p, k, v, _ in REFUSED_AT_SAVE])
def test_values_the_engines_cannot_take_are_refused_at_save_time(page: str, key: str, value: str,
                                                                  message: str) -> None:
    with pytest.raises(Invalid, match=re.escape(message)):
        PAGES[page].key(key).clean(value)


@pytest.mark.parametrize(("page", "key", "value"), STILL_ACCEPTED,
                         ids=[f"{p}.{k}:{v[:16]!r}" for p, k, v in STILL_ACCEPTED])
def test_hostile_but_harmless_values_are_still_accepted(page: str, key: str, value: str) -> None:
    assert PAGES[page].key(key).clean(value) == value
