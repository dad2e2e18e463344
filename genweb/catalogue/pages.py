"""Every page and key of the manual (sections 3, 5-13), described once.

Descriptions are the text of the manual's figures. Defaults are the manual's. Commit effects
follow the manual where it says (lists "without causing any down time", updateRtpDbPass "all
nodes ... will restart", rootPass "no need to commit"); elsewhere they follow what the engine
needs to take the change: see docs/decisions.md.
"""

from __future__ import annotations

from . import rules
from . import validators as v
from .model import DEFAULT, NO, TRISTATE_CHOICES, YES, Effect, Key, Kind, Page

L, S, R, N = Effect.LIVE, Effect.SWITCH, Effect.RESTART, Effect.NONE

PASSWORD_PLACEHOLDER = "Type password & press Enter to change"

# Names start with a letter or number: they become host names (/etc/hosts) and cluster ids, and
# a leading '-' would read as an option on the command lines that carry them.
_NAME_CHARS = v.pattern(r"[A-Za-z0-9][A-Za-z0-9._-]*",
                        "use letters, numbers, '-', '_' and '.' only, starting with a letter or "
                        "number", 63)
_FENCE_CHARS = v.pattern(r"[A-Za-z0-9][A-Za-z0-9_-]*",
                         "use letters, numbers, '-' and '_' only, starting with a letter or number",
                         63)
_SIP_USER = v.pattern(r"[A-Za-z0-9_.!~*'()&=+$,;?/%-]+",
                      "a SIP user name: letters, numbers and - _ . ! ~ * ' ( ) & = + $ , ; ? / %, "
                      "without spaces", 64)
_PREFIX = v.pattern(r"[A-Za-z0-9_.+-]+", "use letters, numbers, '-', '_', '.' and '+' only", 64)
_REALM = v.pattern(r"[A-Za-z0-9_.:@+-]+", "use letters, numbers and '-', '_', '.', ':', '@', '+'", 128)
_HEADER_NAME = v.pattern(r"[A-Za-z0-9][A-Za-z0-9._-]*", "a SIP header name (letters, numbers, '.', '-', '_')", 64)
_DB_NAME = v.pattern(r"[A-Za-z_][A-Za-z0-9_]*", "letters, numbers and '_', not starting with a number", 64)
_PLUG = v.pattern(r"[A-Za-z0-9._:/-]+", "letters, numbers and '.', '_', ':', '/', '-'", 64)
_FENCE_AGENT = v.pattern(r"fence_[a-z0-9_]+", "the name of an agent in /usr/sbin starting with 'fence_'", 64)
_SNMP_USER = v.pattern(r"[A-Za-z0-9_.@:+-]+", "letters, numbers and '_', '.', '@', ':', '+', '-'", 64)


def tristate(name: str, description: str, section: str, default: str, effect: Effect = S) -> Key:
    return Key(name, description, section, Kind.TRISTATE, default=default,
               choices=TRISTATE_CHOICES, effect=effect, example=YES if default == NO else NO)


def secret(name: str, description: str, section: str, effect: Effect = S, hash32: bool = False,
           checker: v.Checker | None = None) -> Key:
    return Key(name, description, section, Kind.SECRET, checker=v.hex32 if hash32 else checker,
               effect=effect, example="0123456789abcdef0123456789abcdef" if hash32 else "s3cret-pass")


def integer(name: str, description: str, section: str, default: int | None, low: int,
            high: int | None, effect: Effect = S, also: tuple[int, ...] = (), **extra) -> Key:
    return Key(name, description, section, Kind.INTEGER,
               default="" if default is None else str(default),
               checker=v.integer(low, high, also=also), effect=effect,
               example=str(default if default is not None else low), **extra)


# -- 3.0 Global System Configuration ---------------------------------------------------------

SYSTEM_CONFIG = Page(
    name="systemConfig", title="Global System Configuration", sidebar="System Config", section="3.0",
    keys=(
        Key("systemName", "Name to identify the High Availability System (default genproxysa)", "3.1",
            default="genproxysa", checker=_NAME_CHARS, effect=R, example="genproxysa"),
        Key("privateIP", "Private floating IP Address for the System", "3.2",
            checker=v.ipv4, required=True, effect=R, example="192.168.40.70"),
        Key("privatePort", "Private listening port for SIP messages (default 5060)", "3.3",
            default="5060", checker=v.port, example="5060"),
        Key("privatePortTLS", "Private listening port for SIPs messages (default 5061)", "3.4",
            default="5061", checker=v.port, example="5061"),
        Key("privateSubnet", "Private subnet mask (CIDR or dot-decimal)", "3.5",
            checker=v.subnet_mask, required=True, effect=R, example="24"),
        Key("privatePing", "IP Address or Hostname of a gateway or other device for monitoring "
            "private network status. Must respond to ping requests.", "3.6",
            checker=v.host, required=True, effect=L, example="192.168.40.1"),
        Key("publicIP", "Public IP Address or Hostname for the System (blank if not used)", "3.7",
            checker=v.host, effect=R, example="203.0.113.10"),
        Key("publicPort", "Public listening port for SIP messages (blank if not used; default 5060)",
            "3.8", default="5060", checker=v.port, example="5060"),
        Key("publicPortTLS", "Public listening port for SIPs messages (blank if not used; default 5061)",
            "3.9", default="5061", checker=v.port, example="5061"),
        Key("publicPing", "IP Address or Hostname of a gateway or other device for monitoring public "
            "network status. If using 'mappedIP', this may be the gateway on the mapped network. "
            "Must respond to ping requests.", "3.10", checker=v.host, effect=L, example="203.0.113.1"),
        Key("alias", "List of hostnames with ports as <hostname>[:<port>] if the system can be "
            "accessed via one or more domain names in addition to the assigned IP addresses. Enter "
            "each hostname on a separate line. If no port is specified, 5060 will be used", "3.11",
            Kind.LIST, checker=v.alias_list, example="proxy.example.com\nproxy.example.com:5061"),
        Key("mappedIP", "Private IP Address that the Public IP is mapped to. May be the same as "
            "privateIP (blank if not used)", "3.12", checker=v.ipv4, effect=R, example="192.168.40.71"),
        Key("mappedPort", "Private listening port for SIP messages that the Public listening port is "
            "mapped to (blank if not used; default 5060)", "3.13", default="5060", checker=v.port,
            example="5062"),
        Key("mappedPortTLS", "Private listening port for SIPs messages that the Public listening port "
            "is mapped to (blank if not used; default 5061)", "3.14", default="5061",
            checker=v.port, example="5063"),
        tristate("startAtBoot", "Start High Availability System at boot (default No)", "3.15", NO, L),
        Key("onFailMode", "Select whether failed nodes should be fenced or placed in standby (if "
            "fencing is enabled). 'Standby' will only fence if a failed resource cannot be stopped "
            "gracefully. 'Fence' will immediately fence a node on any resource failure. "
            "(default standby)", "3.16", Kind.CHOICE, default="Standby",
            choices=(DEFAULT, "Standby", "Fence"), effect=L, example="Fence"),
        tristate("startup-fencing", "Fence unseen nodes at startup (default false)", "3.17", NO, L),
    ),
    rules=(rules.public_network,),
)

# -- 5.2 Node Configuration ------------------------------------------------------------------

HA_NODES = Page(
    name="haNodes", title="High Availability Proxy Server Node Configuration", sidebar="HA Nodes",
    section="5.0", collection=True, record_name="node",
    keys=(
        integer("nodeID", "Unique Numeric ID for this node (1-15)", "5.2.1", None, 1, 15, R,
                required=True, immutable_after_commit=True),
        Key("nodeName", "Name for identifying this node (letters, numbers, '-', '_', '.' only)",
            "5.2.2", checker=_NAME_CHARS, required=True, effect=R, example="node1",
            immutable_after_commit=True),
        Key("privateIP", "IP Address for local interface", "5.2.3", checker=v.ipv4, required=True,
            effect=R, example="192.168.40.71", immutable_after_commit=True),
        Key("publicIP", "IP Address for network-facing interface, if used", "5.2.4",
            checker=v.ipv4, effect=R, example="192.168.50.71", immutable_after_commit=True),
        tristate("sshKeyEnable", "Enable public key authentication for web access to this node "
                 "(default Yes)", "5.2.5", YES, N),
        secret("sshPassword", "Password for configuration access to this node. Ignored if using "
               "public key authentication for web access", "5.2.6", N),
    ),
    index_columns=("nodeID", "nodeName"),
    unique=(("nodeID",), ("nodeName",), ("privateIP",)),
    create_effect=R,
    order_by=("nodeID",),
)

# -- 6.2 Fence Configuration -----------------------------------------------------------------

FENCES = Page(
    name="fences", title="High Availability Proxy Server Fence Configuration", sidebar="Fences",
    section="6.0", collection=True, record_name="fence",
    keys=(
        Key("fenceName", "Unique name for identifying this fence device (letters, numbers, '-', '_' "
            "only)", "6.2.1", checker=_FENCE_CHARS, required=True, effect=L, example="fence1_network"),
        Key("fenceNodeName", "Name of node fenced by this device", "6.2.2", Kind.CHOICE,
            required=True, effect=L, example="node1"),
        integer("fencePriority", "Priority of the fence device for the selected node. Lower numbers "
                "are higher priority. All devices at the highest priority will be activated if "
                "fencing is required. If any fail, lower priority devices will be activated in order "
                "until all devices at a given priority succeed. fencePriority must be blank or a "
                "number from 1 to 9. (default 1)", "6.2.3", 1, 1, 9, L),
        Key("fenceAgent", "Fence Agent for this fence device", "6.2.4", checker=_FENCE_AGENT,
            required=True, effect=L, example="fence_ether_snmp"),
        Key("fenceDevicePlug", "Fence device's plug or port that this node is connected to", "6.2.5",
            checker=_PLUG, required=True, effect=L, example="3"),
        Key("fenceDeviceIP", "IP Address of Fence Device", "6.2.6", checker=v.host, required=True,
            effect=L, example="192.168.40.2"),
        Key("fenceDeviceIPPort", "IP Port number for the Fence Device (default 161)", "6.2.7",
            default="161", checker=v.port, effect=L, example="161"),
        Key("fenceSnmpVersion", "SNMP Version to use for Fence Agent", "6.2.8", Kind.CHOICE,
            default="2c", choices=("2c", "3"), effect=L, example="3"),
        Key("fenceSnmpUser", "SNMP Community (SNMP Ver. 2c) or Username (SNMP Ver. 3)", "6.2.9",
            checker=_SNMP_USER, required=True, effect=L, example="private"),
        Key("fenceSnmpAuthProt", "SNMP V3 Authentication Protocol", "6.2.10", Kind.CHOICE,
            default="None", choices=("None", "SHA", "MD5"), effect=L, example="SHA"),
        secret("fenceSnmpAuthPass", "SNMP V3 Authentication Password", "6.2.11", L,
               checker=v.pass_phrase),
        Key("fenceSnmpPrivProt", "SNMP V3 Privacy Protocol", "6.2.12", Kind.CHOICE,
            default="None", choices=("None", "DES", "AES"), effect=L, example="AES"),
        secret("fenceSnmpPrivPass", "SNMP V3 Privacy Password", "6.2.13", L,
               checker=v.pass_phrase),
    ),
    index_columns=("fenceName", "fenceNodeName", "fencePriority"),
    unique=(("fenceName",),),
    rules=(rules.snmp_v3,),
    create_effect=L,
    order_by=("fenceNodeName", "fencePriority", "fenceName"),
)

# -- 7.1 Proxy Configuration -----------------------------------------------------------------

_LIST_GRAMMAR = "<address>[:<port>][/<subnet>]"

PROXY_CONFIG = Page(
    name="proxyConfig", title="Proxy Configuration", sidebar="Proxy Config", section="7.0",
    keys=(
        Key("serverHeader", "Value for the 'Server:' header for replies generated by the Proxy "
            "Server. Set to 'None' for no header, 'kamDefault' for 'Kamailio (<version> "
            "(<arch>/<os>))', or leave blank for 'Genesis Proxy'.", "7.1.1",
            default="Genesis Proxy", checker=v.header_text, example="Acme SBC"),
        Key("userAgent", "Value for the 'User-Agent:' header for requests generated by the Proxy "
            "Server. Set to 'None' for no header, 'kamDefault' for 'Kamailio (<version> "
            "(<arch>/<os>))' or leave blank for 'Genesis Proxy'.", "7.1.2",
            default="Genesis Proxy", checker=v.header_text, example="None"),
        tristate("enableTLS", "Enable TLS for SIPS communications (default No)", "7.1.3", NO),
        tristate("rrIgnoreSips", "If enabled, always use 'sip:' in Record-Route headers. Otherwise "
                 "use schema from Request URI (default No)", "7.1.4", NO),
        tristate("enableRegAuth", "Enable inbound REGISTER authentication (default No)", "7.1.5", NO),
        tristate("enableInviteAuth", "Enable inbound INVITE authentication (default No)", "7.1.6", NO),
        tristate("enableContactCheck", "Qualify incoming Contact: header with registered users from "
                 "untrusted IPs (default No)", "7.1.7", NO),
        tristate("enableRegCheck", "Qualify incoming From: URI with registered users from untrusted "
                 "IPs (default No)", "7.1.8", NO),
        integer("regRetryInterval", "Interval in seconds between retries on failed outbound "
                "registration attempts (default 180, min 90, 0 to disable)", "7.1.9", 180, 90,
                86400, also=(0,)),
        Key("notifyCaCert", "Filename (including path) of a list of trusted CA certificates for all "
            "notifications using TLS. The file must be maintained manually whenever certificates are "
            "added or modified. If blank, the system's default certificates will be used.", "7.1.10",
            checker=v.abs_path, example="/etc/ssl/certs/notify-ca.pem"),
        Key("denyList", f"List of IP addresses as {_LIST_GRAMMAR} that are not allowed to send SIP "
            "messages. Subnets may be CIDR or dot-decimal. If no <port>, all ports are denied.",
            "7.1.11", Kind.LIST, checker=v.address_list, effect=L,
            example="198.51.100.7\n203.0.113.0/24, 192.0.2.5:5060"),
        Key("allowList", "If INVITE authentication and/or flood control are enabled, the listed IP "
            f"addresses (as {_LIST_GRAMMAR}) are allowed to bypass these checks when making calls "
            "into the system. Subnets may be CIDR or dot-decimal. If no <port>, all ports are "
            "allowed.", "7.1.12", Kind.LIST, checker=v.address_list, effect=L,
            example="198.51.100.20 198.51.100.21:5060"),
        Key("proxyList", f"List of IP addresses as {_LIST_GRAMMAR} that are allowed to use the system "
            "as a proxy. Subnets may be CIDR or dot-decimal. If no <port>, all ports are allowed.",
            "7.1.13", Kind.LIST, checker=v.address_list, effect=L,
            example="192.168.40.0/255.255.255.0"),
        tristate("enableNAT", "Enable NAT Traversal Capabilities in the Proxy Server (default No)",
                 "7.1.14", NO),
        tristate("enableAntiFlood", "Enable anti-flood detection to mitigate effects of flood "
                 "attacks (default Yes)", "7.1.15", YES),
        tristate("enableAstFailover", "Enable failure detection queries for Asterisk systems "
                 "(default Yes)", "7.1.16", YES),
        tristate("astPersistentFailover", "Enable persistent failover on Asterisk failure. When "
                 "enabled, the primary and secondary systems are permanently swapped when a failover "
                 "occurs. When disabled, calls will be routed to the primary system(s) when at least "
                 "one recovers. (default Yes)", "7.1.17", YES),
        Key("astPingMethod", "Select SIP messages to use for Asterisk failure detection (default "
            "'OPTIONS')", "7.1.18", Kind.CHOICE, default="OPTIONS",
            choices=(DEFAULT, "OPTIONS", "INFO"), example="INFO"),
        integer("astPingInterval", "Time between queries for Asterisk failure detection (default "
                "30 seconds)", "7.1.19", 30, 1, 3600),
        Key("dispatchPriUser", "Registration prefix used to indicate systems that are in the primary "
            "dispatch set (default 'genesis_a')", "7.1.20", default="genesis_a", checker=_PREFIX,
            example="genesis_a"),
        Key("dispatchSecUser", "Registration prefix used to indicate systems that are in the backup "
            "dispatch set (default 'genesis_b')", "7.1.21", default="genesis_b", checker=_PREFIX,
            example="genesis_b"),
        integer("dispatchLimit", "Maximum number of destinations per dispatch set (default 10)",
                "7.1.22", 10, 1, 100),
        integer("dispatchSize", "Maximum number of dispatch systems as 2 ^ dispatchSize (default 8 "
                "for 256 systems)", "7.1.23", 8, 1, 16),
        Key("dispatchListenSock", "List of IP Addresses and ports to listen on for HTTP dispatcher "
            "control as [<proto>:]<ip>[:<port>] (typically same as privateIP, publicIP, and/or "
            "mappedIP from System Configuration). <proto> may be tls or tcp (default tcp). Default "
            "port is 80 for tcp, 443 for tls. If no entries, this feature is disabled.", "7.1.24",
            Kind.LIST, checker=v.socket_list(("tcp", "tls")), example="192.168.40.70:8080 tls:192.168.40.70"),
        Key("dispatchAuthUser", "The username for digest authentication for HTTP dispatcher control. "
            "If blank, authentication is disabled.", "7.1.25", checker=_SIP_USER, example="genesis_is"),
        Key("dispatchAuthRealm", "The realm for digest authentication for HTTP dispatcher control. "
            "Required if authentication is enabled.", "7.1.26", checker=_REALM,
            example="proxy.example.com"),
        secret("dispatchAuthPassword", "The password for digest authentication for HTTP dispatcher "
               "control (if not blank, overrides dispatchAuthHa1 and dispatchAuthHa1b)", "7.1.27"),
        secret("dispatchAuthHa1", "HA1 hash of dispatch authentication password calculated from "
               "<dispatchAuthUser> where realm = <dispatchAuthRealm> (ignored if "
               "'dispatchAuthPassword' is not blank)", "7.1.28", hash32=True),
        secret("dispatchAuthHa1b", "HA1 hash of dispatch authentication password calculated from "
               "<dispatchAuthUser>@<realm> where realm = <dispatchAuthRealm> (ignored if "
               "'dispatchAuthPassword' is not blank)", "7.1.29", hash32=True),
    ),
    rules=(rules.dispatch_prefixes, rules.dispatch_auth),
)

# -- 8.1 Proxy Media (RTP) Configuration -----------------------------------------------------

_ENDPOINTS = "<address>[:<port>] or <host>[:<port>]"
MEDIA_ENCRYPTIONS = ("sdes", "sdes_f", "dtls", "dtls_f", "none", "none_f")

MEDIA_CONFIG = Page(
    name="mediaConfig", title="Proxy Media (RTP) Configuration", sidebar="Proxy Media Config",
    section="8.0",
    intro="These settings are only used when NAT traversal is enabled via the enableNAT setting.",
    keys=(
        integer("tos", "RTP Type Of Service Setting (default 184 - Expedited Forwarding)", "8.1.1",
                184, 0, 255),
        integer("rtpPortMin", "Minimum port number used for outbound RTP (default 20000)", "8.1.2",
                20000, 1024, 65535),
        integer("rtpPortMax", "Maximum port number used for outbound RTP (default 30000)", "8.1.3",
                30000, 1024, 65535),
        integer("timeout", "Time in seconds until RTP session is deleted if RTP media traffic ends "
                "(default 60)", "8.1.4", 60, 1, 31536000),
        integer("silent-timeout", "Time in seconds until RTP session is deleted if RTP media traffic "
                "is muted or inactive (default 3600)", "8.1.5", 3600, 1, 31536000),
        integer("foreign-timeout", "Time in seconds until RTP sessions that were active on a "
                "failover event are deleted (default 14400)", "8.1.6", 14400, 1, 31536000),
        integer("final-timeout", "Total time in seconds an RTP session is allowed to be active "
                "(default 86400, 0 disables)", "8.1.7", 86400, 0, 31536000),
        tristate("updateRtpDbPass", "Select 'Yes' to generate a new random password for the media "
                 "proxy database at the next commit. (default 'No')", "8.1.8", NO, R),
        Key("amtelcoMediaEncryption", "Custom SIP header to use for setting the media encryption for "
            "an outgoing call (disabled if blank). Only used if enableTLS is set to 'Yes'", "8.1.9",
            checker=_HEADER_NAME, example="Amtelco.media_encryption"),
        Key("rtpList", f"List of outbound IP addresses as {_ENDPOINTS} that will not use outbound "
            "media encryption (overridden by 'amtelcoMediaEncryption' header, if present). If no "
            "<port>, applies to all outbound ports.", "8.1.10", Kind.LIST,
            checker=v.host_port_list, effect=L, example="192.0.2.10 sip.example.net:5060"),
        Key("dtlsList", f"List of outbound IP addresses as {_ENDPOINTS} that will use dtls for "
            "outbound media encryption (overridden by 'amtelcoMediaEncryption' header, if present). "
            "If no <port>, applies to all outbound ports.", "8.1.11", Kind.LIST,
            checker=v.host_port_list, effect=L, example="192.0.2.11"),
        Key("sdesList", f"List of outbound IP addresses as {_ENDPOINTS} that will use sdes for "
            "outbound media encryption (overridden by dtlsList and 'amtelcoMediaEncryption' header, "
            "if present). If no <port>, applies to all outbound ports.", "8.1.12", Kind.LIST,
            checker=v.host_port_list, effect=L, example="192.0.2.12:5061"),
        tristate("changeMediaEncryption", "Enable the proxy server to change the media encryption "
                 "when the inbound and outbound transports (i.e. UDP/TCP/TLS) differ and the "
                 "encryption has not been set by the 'amtelcoMediaEncryption' header, 'rtpList', "
                 "'dtlsList', or 'sdesList' (default No).", "8.1.13", NO),
        Key("defaultMediaEncryption", "RTP Media Encryption to use on outbound calls using TLS when "
            "the call's media encryption is changed due to 'changeMediaEncryption' (default sdes)",
            "8.1.14", Kind.CHOICE, default="sdes", choices=(DEFAULT, "sdes", "dtls"), example="dtls"),
        tristate("enableAvpf", "Enable RTCP-based feedback if media encryption is changed due to "
                 "'rtpList', 'dtlsList', 'sdesList', or 'changeMediaEncryption' (default No)",
                 "8.1.15", NO),
    ),
    rules=(rules.rtp_ports,),
)

# -- 9.2 Proxy TLS Configuration -------------------------------------------------------------

# Kamailio 5.6's tls module: no TLSv1.3-only method exists ("TLSv1.2+" also negotiates 1.3).
TLS_METHODS = ("TLSv1.2+", "TLSv1.1+", "TLSv1+", "TLSv1.2", "TLSv1.1", "TLSv1", "SSLv23")
TLS_DEFAULT_DOMAIN = "default"

TLS_CONFIGS = Page(
    name="tlsProxyConfigs", title="Proxy TLS Configuration", sidebar="Proxy TLS Configs",
    section="9.0", collection=True, record_name="TLS section",
    intro="Items in this section are not used unless 'enableTLS' is set to 'Yes' or "
    "'dispatchListenSock' includes a tls endpoint in the Proxy Config section. The two 'default' "
    "sections must be configured when using TLS. Additional sections may be added as necessary. "
    "These settings are used to provide TLS support for SIPS messaging and dispatchListenSock "
    "endpoints.",
    keys=(
        Key("tlsDomain", "Domain of this section as <IP>:<port>", "9.2.1", checker=v.tls_domain,
            required=True, effect=L, example="192.0.2.20:5061"),
        Key("tlsRole", "Role for this section. Each domain should have a server role and a client "
            "role.", "9.2.2", Kind.CHOICE, default="client", choices=("client", "server"),
            required=True, effect=L, example="server"),
        Key("method", "TLS Protocol method to use for this section. SSL protocols are considered "
            "insecure and should be avoided. (default TLSv1.2+)", "9.2.3", Kind.CHOICE,
            default="TLSv1.2+", choices=(DEFAULT, *TLS_METHODS), effect=L, example="TLSv1.2"),
        Key("tlsPrivateKey", "Name of TLS Private Key file to use for this section. The file must be "
            "in '/etc/ssl/genproxy_pvt'", "9.2.4", checker=v.pvt_file, effect=L, example="proxy.key"),
        Key("tlsCertificate", "Name of the TLS Certificate file to use for this section. If the "
            "certificate and private key are combined, this file may be blank. Otherwise, the file "
            "must be in '/etc/ssl/genproxy_pvt'", "9.2.5", checker=v.pvt_file, effect=L,
            example="proxy.crt"),
        Key("tlsVerify", "Certificate Verification requirement for this section. For server sections, "
            "'On' will require the client to send a valid certificate, 'Optional' will request a "
            "certificate and validate it if received. For client sections, 'On' will validate the "
            "server certificate and 'Off' will allow any certificate. (default off)", "9.2.6",
            Kind.CHOICE, default="Off", choices=(DEFAULT, "Off", "On", "Optional", "Optional No CA"),
            effect=L, example="On"),
        integer("tlsVerifyDepth", "Specifies how deep to search the certificate chain for a trusted "
                "CA (default '9')", "9.2.7", 9, 1, 100, L),
        Key("tlsCaPath", "Path to trusted CA files for this section. The specified directory must "
            "include the hash map for the certificates in the directory (as created by c_rehash). "
            "Ignored if tlsCaList is specified. (default '/etc/ssl/certs/')", "9.2.8",
            default="/etc/ssl/certs/", checker=v.abs_path, effect=L, example="/etc/ssl/genproxy_ca/"),
        Key("tlsCaList", "Filename (including path) of a list of trusted CA certificates for this "
            "section. Do not use if tlsCaPath is set or if the set of certificates is large. (No "
            "default value)", "9.2.9", checker=v.abs_path, effect=L, example="/etc/ssl/ca-list.pem"),
        Key("tlsCrl", "Filename (including path) of a certificate revocation list. (No default "
            "value)", "9.2.10", checker=v.abs_path, effect=L, example="/etc/ssl/crl.pem"),
        Key("tlsCipherList", "Accepted ciphers as a colon-separated list. Refer to OpenSSL "
            "documentation for details.", "9.2.11", checker=v.cipher_list, effect=L,
            example="HIGH:!aNULL:!MD5"),
    ),
    index_columns=("tlsDomain", "tlsRole"),
    unique=(("tlsDomain", "tlsRole"),),
    create_effect=L,
    order_by=("tlsDomain", "tlsRole"),
)

# -- 10.2 Proxy Notifications ----------------------------------------------------------------

NOTIFY_TLS_VERSIONS = ("TLSv1.2+", "TLSv1.3+", "TLSv1.1+", "TLSv1.0+")

NOTIFICATIONS = Page(
    name="notifies", title="Proxy Server Notifications", sidebar="Proxy Notifications",
    section="10.0", collection=True, record_name="notification",
    keys=(
        Key("notifyURL", "Server to notify as [http[s]://]<server>[:<port>] where <server> is the "
            "server IP address or hostname, and <port> is the port to use for the notification.",
            "10.2.1", checker=v.notify_url, required=True, example="https://is.example.com:8443"),
        tristate("notifyRedirect", "Follow redirects for this connection (default 'Yes')", "10.2.2",
                 YES),
        Key("notifyUser", "Username for accessing the server if authentication is used.", "10.2.3",
            checker=_SIP_USER, example="proxy"),
        secret("notifyPassword", "Password for accessing the server if authentication is used.",
               "10.2.4", checker=v.config_password),
        Key("notifyUserAgent", "Useragent to use for notification events (default 'Genesis Proxy')",
            "10.2.5", default="Genesis Proxy", checker=v.header_text, example="Genesis Proxy"),
        tristate("notifyVerifyPeer", "Enables peer verification if protocol is https. If disabled, "
                 "the connection will be encrypted but the server certificate is not verified "
                 "(default 'No')", "10.2.6", NO),
        tristate("notifyVerifyHost", "Enables host verification if protocol is https. If disabled, "
                 "the connection will be encrypted but the hostname is not verified (default 'No').",
                 "10.2.7", NO),
        Key("notifyClientKey", "Name of the tls client key file if protocol is https and the notified "
            "server requires client verification. The file must be in '/etc/ssl/genproxy_pvt'",
            "10.2.8", checker=v.pvt_file, example="notify-client.key"),
        Key("notifyClientCert", "Name of the tls client certificate file if protocol is https and "
            "the notified server requires client verification. If the certificate and key are "
            "combined, this file may be blank. Otherwise, the file must be in "
            "'/etc/ssl/genproxy_pvt'", "10.2.9", checker=v.pvt_file, example="notify-client.crt"),
        Key("notifyCipherList", "Accepted ciphers as a colon-separated list. Refer to OpenSSL "
            "documentation for details.", "10.2.10", checker=v.cipher_list, example="HIGH:!aNULL"),
        Key("notifyTlsVersion", "TLS Protocol method to use for this notification. (default "
            "TLSv1.2+)", "10.2.11", Kind.CHOICE, default="TLSv1.2+",
            choices=(DEFAULT, *NOTIFY_TLS_VERSIONS), example="TLSv1.3+"),
    ),
    index_columns=("notifyURL",),
    unique=(("notifyURL",),),
    create_effect=S,
    order_by=("notifyURL",),
)

# -- 11.2 Subscribers ------------------------------------------------------------------------

SUBSCRIBERS = Page(
    name="subscribers", title="Subscribers", sidebar="Subscribers", section="11.0",
    collection=True, record_name="subscriber",
    intro="This section defines credentials for users that can access the proxy server. All users "
    "that can register with the proxy server must be defined here. In addition, if any "
    "authentication options are enabled, all users that can be authenticated are defined here.",
    keys=(
        Key("username", "User field of the address-of-record for this subscriber (the user field of "
            "the To: header)", "11.2.1", checker=_SIP_USER, required=True, effect=L, example="5000"),
        Key("domain", "Host field of the address-of-record for this subscriber (the host field of "
            "the To: header)", "11.2.2", checker=v.host, required=True, effect=L,
            example="192.168.40.70"),
        secret("password", "Password used for inbound REGISTER and INVITE authentication (if not "
               "blank, overrides 'ha1' and 'ha1b')", "11.2.3", L),
        secret("ha1", "HA1 hash of the password calculated from <username>:<domain>:<password> "
               "(ignored if 'password' is not blank)", "11.2.4", L, hash32=True),
        secret("ha1b", "HA1B hash of the password calculated from "
               "<username>@<domain>:<domain>:<password> (ignored if 'password' is not blank)",
               "11.2.5", L, hash32=True),
    ),
    index_columns=("username", "domain"),
    unique=(("username", "domain"),),
    create_effect=L,
    order_by=("username", "domain"),
)

# -- 12.2 Outbound Registrations -------------------------------------------------------------

OUTBOUND_REGISTRATIONS = Page(
    name="outboundRegistrations", title="Outbound Registrations", sidebar="Outbound Registrations",
    section="12.0", collection=True, record_name="outbound registration",
    keys=(
        Key("l_uuid", "Unique User ID for registration (used in user field of Contact: header)",
            "12.2.1", checker=_SIP_USER, required=True, effect=L, example="kamailioha"),
        Key("l_username", "Local User for registration (usually same as r_username)", "12.2.2",
            checker=_SIP_USER, required=True, effect=L, example="kamailioha"),
        Key("l_domain", "Local Host (e.g. domain) for registration (usually same as r_domain)",
            "12.2.3", checker=v.host, required=True, effect=L, example="sip.example.net"),
        Key("r_username", "Remote User for registration (used in user field of To: and From: "
            "headers)", "12.2.4", checker=_SIP_USER, required=True, effect=L, example="kamailioha"),
        Key("r_domain", "Remote Host (e.g. domain) for registration (used in request URI and host "
            "field of To: and From: headers)", "12.2.5", checker=v.host, required=True, effect=L,
            example="sip.example.net"),
        Key("realm", "Realm for registration authentication", "12.2.6", checker=_REALM, effect=L,
            example="sip.example.net"),
        Key("auth_username", "Username for registration authentication", "12.2.7",
            checker=_SIP_USER, effect=L, example="kamailioha"),
        secret("auth_password", "Password for registration authentication (if not blank, overrides "
               "'auth_ha1')", "12.2.8", L),
        secret("auth_ha1", "HA1 hash of password for registration authentication (ignored if "
               "'auth_password' is not blank)", "12.2.9", L, hash32=True),
        Key("auth_proxy", "Destination SIP(S) URI for registration and registration authentication "
            "requests as [sip[s]:]<URI>[;<parameters>]. If <proto> is not specified, 'sip' will be "
            "used.", "12.2.10", checker=v.sip_uri, effect=L, example="sip:sip.example.net;transport=tcp"),
        integer("expires", "Registration expiration time in seconds (default 3600)", "12.2.11",
                3600, 60, 604800, L),
        integer("reg_delay", "Delay before sending registration after proxy startup (default 0)",
                "12.2.12", 0, 0, 86400, L),
        Key("reg_contact_addr", "Registration Contact Address as <host>[:<port>][;<parameters>]. Do "
            "not prepend 'sip'. The username field is set to <l_uuid>. (defaults to the system's "
            "publicIP value.)", "12.2.13", checker=v.contact_addr, effect=L,
            example="203.0.113.10:5060;transport=tcp"),
        Key("socket", "Socket as [<proto>:]<ip>[:<port>] for registration (defaults to socket for "
            "public network)", "12.2.14", checker=v.socket_entry(("udp", "tcp", "tls")), effect=L,
            example="udp:192.168.40.70:5060"),
    ),
    index_columns=("l_uuid", "l_username", "l_domain"),
    unique=(("l_uuid",),),
    create_effect=L,
    order_by=("l_uuid",),
)

# -- 13.1 Database Configuration -------------------------------------------------------------

DB_MSSQL, DB_MYSQL = "MS SQL", "MySQL"
MSSQL_KEYS = ("dbEngine", "dbHost", "kamDatabase", "dbrwUser", "dbrwPass")
MYSQL_KEYS = ("dbEngine", "rootPass", "dbrwPass", "dbroPass", "replicationPass")

DATABASE_CONFIG = Page(
    name="databaseConfig", title="Database Configuration", sidebar="Database Config", section="13.0",
    intro="This page provides a method for updating the passwords for accessing the proxy server's "
    "database. If dbEngine is changed, click on 'Save' to display the parameters for the new "
    "database engine.",
    keys=(
        Key("dbEngine", "Database used for proxy server (default MS SQL)", "13.1.1", Kind.CHOICE,
            default=DB_MSSQL, choices=(DEFAULT, DB_MSSQL, DB_MYSQL), effect=R, example=DB_MYSQL),
        secret("rootPass", "Root password for database. (Note: there is no need to commit the "
               "configuration if only rootPass is changed.)", "13.1.2", N),
        Key("dbHost", "Location of the MS SQL database as [<protocol>:]<host>[,<port>] where "
            "'<protocol>' is the protocol to use (e.g. 'tcp'), '<host>' is the server's ip address "
            "or hostname, and '<port>' is the port to use for the connection.", "13.1.3",
            checker=v.db_host, example="tcp:sql.example.com,1433"),
        Key("kamDatabase", "Name of the MS SQL database used by the proxy server. This database must "
            "exist on the MS SQL server. (default 'kamailio')", "13.1.4", default="kamailio",
            checker=_DB_NAME, example="kamailio"),
        Key("dbrwUser", "Read/Write username for database (default 'amtelco')", "13.1.5",
            default="amtelco", checker=_DB_NAME, example="amtelco"),
        Key("dbrwPass", "Read/Write password for database", "13.1.6", Kind.SECRET,
            checker=v.db_url_password, example="s3cret-pass"),
        secret("dbroPass", "Read Only password for database", "13.1.7"),
        secret("replicationPass", "Password for the high availability backup replication system",
               "13.1.8"),
    ),
)

PAGES: dict[str, Page] = {
    page.name: page
    for page in (SYSTEM_CONFIG, HA_NODES, FENCES, PROXY_CONFIG, MEDIA_CONFIG, TLS_CONFIGS,
                 NOTIFICATIONS, SUBSCRIBERS, OUTBOUND_REGISTRATIONS, DATABASE_CONFIG)
}
SETTINGS_PAGES = tuple(page for page in PAGES.values() if not page.collection)
COLLECTIONS = tuple(page for page in PAGES.values() if page.collection)


def database_keys(engine: str) -> tuple[str, ...]:
    """The Database Config keys that apply to the saved dbEngine (13.1)."""
    effective = DATABASE_CONFIG.key("dbEngine").effective(engine)
    return MYSQL_KEYS if effective == DB_MYSQL else MSSQL_KEYS
