"""serverHeader (7.1.1) on the proxy's replies and userAgent (7.1.2) on the requests it makes
(here: its outbound REGISTER, sent at start): blank gives 'Genesis Proxy', 'None' no header,
'kamDefault' Kamailio's own, anything else as given."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.render.kamailio_helpers import MariaDB, wait_for
from tests.sip.harness import NODE2, Agents, options, registrar, start_lab

PROVIDER = "127.0.0.122"
KAMAILIO = re.compile(r"^kamailio \(5\.6\.\d+ \(x86_64/linux\)\)$")
GENESIS = re.compile(r"^Genesis Proxy$")


@pytest.mark.parametrize("server_header, user_agent, server, agent", [
    ("", "Acme Trunk/1.0 (x)", GENESIS, re.compile(r"^Acme Trunk/1\.0 \(x\)$")),
    ("None", "", None, GENESIS),
    ("kamDefault", "None", KAMAILIO, None),
    ("Acme Edge 2.0 #!define $x", "kamDefault", re.compile(r"^Acme Edge 2\.0 #!define \$x$"),
     KAMAILIO),
], ids=["blank-custom", "None-blank", "kamDefault-None", "custom-kamDefault"])
def test_server_and_user_agent_headers(tmp_path: Path, sip_mariadb: MariaDB, server_header: str,
                                       user_agent: str, server, agent) -> None:
    agents = Agents(tmp_path / "sipp")
    provider = registrar(agents, PROVIDER, "registrar_open.xml")
    # a provider that asks for no credentials: no auth_username, no password (12.2.7)
    trunk = {"l_uuid": "trunk", "l_username": "acct", "l_domain": "provider.test",
             "r_username": "acct", "r_domain": "provider.test",
             "auth_proxy": f"{PROVIDER}:{provider.port}"}
    lab = start_lab(tmp_path, sip_mariadb, {"serverHeader": server_header,
                                            "userAgent": user_agent},
                    {"outboundRegistrations": [trunk]}, agents=agents)
    try:
        reply = options(lab.agents, lab.proxy, NODE2).responses()
        assert [item.code for item in reply] == [200]
        value = reply[0].header("Server")
        assert (value is None) if server is None else (value and server.match(value)), value
        register = wait_for(lambda: provider.received("REGISTER"), timeout=5,
                            what="the outbound REGISTER")[0]
        value = register.header("User-Agent")
        assert (value is None) if agent is None else (value and agent.match(value)), value
        wait_for(lambda: "flags: 20" in lab.proxy.rpc("uac.reg_dump"), timeout=5,
                 what="the registration to be online (uac flags 4|16)")
        assert not lab.proxy.problems(), lab.proxy.problems()
    finally:
        lab.stop()
