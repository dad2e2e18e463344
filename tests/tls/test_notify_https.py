"""Notifications over https (7.1.10, 10.2.6-10.2.11) against local https receivers that use the
test CA: verification of the server and its name, the client certificate, TLS version and ciphers.

One proxy carries one notification per case, each to its own path on a receiver whose TLS
settings the case needs; one event (the primary set changed over HTTP, as in
tests/sip/test_notifications.py) goes to all of them. A case either arrives or is refused, and
the proxy logs the refusal.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.render.kamailio_helpers import MariaDB, wait_for
from tests.sip.harness import PRIV, Lab
from tests.tls.pki import Pki
from tests.tls.tlslab import HttpsNotifyServer, TlsPorts, server_context, start_tls_lab

EVENT = "dispatcher.primary-changed"
AES256, AES128 = "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256"


@dataclass(frozen=True)
class Case:
    server: str  # which receiver
    settings: dict[str, str]
    delivered: bool


CASES = {
    # notifyVerifyPeer (10.2.6) with notifyCaCert (7.1.10) holding the test CA
    "trusted-verified": Case("trusted", {"notifyVerifyPeer": "Yes", "notifyVerifyHost": "Yes"},
                             True),
    "untrusted-verified": Case("untrusted", {"notifyVerifyPeer": "Yes"}, False),
    "untrusted-not-verified": Case("untrusted", {"notifyVerifyPeer": "No"}, True),
    "untrusted-default": Case("untrusted", {}, True),  # default No (10.2.6)
    # notifyVerifyHost (10.2.7): a certificate from the CA for another name
    "wrong-name-host-verified": Case("wrongname", {"notifyVerifyPeer": "Yes",
                                                   "notifyVerifyHost": "Yes"}, False),
    "wrong-name-host-not-verified": Case("wrongname", {"notifyVerifyPeer": "Yes",
                                                       "notifyVerifyHost": "No"}, True),
    # notifyClientKey / notifyClientCert (10.2.8, 10.2.9): the receiver requires a certificate
    "client-cert": Case("clientauth", {"notifyClientKey": "client.key",
                                       "notifyClientCert": "client.crt"}, True),
    "client-combined": Case("clientauth", {"notifyClientKey": "client-combined.pem"}, True),
    "client-none": Case("clientauth", {}, False),
    # notifyTlsVersion (10.2.11): a receiver that stops at TLS 1.2
    "tls13-minimum": Case("tls12", {"notifyTlsVersion": "TLSv1.3+"}, False),
    "tls12-minimum": Case("tls12", {"notifyTlsVersion": "TLSv1.2+"}, True),
    "tls-default": Case("tls12", {}, True),
    # notifyCipherList (10.2.10): a TLS 1.2 receiver with one cipher
    "cipher-other": Case("cipher", {"notifyCipherList": AES128}, False),
    "cipher-same": Case("cipher", {"notifyCipherList": AES256}, True),
}


@pytest.fixture(scope="module")
def receivers(pki: Pki) -> Iterator[dict[str, HttpsNotifyServer]]:
    started = {
        "trusted": HttpsNotifyServer(server_context(pki.server)),
        "untrusted": HttpsNotifyServer(server_context(pki.untrusted_server)),
        "wrongname": HttpsNotifyServer(server_context(pki.wrongname)),
        "clientauth": HttpsNotifyServer(server_context(pki.server, client_ca=pki.ca.cert)),
        "tls12": HttpsNotifyServer(server_context(pki.server, maximum=ssl.TLSVersion.TLSv1_2)),
        "cipher": HttpsNotifyServer(server_context(pki.server, maximum=ssl.TLSVersion.TLSv1_2,
                                                   ciphers=AES256)),
    }
    yield started
    for server in started.values():
        server.stop()


def path(case: str) -> str:
    return f"/n/{case}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, tls_mariadb: MariaDB, pki: Pki,
        receivers: dict[str, HttpsNotifyServer]) -> Iterator[Lab]:
    ports = TlsPorts()
    notifies = [{"notifyURL": receivers[case.server].url(path(name)), **case.settings}
                for name, case in CASES.items()]
    keys = {"client.key": pki.client.key, "client.crt": pki.client.cert,
            "client-combined.pem": pki.combined(pki.client)}
    started = start_tls_lab(tmp_path_factory.mktemp("notify-https"), tls_mariadb, ports,
                            {"dispatchListenSock": f"{PRIV}:{ports.http}",
                             "notifyCaCert": str(pki.ca.cert)},
                            {"notifies": notifies}, keys,
                            expected_errors=r"http_client|notification .* failed")
    try:
        yield started
    finally:
        started.stop()


def failed_line(name: str) -> str:
    index = list(CASES).index(name) + 1
    return f"notification {EVENT} to notify{index} failed"


def test_https_notifications(lab: Lab, receivers: dict[str, HttpsNotifyServer]) -> None:
    answer = requests.post(lab.proxy.http + "/dispatcher", json={"primary": 0}, timeout=5)
    assert answer.json()["primary"] == 0

    def arrived(name: str) -> bool:
        return bool(receivers[CASES[name].server].events(path(name), EVENT))

    expected = {name: case.delivered for name, case in CASES.items()}
    refused = [name for name, case in CASES.items() if not case.delivered]
    # every refusal is logged when its attempt ends; the deliveries are in by then too
    wait_for(lambda: all(failed_line(name) in lab.proxy.log() for name in refused)
             and all(arrived(name) for name, ok in expected.items() if ok), timeout=40,
             what=f"every case to end: {[(name, arrived(name)) for name in CASES]}")
    seen = {name: arrived(name) for name in CASES}
    assert seen == expected
    for name, case in CASES.items():
        if case.delivered:
            assert failed_line(name) not in lab.proxy.log(), name
    # the refusals were TLS refusals: the receivers saw handshakes fail
    assert receivers["clientauth"].failures


def test_without_notify_ca_cert_the_system_list_decides(
        tmp_path_factory: pytest.TempPathFactory, tls_mariadb: MariaDB,
        receivers: dict[str, HttpsNotifyServer]) -> None:
    """notifyCaCert blank (7.1.10): the system's list, which knows nothing of the test CA."""
    ports = TlsPorts()
    trusted = receivers["trusted"]
    notifies = [{"notifyURL": trusted.url("/system-list"), "notifyVerifyPeer": "Yes"},
                {"notifyURL": trusted.url("/unverified-system-list"), "notifyVerifyPeer": "No"}]
    lab = start_tls_lab(tmp_path_factory.mktemp("notify-system-list"), tls_mariadb, ports,
                        {"dispatchListenSock": f"{PRIV}:{ports.http}"}, {"notifies": notifies},
                        {}, expected_errors=r"http_client|notification .* failed")
    try:
        requests.post(lab.proxy.http + "/dispatcher", json={"primary": 0}, timeout=5)
        wait_for(lambda: f"notification {EVENT} to notify1 failed" in lab.proxy.log()
                 and trusted.events("/unverified-system-list", EVENT), timeout=20,
                 what="the verified notification to fail and the other to arrive")
        assert not trusted.events("/system-list", EVENT)
    finally:
        lab.stop()
