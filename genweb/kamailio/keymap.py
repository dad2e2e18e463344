"""Where each manual key lands in Kamailio's files and rows, for docs/engine-map.md (issue 4.9).

Keyed by (page, key); a test checks that every key named here exists in the catalogue.
"""

from __future__ import annotations

CFG, TLS, HTTP, ROWS = "kamailio.cfg", "tls.cfg", "http_client.cfg", "proxy database"

KEY_MAP: dict[tuple[str, str], str] = {
    ("systemConfig", "systemName"): f"{CFG}: header comment; notification field `system`",
    ("systemConfig", "privateIP"): f"{CFG}: `listen=udp|tcp[|tls]:privateIP:...`, "
                                   "`ds_ping_from`, `ds_default_socket`; allow group (address)",
    ("systemConfig", "privatePort"): f"{CFG}: private `listen=udp|tcp` port",
    ("systemConfig", "privatePortTLS"): f"{CFG}: private `listen=tls` port (enableTLS)",
    ("systemConfig", "privateSubnet"): f"{CFG}: route SEND_SOCKET `is_in_subnet()` (which side "
                                       "a next hop is on)",
    ("systemConfig", "publicIP"): f"{CFG}: public `listen=` (or the `advertise` address with "
                                  "mappedIP), `alias=`; uacreg `contact_addr` default",
    ("systemConfig", "publicPort"): f"{CFG}: public `listen=`/`advertise` port, `alias=`",
    ("systemConfig", "publicPortTLS"): f"{CFG}: public `listen=tls`/`advertise` port, `alias=`",
    ("systemConfig", "alias"): f"{CFG}: `alias=\"host\":port` (5060 when no port); the IPv4 "
                               "entry is advertised for a host name publicIP",
    ("systemConfig", "mappedIP"): f"{CFG}: public side `listen=` bound here, `advertise` public",
    ("systemConfig", "mappedPort"): f"{CFG}: public side `listen=udp|tcp` port",
    ("systemConfig", "mappedPortTLS"): f"{CFG}: public side `listen=tls` port",
    ("haNodes", "privateIP"): f"{ROWS}: address group 2 (allowList, 7.1.12)",
    ("haNodes", "publicIP"): f"{ROWS}: address group 2 (allowList, 7.1.12)",
    ("proxyConfig", "serverHeader"): f"{CFG}: core `server_header`",
    ("proxyConfig", "userAgent"): f"{CFG}: core `user_agent_header`",
    ("proxyConfig", "enableTLS"): f"{CFG}: `enable_tls`, tls module, `listen=tls:` sockets",
    ("proxyConfig", "rrIgnoreSips"): f"{CFG}: `modparam(\"rr\", \"ignore_sips\")`",
    ("proxyConfig", "enableRegAuth"): f"{CFG}: route REGISTRAR `auth_check`/`auth_challenge` "
                                      "(401)",
    ("proxyConfig", "enableInviteAuth"): f"{CFG}: route TO_GENESIS `auth_check`/"
                                         "`auth_challenge` (407)",
    ("proxyConfig", "enableContactCheck"): f"{CFG}: route TO_GENESIS `registered(..., 4)` with "
                                           "`match_contact`",
    ("proxyConfig", "enableRegCheck"): f"{CFG}: route TO_GENESIS `registered()`",
    ("proxyConfig", "regRetryInterval"): f"{CFG}: `modparam(\"uac\", \"reg_retry_interval\")`",
    ("proxyConfig", "notifyCaCert"): f"{CFG}: `modparam(\"http_client\", \"cacert\")`",
    ("proxyConfig", "denyList"): f"{ROWS}: address group 1; {CFG} route REQINIT",
    ("proxyConfig", "allowList"): f"{ROWS}: address group 2; {CFG} routes ANTIFLOOD, "
                                  "OPTIONS_LOCAL, TO_GENESIS",
    ("proxyConfig", "proxyList"): f"{ROWS}: address group 3; {CFG} request_route (rule 4), "
                                  "ANTIFLOOD, OPTIONS_LOCAL",
    ("proxyConfig", "enableNAT"): f"{CFG}: rtpengine module and the MEDIA_* routes",
    ("proxyConfig", "enableAntiFlood"): f"{CFG}: pike module, htable `ipban`, route ANTIFLOOD",
    ("proxyConfig", "enableAstFailover"): f"{CFG}: dispatcher `ds_ping_interval`, "
                                          "`ds_probing_mode`",
    ("proxyConfig", "astPersistentFailover"): f"{CFG}: route DS_ROLES (swap, htable `dsrole`)",
    ("proxyConfig", "astPingMethod"): f"{CFG}: dispatcher `ds_ping_method`",
    ("proxyConfig", "astPingInterval"): f"{CFG}: dispatcher `ds_ping_interval`",
    ("proxyConfig", "dispatchPriUser"): f"{CFG}: route GENESIS_REGISTER prefix -> set 1",
    ("proxyConfig", "dispatchSecUser"): f"{CFG}: route GENESIS_REGISTER prefix -> set 0",
    ("proxyConfig", "dispatchLimit"): f"{CFG}: route DS_ADD per-set limit",
    ("proxyConfig", "dispatchSize"): f"{CFG}: route DS_ADD total limit 2^dispatchSize",
    ("proxyConfig", "dispatchListenSock"): f"{CFG}: `listen=tcp|tls:` + "
                                           "`event_route[xhttp:request]` socket check",
    ("proxyConfig", "dispatchAuthUser"): f"{CFG}: route HTTP_AUTH user names",
    ("proxyConfig", "dispatchAuthRealm"): f"{CFG}: route HTTP_AUTH realm",
    ("proxyConfig", "dispatchAuthPassword"): f"{CFG}: route HTTP_AUTH, as the HA1/HA1B computed "
                                             "from it (no password in the file)",
    ("proxyConfig", "dispatchAuthHa1"): f"{CFG}: route HTTP_AUTH (user name without realm)",
    ("proxyConfig", "dispatchAuthHa1b"): f"{CFG}: route HTTP_AUTH (user name user@realm)",
    ("mediaConfig", "amtelcoMediaEncryption"): f"{CFG}: route MEDIA_ENCRYPTION step 1, "
                                               "`remove_hf()` before relaying",
    ("mediaConfig", "rtpList"): f"{ROWS}: address group 4; {CFG} route MEDIA_ENCRYPTION step 2",
    ("mediaConfig", "dtlsList"): f"{ROWS}: address group 5; {CFG} route MEDIA_ENCRYPTION step 3",
    ("mediaConfig", "sdesList"): f"{ROWS}: address group 6; {CFG} route MEDIA_ENCRYPTION step 4",
    ("mediaConfig", "changeMediaEncryption"): f"{CFG}: route MEDIA_ENCRYPTION steps 5-7",
    ("mediaConfig", "defaultMediaEncryption"): f"{CFG}: route MEDIA_ENCRYPTION step 7",
    ("mediaConfig", "enableAvpf"): f"{CFG}: route MEDIA_ENCRYPTION (`_f` modes: RTP/AVPF, "
                                   "RTP/SAVPF, UDP/TLS/RTP/SAVPF)",
    ("tlsProxyConfigs", "tlsDomain"): f"{TLS}: `[role:domain]` section",
    ("tlsProxyConfigs", "tlsRole"): f"{TLS}: `[server:...]` / `[client:...]`",
    ("tlsProxyConfigs", "method"): f"{TLS}: `method`",
    ("tlsProxyConfigs", "tlsPrivateKey"): f"{TLS}: `private_key` in /etc/ssl/genproxy_pvt",
    ("tlsProxyConfigs", "tlsCertificate"): f"{TLS}: `certificate` in /etc/ssl/genproxy_pvt",
    ("tlsProxyConfigs", "tlsVerify"): f"{TLS}: `verify_certificate`/`require_certificate` "
                                      "(`verify_client = optional_no_ca`)",
    ("tlsProxyConfigs", "tlsVerifyDepth"): f"{TLS}: `verify_depth`",
    ("tlsProxyConfigs", "tlsCaPath"): f"{TLS}: `ca_path` (when no tlsCaList)",
    ("tlsProxyConfigs", "tlsCaList"): f"{TLS}: `ca_list`",
    ("tlsProxyConfigs", "tlsCrl"): f"{TLS}: `crl`",
    ("tlsProxyConfigs", "tlsCipherList"): f"{TLS}: `cipher_list`",
    ("notifies", "notifyURL"): f"{HTTP}: `url` of connection notifyN",
    ("notifies", "notifyRedirect"): f"{HTTP}: `httpredirect`",
    ("notifies", "notifyUser"): f"{HTTP}: `username`, `authmethod = 3`",
    ("notifies", "notifyPassword"): f"{HTTP}: `password`",
    ("notifies", "notifyUserAgent"): f"{HTTP}: `useragent`",
    ("notifies", "notifyVerifyPeer"): f"{HTTP}: `verify_peer`",
    ("notifies", "notifyVerifyHost"): f"{HTTP}: `verify_host`",
    ("notifies", "notifyClientKey"): f"{HTTP}: `client_key`",
    ("notifies", "notifyClientCert"): f"{HTTP}: `client_cert`",
    ("notifies", "notifyCipherList"): f"{HTTP}: `cipher_suites`",
    ("notifies", "notifyTlsVersion"): f"{HTTP}: `tlsversion` (TLSv1.3+: {CFG} module default)",
    ("subscribers", "username"): f"{ROWS}: subscriber.username",
    ("subscribers", "domain"): f"{ROWS}: subscriber.domain (the digest realm)",
    ("subscribers", "password"): f"{ROWS}: subscriber.ha1 / ha1b computed from it",
    ("subscribers", "ha1"): f"{ROWS}: subscriber.ha1",
    ("subscribers", "ha1b"): f"{ROWS}: subscriber.ha1b",
    ("outboundRegistrations", "l_uuid"): f"{ROWS}: uacreg.l_uuid",
    ("outboundRegistrations", "l_username"): f"{ROWS}: uacreg.l_username",
    ("outboundRegistrations", "l_domain"): f"{ROWS}: uacreg.l_domain",
    ("outboundRegistrations", "r_username"): f"{ROWS}: uacreg.r_username",
    ("outboundRegistrations", "r_domain"): f"{ROWS}: uacreg.r_domain",
    ("outboundRegistrations", "realm"): f"{ROWS}: uacreg.realm",
    ("outboundRegistrations", "auth_username"): f"{ROWS}: uacreg.auth_username",
    ("outboundRegistrations", "auth_password"): f"{ROWS}: uacreg.auth_ha1 computed with realm "
                                                "(uacreg.auth_password when no realm)",
    ("outboundRegistrations", "auth_ha1"): f"{ROWS}: uacreg.auth_ha1",
    ("outboundRegistrations", "auth_proxy"): f"{ROWS}: uacreg.auth_proxy",
    ("outboundRegistrations", "expires"): f"{ROWS}: uacreg.expires",
    ("outboundRegistrations", "reg_delay"): f"{ROWS}: uacreg.reg_delay",
    ("outboundRegistrations", "reg_contact_addr"): f"{ROWS}: uacreg.contact_addr",
    ("outboundRegistrations", "socket"): f"{ROWS}: uacreg.socket",
    ("databaseConfig", "dbEngine"): f"{CFG}: db_mysql or db_unixodbc, every `db_url`",
    ("databaseConfig", "dbrwUser"): f"{CFG}: MS SQL `db_url` user",
    ("databaseConfig", "dbrwPass"): f"{CFG}: `db_url` password (amtelco for MySQL)",
}
