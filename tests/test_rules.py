"""Every rule of issue 2 point 6, as an operator meets it.

Through the pages: a refused save answers 422, shows the message beside the field
(``#error-KEY``), keeps every value the operator typed (never a secret) and stores nothing; a
valid save redirects and stores the cleaned value. Through the store: the cross-field rules
(defaults resolved) and the store-level ones (uniqueness, fenceNodeName, committed identity).
Last, every key of the catalogue: its ``example`` value saves.
"""

from __future__ import annotations

import html
import re

import pytest
from markupsafe import escape

from genweb import store
from genweb.catalogue import PAGES, Kind
from genweb.catalogue.pages import DB_MYSQL, MSSQL_KEYS, MYSQL_KEYS

# -- helpers ---------------------------------------------------------------------------------


def in_store(app, function, *args, **kwargs):
    with app.app_context():
        return function(*args, **kwargs)


def url_of(page: str) -> str:
    return f"/{page}/create" if PAGES[page].collection else f"/{page}"


def form_of(page: str, values: dict[str, str]) -> dict[str, str]:
    """The browser's form: a confirmed password also sends its ``__set`` flag."""
    form = dict(values)
    for name in values:
        if PAGES[page].key(name).secret:
            form[name + "__set"] = "1"
    return form


def field_error(page_html: str, name: str) -> str | None:
    found = re.search(rf'<div class="error" id="error-{re.escape(name)}" role="alert">(.*?)</div>',
                      page_html, re.S)
    return html.unescape(found.group(1)) if found else None


def field_row(page_html: str, name: str) -> str:
    found = re.search(rf'<tr id="row-{re.escape(name)}".*?</tr>', page_html, re.S)
    assert found, f"no row for {name}"
    return found.group(0)


def assert_form_keeps(page_html: str, page: str, typed: dict[str, str]) -> None:
    """Every typed value is shown again in its field; no secret is sent back."""
    for name, value in typed.items():
        key = PAGES[page].key(name)
        row = field_row(page_html, name)
        shown = str(escape(value))
        if key.secret:
            if value:
                assert value not in page_html, f"secret {name} sent back to the browser"
            continue
        if key.kind is Kind.LIST:
            assert f">{shown}</textarea>" in row, (name, value)
        elif key.kind is Kind.TRISTATE:
            assert f'value="{shown}" checked' in row, (name, value)
        elif key.kind is Kind.CHOICE:
            assert f'<option value="{shown}" selected>' in row, (name, value)
        else:
            assert f'value="{shown}"' in row, (name, value)


def snapshot(app, page: str):
    """What the store holds for a page: its settings, or the records of a collection."""
    if PAGES[page].collection:
        listing = in_store(app, store.list_records, page, include_hidden=True)
        return [(item.id, item.values, item.revision) for item in listing.items]
    view = in_store(app, store.get_settings, page)
    return view.values, view.revision


# A valid page the cases below change one thing in; each value is distinct so that a lost
# value shows. Secrets are never in a base (their echo is tested on their own).
BASE = {
    "systemConfig": {"systemName": "labsys", "privateIP": "192.168.40.70", "privateSubnet": "24",
                     "privatePing": "192.168.40.1", "privatePort": "5070"},
    "proxyConfig": {"serverHeader": "Acme SBC", "astPingInterval": "45",
                    "denyList": "198.51.100.7"},
    "mediaConfig": {"timeout": "75", "tos": "46"},
    "databaseConfig": {"kamDatabase": "kam_lab", "dbrwUser": "rw_lab"},
    "haNodes": {"nodeID": "2", "nodeName": "node2", "privateIP": "192.168.40.72",
                "publicIP": "192.168.50.72"},
    "fences": {"fenceName": "fence1_power", "fenceNodeName": "node1", "fencePriority": "2",
               "fenceAgent": "fence_tripplite_snmp", "fenceDevicePlug": "4",
               "fenceDeviceIP": "192.168.40.3", "fenceSnmpUser": "private"},
    "tlsProxyConfigs": {"tlsDomain": "192.0.2.21:5061", "tlsRole": "server",
                        "tlsPrivateKey": "proxy.key"},
    "notifies": {"notifyURL": "https://is2.example.com:8443", "notifyUser": "proxy"},
    "subscribers": {"username": "5001", "domain": "192.168.40.70"},
    "outboundRegistrations": {"l_uuid": "reg2", "l_username": "acct2",
                              "l_domain": "sip.example.net", "r_username": "acct2",
                              "r_domain": "sip.example.net"},
}

NODE1 = {"nodeID": "1", "nodeName": "node1", "privateIP": "192.168.40.71"}
FENCE1 = {"fenceName": "fence1_network", "fenceNodeName": "node1", "fenceAgent": "fence_ether_snmp",
          "fenceDevicePlug": "3", "fenceDeviceIP": "192.168.40.2", "fenceSnmpUser": "private"}
REG1 = {"l_uuid": "kamailioha", "l_username": "acct1", "l_domain": "sip.example.net",
        "r_username": "acct1", "r_domain": "sip.example.net"}

# Records that exist before each page test (the uniqueness rules collide with them).
EXISTING = {
    "haNodes": [("haNodes", NODE1)],
    "fences": [("haNodes", NODE1), ("fences", FENCE1)],
    "tlsProxyConfigs": [("tlsProxyConfigs", {"tlsDomain": "192.0.2.20:5061", "tlsRole": "server"})],
    "notifies": [("notifies", {"notifyURL": "https://is.example.com:8443"})],
    "subscribers": [("subscribers", {"username": "5000", "domain": "192.168.40.70"})],
    "outboundRegistrations": [("outboundRegistrations", REG1)],
}


def prepare(app, page: str) -> None:
    for collection, values in EXISTING.get(page, []):
        in_store(app, store.create_record, collection, values)


# -- refusals through the pages --------------------------------------------------------------


def refused(label, page, changes, key, message):
    return pytest.param(page, changes, key, message, id=label)


REFUSED = [
    # required keys (3.2, 3.5, 3.6)
    refused("privateIP required", "systemConfig", {"privateIP": ""}, "privateIP",
            "privateIP is required"),
    refused("privateSubnet required", "systemConfig", {"privateSubnet": ""}, "privateSubnet",
            "privateSubnet is required"),
    refused("privatePing required", "systemConfig", {"privatePing": " "}, "privatePing",
            "privatePing is required"),
    # publicPing when publicIP is set, unless mappedIP is on privateIP's subnet (3.10)
    refused("publicPing required with publicIP", "systemConfig", {"publicIP": "203.0.113.10"},
            "publicPing", "publicPing is required when publicIP is set"),
    refused("publicPing required when mappedIP is on another subnet", "systemConfig",
            {"publicIP": "203.0.113.10", "mappedIP": "10.9.9.9"}, "publicPing",
            "unless mappedIP is on privateIP's subnet"),
    # a hostname publicIP needs mappedIP and an alias entry (3.7)
    refused("hostname publicIP needs mappedIP", "systemConfig",
            {"publicIP": "proxy.example.com", "publicPing": "203.0.113.1",
             "alias": "203.0.113.10"}, "mappedIP",
            "mappedIP is required when publicIP is a hostname"),
    refused("hostname publicIP needs its address in alias", "systemConfig",
            {"publicIP": "proxy.example.com", "mappedIP": "192.168.40.70",
             "alias": "proxy.example.com:5060"}, "alias",
            "enter the public network IP address in alias"),
    # IPv4 addresses, masks, host names, ports (3.x)
    refused("privateIP not IPv4", "systemConfig", {"privateIP": "192.168.40.256"}, "privateIP",
            "is not an IPv4 address"),
    refused("privateIP leading zeros", "systemConfig", {"privateIP": "192.168.040.70"},
            "privateIP", "without leading zeros"),
    refused("mappedIP is an address, not a host name", "systemConfig",
            {"mappedIP": "nat.example.com"}, "mappedIP", "is not an IPv4 address"),
    refused("CIDR above 32", "systemConfig", {"privateSubnet": "33"}, "privateSubnet",
            "is not a CIDR prefix length (0-32)"),
    refused("non-contiguous mask", "systemConfig", {"privateSubnet": "255.0.255.0"},
            "privateSubnet", "is not a contiguous subnet mask"),
    refused("host name with underscore", "systemConfig", {"privatePing": "gw_1.example.com"},
            "privatePing", "is not an IPv4 address (such as 192.168.1.10) or a host name"),
    refused("publicIP neither address nor host name", "systemConfig", {"publicIP": "203.0.113"},
            "publicIP", "is not an IPv4 address"),
    refused("port 0", "systemConfig", {"privatePort": "0"}, "privatePort",
            "is not a port number (1-65535)"),
    refused("port 65536", "systemConfig", {"publicPort": "65536"}, "publicPort",
            "is not a port number (1-65535)"),
    refused("port not a number", "systemConfig", {"mappedPortTLS": "sips"}, "mappedPortTLS",
            "is not a port number (1-65535)"),
    # list grammars
    refused("alias: one hostname per line", "systemConfig",
            {"alias": "a.example.com, b.example.com"}, "alias",
            "enter each hostname on a separate line"),
    refused("alias: bad port", "systemConfig", {"alias": "a.example.com:70000"}, "alias",
            "is not a port number (1-65535)"),
    refused("denyList: host address with a mask", "proxyConfig",
            {"denyList": "198.51.100.0/24\n203.0.113.9/24"}, "denyList",
            "enter 203.0.113.0/24 for the whole subnet, or 203.0.113.9 alone"),
    refused("allowList: port 0", "proxyConfig", {"allowList": "198.51.100.20 198.51.100.21:0"},
            "allowList", "is not a port number (1-65535)"),
    refused("proxyList: non-contiguous mask", "proxyConfig",
            {"proxyList": "192.168.0.0/255.0.255.0"}, "proxyList",
            "is not a contiguous subnet mask"),
    refused("proxyList: host name", "proxyConfig", {"proxyList": "phones.example.com"},
            "proxyList", "is not <IP Address>[:<port>][/<subnet>]"),
    refused("dispatchListenSock: udp", "proxyConfig",
            {"dispatchListenSock": "192.168.40.70:8080 udp:192.168.40.70"},
            "dispatchListenSock", "the protocol must be one of tcp, tls"),
    refused("dispatchListenSock: host name", "proxyConfig",
            {"dispatchListenSock": "tls:proxy.example.com"}, "dispatchListenSock",
            "<ip> an IPv4 address"),
    refused("rtpList: bad port", "mediaConfig", {"rtpList": "sip.example.net:0"}, "rtpList",
            "is not a port number (1-65535)"),
    refused("dbHost: udp", "databaseConfig", {"dbHost": "udp:sql.example.com"}, "dbHost",
            "the only protocol the MS SQL ODBC driver supports is 'tcp'"),
    refused("dbHost: port after a colon", "databaseConfig", {"dbHost": "sql.example.com:1433"},
            "dbHost", "the port follows a comma"),
    refused("notifyURL: ftp", "notifies", {"notifyURL": "ftp://is.example.com"}, "notifyURL",
            "only http:// or https://"),
    refused("notifyURL: bad port", "notifies", {"notifyURL": "https://is.example.com:99999"},
            "notifyURL", "is not a port number (1-65535)"),
    refused("auth_proxy: tel URI", "outboundRegistrations", {"auth_proxy": "tel:+15551234567"},
            "auth_proxy", "is not [sip[s]:]<URI>[;<parameters>]"),
    refused("reg_contact_addr: sip: prefix", "outboundRegistrations",
            {"reg_contact_addr": "sip:203.0.113.10:5060"}, "reg_contact_addr",
            "do not prepend 'sip:' or 'sips:'"),
    refused("socket: sctp", "outboundRegistrations", {"socket": "sctp:192.168.40.70:5060"},
            "socket", "the protocol must be one of udp, tcp, tls"),
    refused("socket: host name", "outboundRegistrations", {"socket": "udp:proxy.example.com"},
            "socket", "<ip> an IPv4 address"),
    # nodeID 1-15 unique; nodeName charset and uniqueness (5.2)
    refused("nodeID 0", "haNodes", {"nodeID": "0"}, "nodeID", "out of range (allowed: 1-15)"),
    refused("nodeID 16", "haNodes", {"nodeID": "16"}, "nodeID", "out of range (allowed: 1-15)"),
    refused("nodeID required", "haNodes", {"nodeID": ""}, "nodeID", "nodeID is required"),
    refused("nodeID unique", "haNodes", {"nodeID": "1"}, "nodeID",
            "another node already has nodeID '1'"),
    refused("nodeID unique once normalised", "haNodes", {"nodeID": "01"}, "nodeID",
            "another node already has nodeID '1'"),
    refused("nodeName charset", "haNodes", {"nodeName": "node 2"}, "nodeName",
            "use letters, numbers, '-', '_' and '.' only"),
    refused("nodeName unique", "haNodes", {"nodeName": "node1"}, "nodeName",
            "another node already has nodeName 'node1'"),
    refused("node privateIP unique", "haNodes", {"privateIP": "192.168.40.71"}, "privateIP",
            "another node already has privateIP '192.168.40.71'"),
    refused("node publicIP is an address", "haNodes", {"publicIP": "node2.example.com"},
            "publicIP", "is not an IPv4 address"),
    # fenceName charset and uniqueness; fencePriority; fenceNodeName; SNMP choices (6.2)
    refused("fenceName charset", "fences", {"fenceName": "fence1.power"}, "fenceName",
            "use letters, numbers, '-' and '_' only"),
    refused("fenceName unique", "fences", {"fenceName": "fence1_network"}, "fenceName",
            "another fence already has fenceName 'fence1_network'"),
    refused("fencePriority 0", "fences", {"fencePriority": "0"}, "fencePriority",
            "out of range (allowed: 1-9)"),
    refused("fencePriority 10", "fences", {"fencePriority": "10"}, "fencePriority",
            "out of range (allowed: 1-9)"),
    refused("fencePriority a word", "fences", {"fencePriority": "first"}, "fencePriority",
            "is not a whole number"),
    refused("fenceNodeName not a node", "fences", {"fenceNodeName": "node9"}, "fenceNodeName",
            "'node9' is not a defined node (defined: node1)"),
    refused("fenceSnmpVersion", "fences", {"fenceSnmpVersion": "1"}, "fenceSnmpVersion",
            "is not one of: 2c, 3"),
    refused("fenceSnmpAuthProt", "fences", {"fenceSnmpAuthProt": "SHA256"}, "fenceSnmpAuthProt",
            "is not one of: None, SHA, MD5"),
    refused("fenceSnmpPrivProt", "fences", {"fenceSnmpPrivProt": "3DES"}, "fenceSnmpPrivProt",
            "is not one of: None, DES, AES"),
    refused("SNMPv3 privacy needs authentication", "fences",
            {"fenceSnmpVersion": "3", "fenceSnmpAuthProt": "None", "fenceSnmpPrivProt": "AES"},
            "fenceSnmpPrivProt", "a privacy protocol needs an authentication protocol"),
    # dispatch users and realm (7.1.20, 7.1.21, 7.1.26)
    refused("dispatchPriUser prefix of default dispatchSecUser", "proxyConfig",
            {"dispatchPriUser": "genesis"}, "dispatchSecUser", "must not be prefixes of each other"),
    refused("dispatchSecUser extends dispatchPriUser", "proxyConfig",
            {"dispatchPriUser": "pbx_a", "dispatchSecUser": "pbx_a2"}, "dispatchSecUser",
            "must not be prefixes of each other"),
    refused("dispatchAuthRealm required with dispatchAuthUser", "proxyConfig",
            {"dispatchAuthUser": "genesis_is"}, "dispatchAuthRealm",
            "dispatchAuthRealm is required when dispatchAuthUser is set"),
    # HA1 fields, 32 hex digits
    refused("dispatchAuthHa1 31 digits", "proxyConfig", {"dispatchAuthHa1": "a" * 31},
            "dispatchAuthHa1", "must be 32 hexadecimal digits"),
    refused("dispatchAuthHa1b not hex", "proxyConfig",
            {"dispatchAuthHa1b": "0123456789abcdef0123456789abcdeg"}, "dispatchAuthHa1b",
            "must be 32 hexadecimal digits"),
    refused("ha1 33 digits", "subscribers", {"ha1": "b" * 33}, "ha1",
            "must be 32 hexadecimal digits"),
    refused("ha1b not hex", "subscribers", {"ha1b": "z" * 32}, "ha1b",
            "must be 32 hexadecimal digits"),
    refused("auth_ha1 31 digits", "outboundRegistrations", {"auth_ha1": "c" * 31}, "auth_ha1",
            "must be 32 hexadecimal digits"),
    # regRetryInterval, rtp ports, tos
    refused("regRetryInterval 89", "proxyConfig", {"regRetryInterval": "89"}, "regRetryInterval",
            "out of range (allowed: 0 or 90-86400)"),
    refused("regRetryInterval 1", "proxyConfig", {"regRetryInterval": "1"}, "regRetryInterval",
            "out of range (allowed: 0 or 90-86400)"),
    refused("rtpPortMin equal to rtpPortMax", "mediaConfig",
            {"rtpPortMin": "25000", "rtpPortMax": "25000"}, "rtpPortMax",
            "rtpPortMax (25000) must be greater than rtpPortMin (25000)"),
    refused("rtpPortMin above the default rtpPortMax", "mediaConfig", {"rtpPortMin": "35000"},
            "rtpPortMax", "rtpPortMax (30000) must be greater than rtpPortMin (35000)"),
    refused("tos 256", "mediaConfig", {"tos": "256"}, "tos", "out of range (allowed: 0-255)"),
    # TLS sections (9.2)
    refused("tlsDomain without port", "tlsProxyConfigs", {"tlsDomain": "192.0.2.21"},
            "tlsDomain", "both an IPv4 address and a port are required"),
    refused("tlsDomain host name", "tlsProxyConfigs", {"tlsDomain": "tls.example.com:5061"},
            "tlsDomain", "both an IPv4 address and a port are required"),
    refused("tlsDomain and tlsRole unique", "tlsProxyConfigs",
            {"tlsDomain": "192.0.2.20:5061", "tlsRole": "server"}, "tlsDomain",
            "another TLS section already has tlsDomain '192.0.2.20:5061' and tlsRole 'server'"),
    refused("tlsDomain and tlsRole unique with the default sections", "tlsProxyConfigs",
            {"tlsDomain": "default", "tlsRole": "client"}, "tlsDomain",
            "another TLS section already has tlsDomain 'default' and tlsRole 'client'"),
    # key and certificate names confined to /etc/ssl/genproxy_pvt (9.2.4, 9.2.5, 10.2.8, 10.2.9)
    refused("tlsPrivateKey escapes", "tlsProxyConfigs", {"tlsPrivateKey": "../x"},
            "tlsPrivateKey", "is not a file name in '/etc/ssl/genproxy_pvt'"),
    refused("tlsCertificate elsewhere", "tlsProxyConfigs", {"tlsCertificate": "/etc/passwd"},
            "tlsCertificate", "the file must be in '/etc/ssl/genproxy_pvt'"),
    refused("notifyClientKey elsewhere", "notifies",
            {"notifyClientKey": "/etc/ssl/private/client.key"}, "notifyClientKey",
            "the file must be in '/etc/ssl/genproxy_pvt'"),
    refused("notifyClientCert escapes", "notifies",
            {"notifyClientCert": "/etc/ssl/genproxy_pvt/../certs/c.crt"}, "notifyClientCert",
            "the file must be in '/etc/ssl/genproxy_pvt'"),
    # (username, domain), l_uuid and notifyURL unique (11.2, 12.2.1, 10.2.1)
    refused("username and domain unique", "subscribers", {"username": "5000"}, "username",
            "another subscriber already has username '5000' and domain '192.168.40.70'"),
    refused("l_uuid unique", "outboundRegistrations", {"l_uuid": "kamailioha"}, "l_uuid",
            "another outbound registration already has l_uuid 'kamailioha'"),
    refused("notifyURL unique", "notifies", {"notifyURL": "https://is.example.com:8443"},
            "notifyURL", "another notification already has notifyURL"),
]


@pytest.mark.parametrize(("page", "changes", "key", "message"), REFUSED)
def test_page_refuses_with_a_message_beside_the_field(app, client, page, changes, key, message):
    prepare(app, page)
    before = snapshot(app, page)
    typed = {**BASE[page], **changes}

    response = client.post(url_of(page), data=form_of(page, typed))

    page_html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in (field_error(page_html, key) or ""), field_error(page_html, key)
    assert "Nothing was saved" in page_html
    assert_form_keeps(page_html, page, typed)
    assert snapshot(app, page) == before


# -- valid examples of the same rules through the pages --------------------------------------


def accepted(label, page, changes, stored=None):
    return pytest.param(page, changes, stored or {}, id=label)


ACCEPTED = [
    accepted("publicIP with publicPing", "systemConfig",
             {"publicIP": "203.0.113.10", "publicPing": "203.0.113.1"}),
    accepted("publicIP without publicPing: mappedIP on privateIP's subnet", "systemConfig",
             {"publicIP": "203.0.113.10", "mappedIP": "192.168.40.75"}),
    accepted("publicIP without publicPing: mappedIP on a dot-decimal private subnet",
             "systemConfig", {"privateSubnet": "255.255.0.0", "publicIP": "203.0.113.10",
                              "mappedIP": "192.168.7.7"}),
    accepted("hostname publicIP with mappedIP and its address in alias", "systemConfig",
             {"publicIP": "proxy.example.com", "mappedIP": "192.168.40.70",
              "alias": "proxy.example.com\n203.0.113.10:5080"}),
    accepted("CIDR 32", "systemConfig", {"privateSubnet": "32"}),
    accepted("CIDR 0", "systemConfig", {"privateSubnet": "0"}),
    accepted("dot-decimal mask", "systemConfig", {"privateSubnet": "255.255.255.128"}),
    accepted("ports 1 and 65535", "systemConfig", {"privatePort": "1", "publicPort": "65535"}),
    accepted("host name ping target", "systemConfig", {"privatePing": "gw1.lab.example.com"}),
    accepted("alias one per line with ports", "systemConfig",
             {"alias": "proxy.example.com\r\nproxy.example.com:5061"},
             {"alias": "proxy.example.com\nproxy.example.com:5061"}),
    accepted("address lists, mixed separators", "proxyConfig",
             {"denyList": "198.51.100.7, 203.0.113.0/24\n192.0.2.5:5060",
              "allowList": "198.51.100.20 198.51.100.21:5060/32",
              "proxyList": "192.168.40.0/255.255.255.0"},
             {"denyList": "198.51.100.7 203.0.113.0/24\n192.0.2.5:5060"}),
    accepted("dispatchListenSock tcp and tls", "proxyConfig",
             {"dispatchListenSock": "192.168.40.70:8080, TLS:192.168.40.70"},
             {"dispatchListenSock": "192.168.40.70:8080 tls:192.168.40.70"}),
    accepted("dispatch users not prefixes of each other", "proxyConfig",
             {"dispatchPriUser": "pbx_a", "dispatchSecUser": "pbx_b"}),
    accepted("dispatchAuthUser with dispatchAuthRealm", "proxyConfig",
             {"dispatchAuthUser": "genesis_is", "dispatchAuthRealm": "proxy.example.com"}),
    accepted("HA1 32 hex digits", "proxyConfig",
             {"dispatchAuthHa1": "0123456789ABCDEF0123456789abcdef"},
             {"dispatchAuthHa1": "0123456789abcdef0123456789abcdef"}),
    accepted("regRetryInterval 0", "proxyConfig", {"regRetryInterval": "0"}),
    accepted("regRetryInterval 90", "proxyConfig", {"regRetryInterval": "90"}),
    accepted("regRetryInterval 180", "proxyConfig", {"regRetryInterval": "180"}),
    accepted("rtpPortMin just below rtpPortMax", "mediaConfig",
             {"rtpPortMin": "20000", "rtpPortMax": "20001"}),
    accepted("tos 0", "mediaConfig", {"tos": "0"}),
    accepted("tos 255", "mediaConfig", {"tos": "255"}),
    accepted("dbHost tcp with port", "databaseConfig", {"dbHost": "tcp:sql.example.com,1433"}),
    accepted("nodeID 15", "haNodes", {"nodeID": "15"}),
    accepted("nodeName with '-', '_' and '.'", "haNodes", {"nodeName": "node-2.lab_a"}),
    accepted("fencePriority blank", "fences", {"fencePriority": ""}),
    accepted("fencePriority 9", "fences", {"fencePriority": "9"}),
    accepted("SNMPv3 with authentication and privacy", "fences",
             {"fenceSnmpVersion": "3", "fenceSnmpAuthProt": "SHA", "fenceSnmpPrivProt": "AES",
              "fenceSnmpAuthPass": "auth-pass-1", "fenceSnmpPrivPass": "priv-pass-1"}),
    accepted("SNMPv3 with authentication only", "fences",
             {"fenceSnmpVersion": "3", "fenceSnmpAuthProt": "MD5", "fenceSnmpPrivProt": "None",
              "fenceSnmpAuthPass": "auth-pass-1"}),
    accepted("same tlsDomain, other tlsRole", "tlsProxyConfigs",
             {"tlsDomain": "192.0.2.20:5061", "tlsRole": "client"}),
    accepted("pvt file by full path", "tlsProxyConfigs",
             {"tlsPrivateKey": "/etc/ssl/genproxy_pvt/k.pem"}, {"tlsPrivateKey": "k.pem"}),
    accepted("notifyURL without scheme", "notifies", {"notifyURL": "192.0.2.30:8080"}),
    accepted("same username, other domain", "subscribers",
             {"username": "5000", "domain": "sip.example.com"}),
    accepted("subscriber HA1 hashes", "subscribers",
             {"ha1": "0123456789abcdef0123456789abcdef", "ha1b": "F" * 32},
             {"ha1b": "f" * 32}),
    accepted("auth_proxy, reg_contact_addr and socket", "outboundRegistrations",
             {"auth_proxy": "sips:sip.example.net:5061;transport=tls",
              "reg_contact_addr": "203.0.113.10:5061;transport=tls",
              "socket": "TLS:203.0.113.10:5061"},
             {"socket": "tls:203.0.113.10:5061"}),
]


@pytest.mark.parametrize(("page", "changes", "stored"), ACCEPTED)
def test_page_saves_a_valid_value(app, client, page, changes, stored):
    prepare(app, page)
    typed = {**BASE[page], **changes}

    response = client.post(url_of(page), data=form_of(page, typed))

    assert response.status_code == 302, field_errors_of(response)
    saved = saved_values(app, page, typed)
    for name, value in {**changes, **stored}.items():
        assert saved[name] == stored.get(name, value), name


def field_errors_of(response) -> dict[str, str]:
    page_html = response.get_data(as_text=True)
    names = re.findall(r'id="error-([^"]+)"', page_html)
    return {name: field_error(page_html, name) for name in names}


def saved_values(app, page: str, typed: dict[str, str]) -> dict[str, str]:
    """The stored values of a settings page, or of the record the test just created."""
    if not PAGES[page].collection:
        return in_store(app, store.get_settings, page).values
    created = [item for item in in_store(app, store.list_records, page).items
               if not item.permanent and not _is_existing(item.values, page)]
    assert len(created) == 1, [item.values for item in created]
    return created[0].values


def _is_existing(values: dict[str, str], page: str) -> bool:
    return any(collection == page and all(values.get(k) == v for k, v in existing.items())
               for collection, existing in EXISTING.get(page, []))


# -- cross-field rules through the store (defaults resolved) ---------------------------------

SYSTEM = dict(BASE["systemConfig"])


def save_errors(page: str, changes: dict[str, str]) -> dict[str, str]:
    try:
        store.save_settings(page, changes)
    except store.ValidationFailed as exc:
        return exc.errors
    return {}


@pytest.mark.parametrize(("changes", "errors"), [
    pytest.param({}, {}, id="no publicIP: no publicPing needed"),
    pytest.param({"publicIP": "203.0.113.10"}, {"publicPing"}, id="publicIP needs publicPing"),
    pytest.param({"publicIP": "203.0.113.10", "publicPing": "8.8.8.8"}, set(), id="with publicPing"),
    pytest.param({"publicIP": "203.0.113.10", "mappedIP": "192.168.40.70"}, set(),
                 id="mappedIP equal to privateIP"),
    pytest.param({"publicIP": "203.0.113.10", "mappedIP": "192.168.41.70"}, {"publicPing"},
                 id="mappedIP on the next subnet"),
    pytest.param({"privateSubnet": "23", "publicIP": "203.0.113.10", "mappedIP": "192.168.41.70"},
                 set(), id="mappedIP on a wider private subnet"),
    pytest.param({"publicIP": "proxy.example.com", "publicPing": "203.0.113.1"},
                 {"mappedIP", "alias"}, id="hostname publicIP needs mappedIP and alias"),
    pytest.param({"publicIP": "proxy.example.com", "mappedIP": "192.168.40.70",
                  "alias": "proxy.example.com"}, {"alias"},
                 id="hostname publicIP: an alias host name is not its address"),
    pytest.param({"publicIP": "proxy.example.com", "mappedIP": "192.168.40.70",
                  "alias": "203.0.113.10"}, set(), id="hostname publicIP complete"),
    pytest.param({"publicIP": "proxy.example.com", "mappedIP": "nat", "alias": "203.0.113.10"},
                 {"mappedIP"}, id="a bad mappedIP shows only its own message"),
    pytest.param({"publicIP": "203.0.113.10", "mappedIP": "192.168.40.300"}, {"mappedIP"},
                 id="no publicPing message while mappedIP is wrong"),
    pytest.param({"privateSubnet": "33", "publicIP": "203.0.113.10",
                  "mappedIP": "192.168.40.75"}, {"privateSubnet"},
                 id="no publicPing message while privateSubnet is wrong"),
])
def test_system_config_public_network_rules(ctx, changes, errors):
    found = save_errors("systemConfig", {**SYSTEM, **changes})
    assert set(found) == set(errors)
    if "mappedIP" in found and changes.get("mappedIP") == "nat":
        assert "is not an IPv4 address" in found["mappedIP"]


@pytest.mark.parametrize(("changes", "errors"), [
    pytest.param({}, set(), id="defaults genesis_a and genesis_b"),
    pytest.param({"dispatchPriUser": "genesis"}, {"dispatchSecUser"},
                 id="primary is a prefix of the default secondary"),
    pytest.param({"dispatchSecUser": "genesis_a1"}, {"dispatchSecUser"},
                 id="default primary is a prefix of the secondary"),
    pytest.param({"dispatchSecUser": "genesis_a"}, {"dispatchSecUser"}, id="equal to the default"),
    pytest.param({"dispatchPriUser": "b", "dispatchSecUser": "a"}, set(), id="distinct"),
    pytest.param({"dispatchPriUser": "genesis_ab", "dispatchSecUser": "genesis_a"},
                 {"dispatchSecUser"}, id="secondary is a prefix of the primary"),
    pytest.param({"dispatchAuthUser": "is"}, {"dispatchAuthRealm"}, id="realm required"),
    pytest.param({"dispatchAuthUser": "is", "dispatchAuthRealm": "proxy"}, set(), id="realm set"),
    pytest.param({"dispatchAuthRealm": "proxy"}, set(), id="realm without user is harmless"),
])
def test_proxy_config_dispatch_rules(ctx, changes, errors):
    assert set(save_errors("proxyConfig", changes)) == errors


@pytest.mark.parametrize(("changes", "errors"), [
    pytest.param({}, set(), id="defaults 20000-30000"),
    pytest.param({"rtpPortMin": "29999"}, set(), id="min below the default max"),
    pytest.param({"rtpPortMin": "30000"}, {"rtpPortMax"}, id="min equal to the default max"),
    pytest.param({"rtpPortMax": "20000"}, {"rtpPortMax"}, id="max equal to the default min"),
    pytest.param({"rtpPortMax": "20001"}, set(), id="max above the default min"),
    pytest.param({"rtpPortMin": "40000", "rtpPortMax": "30000"}, {"rtpPortMax"}, id="reversed"),
])
def test_media_config_rtp_port_range(ctx, changes, errors):
    assert set(save_errors("mediaConfig", changes)) == errors


def create_errors(page: str, values: dict[str, str]) -> dict[str, str]:
    try:
        store.create_record(page, values)
    except store.ValidationFailed as exc:
        return exc.errors
    return {}


def update_errors(page: str, record_id: int, changes: dict[str, str]) -> dict[str, str]:
    try:
        store.update_record(page, record_id, changes)
    except store.ValidationFailed as exc:
        return exc.errors
    return {}


@pytest.mark.parametrize(("changes", "errors"), [
    pytest.param({"fenceSnmpVersion": "3", "fenceSnmpPrivProt": "DES",
                  "fenceSnmpPrivPass": "priv-pass-1"}, {"fenceSnmpPrivProt"},
                 id="v3 privacy without authentication"),
    pytest.param({"fenceSnmpVersion": "3", "fenceSnmpAuthProt": "SHA",
                  "fenceSnmpPrivProt": "DES", "fenceSnmpAuthPass": "auth-pass-1",
                  "fenceSnmpPrivPass": "priv-pass-1"}, set(), id="v3 authPriv"),
    pytest.param({"fenceSnmpVersion": "3", "fenceSnmpAuthProt": "SHA",
                  "fenceSnmpPrivProt": "DES", "fenceSnmpAuthPass": "short",
                  "fenceSnmpPrivPass": " padded-pass"},
                 {"fenceSnmpAuthPass", "fenceSnmpPrivPass"}, id="v3 pass phrases too short or padded"),
    pytest.param({"fenceSnmpVersion": "2c", "fenceSnmpPrivProt": "AES"}, set(),
                 id="v2c ignores the v3 protocols"),
])
def test_fence_snmp_v3_rule(ctx, changes, errors):
    store.create_record("haNodes", NODE1)
    assert set(create_errors("fences", {**FENCE1, **changes})) == errors


# -- store-level rules -----------------------------------------------------------------------


def test_node_uniqueness(ctx):
    first = store.create_record("haNodes", NODE1)
    assert create_errors("haNodes", {**NODE1, "nodeName": "node2", "privateIP": "10.0.0.2"}) \
        == {"nodeID": "another node already has nodeID '1'"}
    assert set(create_errors("haNodes", {**NODE1, "nodeID": "2", "privateIP": "10.0.0.2"})) \
        == {"nodeName"}
    assert set(create_errors("haNodes", {**NODE1, "nodeID": "2", "nodeName": "node2"})) \
        == {"privateIP"}
    second = store.create_record("haNodes", {"nodeID": "2", "nodeName": "node2",
                                             "privateIP": "10.0.0.2"})
    # An edit may keep its own values but not take another node's.
    assert update_errors("haNodes", first.id, {"sshKeyEnable": "No"}) == {}
    assert set(update_errors("haNodes", second.id, {"nodeID": "1", "nodeName": "node1",
                                                     "privateIP": "192.168.40.71"})) \
        == {"nodeID", "nodeName", "privateIP"}
    assert len(store.list_records("haNodes").items) == 2


def test_a_node_marked_for_deletion_still_holds_its_values(ctx):
    node = store.create_record("haNodes", NODE1)
    store.record_commit()
    store.delete_record("haNodes", node.id)
    errors = create_errors("haNodes", {**NODE1, "privateIP": "10.0.0.9", "nodeName": "other"})
    assert "UnDelete it instead" in errors["nodeID"]


@pytest.mark.parametrize(("page", "first", "second", "key"), [
    pytest.param("fences", FENCE1, {**FENCE1, "fenceDevicePlug": "9"}, "fenceName", id="fenceName"),
    pytest.param("tlsProxyConfigs", {"tlsDomain": "192.0.2.20:5061", "tlsRole": "client"},
                 {"tlsDomain": "192.0.2.20:05061", "tlsRole": "Client"}, "tlsDomain",
                 id="tlsDomain+tlsRole once normalised"),
    pytest.param("subscribers", {"username": "5000", "domain": "192.168.40.70"},
                 {"username": "5000", "domain": "192.168.40.70", "password": "x"}, "username",
                 id="username+domain"),
    pytest.param("outboundRegistrations", REG1, {**REG1, "l_username": "other"}, "l_uuid",
                 id="l_uuid"),
    pytest.param("notifies", {"notifyURL": "https://is.example.com"},
                 {"notifyURL": "HTTPS://IS.example.com", "notifyUser": "x"}, "notifyURL",
                 id="notifyURL in any case"),
])
def test_collection_uniqueness(ctx, page, first, second, key):
    store.create_record("haNodes", NODE1)
    store.create_record(page, first)
    errors = create_errors(page, second)
    assert set(errors) == {key}
    assert errors[key].startswith(f"another {PAGES[page].record_name} already has {key} ")


@pytest.mark.parametrize(("page", "first", "second"), [
    pytest.param("tlsProxyConfigs", {"tlsDomain": "192.0.2.20:5061", "tlsRole": "client"},
                 {"tlsDomain": "192.0.2.20:5061", "tlsRole": "server"}, id="tls other role"),
    pytest.param("subscribers", {"username": "5000", "domain": "a.example.com"},
                 {"username": "5000", "domain": "b.example.com"}, id="subscriber other domain"),
    pytest.param("subscribers", {"username": "5000", "domain": "a.example.com"},
                 {"username": "5001", "domain": "a.example.com"}, id="subscriber other user"),
])
def test_half_of_a_unique_pair_may_repeat(ctx, page, first, second):
    store.create_record(page, first)
    assert create_errors(page, second) == {}


def test_the_default_tls_sections_take_their_domain_and_role(ctx):
    errors = create_errors("tlsProxyConfigs", {"tlsDomain": "default", "tlsRole": "server"})
    assert set(errors) == {"tlsDomain"}


def test_fence_node_name_must_be_a_defined_node(ctx):
    assert create_errors("fences", FENCE1) == {
        "fenceNodeName": "'node1' is not a defined node (create the node first)"}
    node = store.create_record("haNodes", NODE1)
    assert create_errors("fences", FENCE1) == {}
    store.record_commit()
    store.delete_record("haNodes", node.id)  # committed: marked for deletion
    errors = create_errors("fences", {**FENCE1, "fenceName": "fence1_power"})
    assert errors["fenceNodeName"].startswith("'node1' is not a defined node")
    store.undelete_record("haNodes", node.id)
    assert create_errors("fences", {**FENCE1, "fenceName": "fence1_power"}) == {}


def test_a_fence_cannot_move_to_an_undefined_node(ctx):
    store.create_record("haNodes", NODE1)
    fence = store.create_record("fences", FENCE1)
    assert set(update_errors("fences", fence.id, {"fenceNodeName": "node7"})) == {"fenceNodeName"}
    assert store.get_record("fences", fence.id).values["fenceNodeName"] == "node1"


@pytest.mark.parametrize(("key", "value"), [
    ("nodeID", "3"), ("nodeName", "node3"), ("privateIP", "192.168.40.73"),
    ("publicIP", "192.168.50.73"),
])
def test_committed_node_identity_cannot_change(ctx, key, value):
    node = store.create_record("haNodes", {**NODE1, "publicIP": "192.168.50.71"})
    assert update_errors("haNodes", node.id, {key: value}) == {}  # not committed yet: free
    store.record_commit()
    errors = update_errors("haNodes", node.id, {key: "1" if key == "nodeID" else NODE1.get(
        key, "192.168.50.71")})
    assert set(errors) == {key}
    assert "cannot change once the node is committed" in errors[key]
    assert store.get_record("haNodes", node.id).values[key] == value
    assert update_errors("haNodes", node.id, {"sshKeyEnable": "No"}) == {}


def test_committed_node_identity_is_read_only_in_the_page(app, client):
    node = in_store(app, store.create_record, "haNodes", NODE1)
    in_store(app, store.record_commit)
    response = client.post(f"/haNodes/{node.id}/edit",
                           data={"nodeID": "9", "nodeName": "evil", "privateIP": "10.0.0.9",
                                 "publicIP": "10.1.0.9", "sshKeyEnable": "No"})
    assert response.status_code == 302
    saved = in_store(app, store.get_record, "haNodes", node.id).values
    assert (saved["nodeID"], saved["nodeName"], saved["privateIP"], saved["publicIP"]) == \
        ("1", "node1", "192.168.40.71", "")
    assert saved["sshKeyEnable"] == "No"


# -- every key of the catalogue: its example saves -------------------------------------------

# What a key's example needs beside it on its page (a rule ties them).
COMPANIONS = {
    ("systemConfig", "publicIP"): {"publicPing": "203.0.113.1"},
    ("proxyConfig", "dispatchAuthUser"): {"dispatchAuthRealm": "proxy.example.com"},
}
ALL_KEYS = [(page.name, key.name) for page in PAGES.values() for key in page.keys]


def required_examples(page: str) -> dict[str, str]:
    return {key.name: key.example for key in PAGES[page].keys if key.required}


def ready_for(app, page: str, key: str | None = None) -> None:
    if page == "fences":
        in_store(app, store.create_record, "haNodes", NODE1)  # fenceNodeName's example
    if page == "databaseConfig" and key in set(MYSQL_KEYS) - set(MSSQL_KEYS):
        in_store(app, store.save_settings, "databaseConfig", {"dbEngine": DB_MYSQL})


def test_every_key_has_an_example():
    missing = [f"{page}.{key}" for page, key in ALL_KEYS if not PAGES[page].key(key).example]
    assert missing == []


@pytest.mark.parametrize(("page", "name"), ALL_KEYS, ids=[f"{p}.{k}" for p, k in ALL_KEYS])
def test_the_example_of_every_key_saves(app, client, page, name):
    key = PAGES[page].key(name)
    ready_for(app, page, name)
    typed = {**required_examples(page), **COMPANIONS.get((page, name), {}), name: key.example}
    if page == "databaseConfig" and name in set(MYSQL_KEYS) - set(MSSQL_KEYS):
        typed["dbEngine"] = DB_MYSQL

    response = client.post(url_of(page), data=form_of(page, typed))

    assert response.status_code == 302, field_errors_of(response)
    if PAGES[page].collection:
        items = [item for item in in_store(app, store.list_records, page).items
                 if not item.permanent]
        assert len(items) == 1
        saved = items[0].values
    else:
        saved = in_store(app, store.get_settings, page).values
    assert saved[name] == key.clean(key.example)


@pytest.mark.parametrize("page", list(PAGES))
def test_all_examples_of_a_page_save_together(app, client, page):
    ready_for(app, page)
    shown = PAGES[page].keys
    if page == "databaseConfig":
        shown = [key for key in shown if key.name in MSSQL_KEYS]
    typed = {key.name: key.example for key in shown}
    if page == "databaseConfig":
        typed["dbEngine"] = "MS SQL"  # the keys shown are those of the saved engine

    response = client.post(url_of(page), data=form_of(page, typed))

    assert response.status_code == 302, field_errors_of(response)
