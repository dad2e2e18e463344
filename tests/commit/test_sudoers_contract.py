"""Every command a commit, rebuild, Start System or UnFence sends through sudo is one that
deploy/sudoers.genweb allows (real nodes refuse the others with "a password is required",
while the lab, NOPASSWD: ALL, would not notice). Matched as sudo matches: the command by its
path (or a glob such as fence_*), the arguments joined by spaces against the rule's ^…$ expression, or exactly."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from genweb import jobs, store
from genweb.commit import apply, operations

from .conftest import configure, fence

SUDOERS = Path(__file__).resolve().parents[2] / "deploy" / "sudoers.genweb"


def rules() -> dict[str, list[str | re.Pattern[str] | None]]:
    """command basename -> allowed arguments (None: any; str: exactly; pattern: ^…$)."""
    text = SUDOERS.read_text().replace("\\\n", " ")
    allowed: dict[str, list[str | re.Pattern[str] | None]] = {}
    for line in text.splitlines():
        if not line.startswith("Cmnd_Alias "):
            continue
        for entry in re.split(r",\s+(?=/)", line.split("=", 1)[1].strip()):
            path, _, args = entry.strip().partition(" ")
            if args.startswith("^"):
                spec: str | re.Pattern[str] | None = re.compile(args.replace("\\#", "#"))
            else:
                spec = args or None
            allowed.setdefault(path.rsplit("/", 1)[1], []).append(spec)
    return allowed


def allowed(argv: tuple[str, ...], table) -> bool:
    specs = [spec for name, found in table.items() if fnmatch.fnmatchcase(argv[0], name)
             for spec in found]
    joined = " ".join(argv[1:])
    return any(spec is None or (spec.fullmatch(joined) if isinstance(spec, re.Pattern)
                                else spec == joined) for spec in specs)


def test_every_sudo_command_of_every_job_is_in_the_sudoers_contract(wired):
    cluster = wired
    configure()
    store.create_record("fences", fence(2, fenceName="pdu2", fenceAgent="fence_tripplite_snmp",
                                        fenceSnmpVersion="3", fenceSnmpUser="pdu-admin",
                                        fenceSnmpAuthProt="SHA", fenceSnmpAuthPass="auth-pass-1",
                                        fenceSnmpPrivProt="AES", fenceSnmpPrivPass="priv-pass-1"))
    started = [apply.start("operator")]  # first commit: the full restart
    assert jobs.wait(started[-1], 30).status == jobs.SUCCEEDED
    store.save_settings("proxyConfig", {"denyList": "198.51.100.7"})  # live
    started.append(apply.start("operator"))
    assert jobs.wait(started[-1], 30).status == jobs.SUCCEEDED
    store.save_settings("proxyConfig", {"serverHeader": "Example Proxy"})  # switch
    pdu = next(i for i in store.list_records("fences").items if i.values["fenceName"] == "pdu2")
    store.delete_record("fences", pdu.id)  # and a fence's files removed
    started.append(apply.start("operator"))
    assert jobs.wait(started[-1], 30).status == jobs.SUCCEEDED
    started.append(operations.start_rebuild("operator", ["node3"]))
    assert jobs.wait(started[-1], 30).status == jobs.SUCCEEDED
    node = store.list_records("haNodes").items[1]
    started.append(operations.start_system("operator", node.id))
    assert jobs.wait(started[-1], 30).status == jobs.SUCCEEDED
    network = store.list_records("fences").items[0]
    started.append(operations.unfence("operator", network.id))
    assert jobs.wait(started[-1], 30).status == jobs.SUCCEEDED

    table = rules()
    sent = [call.argv for call in cluster.calls]
    with_sudo = {argv[3:] for argv in sent if argv[:3] == ("sudo", "-n", "--")}
    refused = sorted(" ".join(argv)[:160] for argv in with_sudo if not allowed(argv, table))
    assert refused == []
    kinds = {argv[0] for argv in with_sudo}
    assert {"true", "cat", "sh", "install", "rm", "kamailio", "crm", "cibadmin", "crm_mon",
            "systemctl", "mariadb", "kamcmd", "crm_resource", "fence_ifmib"} <= kinds
    # Reading world-readable files (agents, /etc/hosts) needs no sudo at all.
    assert ("cat", "--", "/usr/sbin/fence_ether_snmp") in {argv for argv in sent}
