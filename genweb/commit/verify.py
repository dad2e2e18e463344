"""Verify before applying: the engines themselves judge the candidate configuration, on a node
(the web server need not have Kamailio or Pacemaker installed; the node has the very versions
and modules that will run it).

- Kamailio: ``kamailio -c -f`` on the candidate kamailio.cfg, written beside the live one as
  ``genweb-verify.cfg`` (the only place deploy/sudoers.genweb lets ``kamailio -c`` read; Kamailio
  itself never loads that name). ``-c`` parses and fixes up the script without running module
  init, so a configuration can pass and still fail to start: the switch step then catches it
  and puts everything back.
- The CIB: the crm script is loaded into an empty shadow CIB (``crm cib new … empty``) holding
  the nodes, then ``crm configure verify`` runs crm_verify on it. crmsh checks every parameter
  against the agents' metadata, so the agents must be installed first (they are, one step
  earlier). The live CIB is never touched.
- corosync.conf is not run through ``corosync -t`` here: it needs root for the authkey and is
  not in the sudoers contract; tests/render/test_cluster.py checks every rendered shape with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .render import Rendered
from .steps import Run, StepFailed, ensure_dir, node_lines

VERIFY_CFG = "/etc/kamailio/genweb-verify.cfg"
VERIFY_CRM = "/etc/genproxy/genweb-verify.crm"
SHADOW = "genweb-verify"
KAMAILIO_CFG = "/etc/kamailio/kamailio.cfg"
# What crmsh prints about a shadow CIB that is right: it never has quorum or a status.
CRM_NOISE = ("lack of quorum", "Blind faith", "no-quorum-policy")


def verify(run: Run, name: str, rendered: Rendered, nodes: Sequence[Mapping[str, str]]) -> None:
    """Both checks on node ``name``; StepFailed with the engine's own words on a refusal."""
    verify_kamailio(run, name, rendered)
    verify_cib(run, name, rendered.crm, nodes)


def verify_kamailio(run: Run, name: str, rendered: Rendered) -> None:
    candidate = rendered.file(name, KAMAILIO_CFG)
    with run.step(f"Verifying Kamailio configuration on node '{name}'"):
        run.node(name).write_file(VERIFY_CFG, candidate.content, mode=candidate.mode,
                                  owner=candidate.owner, group=candidate.group, secret=True)
        result = run.run(name, ["kamailio", "-c", "-f", VERIFY_CFG], check=False, timeout=60)
    if result.rc != 0:
        raise StepFailed(run.clean(f"Kamailio refused the new configuration on node '{name}': "
                                   f"{_last_lines(result.stderr + result.stdout)}"))


def verify_cib(run: Run, name: str, crm: str, nodes: Sequence[Mapping[str, str]]) -> None:
    with run.step(f"Verifying cluster configuration on node '{name}'"):
        ensure_dir(run, name, VERIFY_CRM)
        run.node(name).write_file(VERIFY_CRM, node_lines(nodes) + crm, mode=0o600, secret=True)
        run.run(name, ["crm", "-D", "plain", "cib", "new", SHADOW, "empty", "force"])
        try:
            loaded = run.run(name, ["crm", "-D", "plain", "-c", SHADOW, "configure", "load",
                                    "update", VERIFY_CRM], check=False, timeout=180)
            checked = loaded if loaded.rc else run.run(
                name, ["crm", "-D", "plain", "-c", SHADOW, "configure", "verify"], check=False,
                timeout=120)
        finally:
            run.run(name, ["crm", "-D", "plain", "cib", "delete", SHADOW], check=False)
    if checked.rc != 0:
        raise StepFailed(run.clean(f"The cluster refused the new configuration on node "
                                   f"'{name}': {_crm_errors(checked.stderr + checked.stdout)}"))


def _crm_errors(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()
             and not any(noise in line for noise in CRM_NOISE)]
    errors = [line for line in lines if "ERROR" in line or "error" in line] or lines
    return "; ".join(errors[-5:]) or "no reason given"


def _last_lines(text: str, count: int = 3) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "error" in line.lower()] or lines
    return "; ".join(errors[-count:]) or "no reason given"
