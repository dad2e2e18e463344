"""Schemathesis against the served OpenAPI document: no 5xx, no secret in any answer.

Every operation is called with the document's examples, then fuzzed with data that fits the
document (positive) and data that does not (negative), once with generated record ids and once
with the id of a real, seeded record. The run is bounded by the number of examples: several
hundred requests, well under a minute.
"""

from __future__ import annotations

import gzip
from collections import Counter

from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, openapi
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from genweb import store

from ..conftest import basic_auth

EXAMPLES_PER_RUN = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]

# Distinctive secrets, set before fuzzing: no answer may ever contain one.
SECRETS = {
    "haNodes": "Fz-node-secret-1f9c",
    "fences": "Fz-fence-auth-2b7d",
    "subscribers": "Fz-subscriber-3e1a",
    "notifies": "Fz-notify-secret-4c2f",
    "outboundRegistrations": "Fz-outbound-5d3b",
    "proxyConfig": "Fz-dispatch-6a4e",
    "databaseConfig": "Fz-root-pass-7f5c",
}


def _seed() -> dict[str, int]:
    """Settings and one committed record per collection, each with a secret; {page: id}."""
    store.save_settings("systemConfig", {"privateIP": "192.168.40.70", "privateSubnet": "24",
                                         "privatePing": "192.168.40.1"})
    store.save_settings("proxyConfig", {"dispatchAuthPassword": SECRETS["proxyConfig"]})
    store.save_settings("databaseConfig", {"rootPass": SECRETS["databaseConfig"]})
    records = {
        "haNodes": {"nodeID": "2", "nodeName": "node2", "privateIP": "192.168.40.72",
                    "sshPassword": SECRETS["haNodes"]},
        "fences": {"fenceName": "f2", "fenceNodeName": "node2", "fenceAgent": "fence_ether_snmp",
                   "fenceDevicePlug": "3", "fenceDeviceIP": "192.168.40.2",
                   "fenceSnmpUser": "private", "fenceSnmpAuthPass": SECRETS["fences"]},
        "subscribers": {"username": "5001", "domain": "example.com",
                        "password": SECRETS["subscribers"]},
        "notifies": {"notifyURL": "https://is.example.com",
                     "notifyPassword": SECRETS["notifies"]},
        "outboundRegistrations": {"l_uuid": "u1", "l_username": "u1", "l_domain": "sip.example.net",
                                  "r_username": "u1", "r_domain": "sip.example.net",
                                  "auth_password": SECRETS["outboundRegistrations"]},
    }
    ids = {page: store.create_record(page, values).id for page, values in records.items()}
    ids["tlsProxyConfigs"] = store.list_records("tlsProxyConfigs").items[0].id
    store.record_commit()  # committed records: locked keys and mark-for-deletion paths too
    return ids


def _run(strategy, seen: Counter, examples: int) -> None:
    @given(case=strategy)
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        response = case.call(headers=basic_auth())
        seen[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)
        body = response.content
        if body[:2] == b"\x1f\x8b":  # the Database Utilities download: look inside the file
            body = gzip.decompress(body)
        for secret in SECRETS.values():
            assert secret.encode() not in body, f"{case.method} {case.formatted_path} leaks"

    run()


def test_no_server_error_and_no_secret_in_any_answer(app):
    with app.app_context():
        ids = _seed()
    schema = openapi.from_wsgi("/openapi/openapi.json", app, headers=basic_auth())
    failures: list[str] = []
    seen: Counter = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        page = operation.path.split("/")[2]
        ids_to_try = [None, {"record_id": ids[page]}] if "{record_id}" in operation.path else [None]
        runs = [(f"{label} examples", s, 1) for s in operation.get_strategies_from_examples()]
        runs += [(f"{label} {mode} {path}", operation.as_strategy(mode, path_parameters=path),
                  EXAMPLES_PER_RUN)
                 for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
                 for path in ids_to_try]
        for name, strategy, examples in runs:
            try:
                _run(strategy, seen, examples)
            except Exception as exc:  # report every operation's failure at once
                failures.append(f"{name}: {exc}")
    assert not failures, "\n\n".join(failures)
    assert sum(seen.values()) >= 300
    assert seen[200] and seen[201] and seen[422] and seen[404], seen
