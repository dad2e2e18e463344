"""``genweb lab up|down|status|exec|ssh``: the cluster lab from the command line (root only)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .lab import DEFAULT_NAME, Lab, LabError
from .topology import MAX_NODES

name_option = click.option("--name", default=DEFAULT_NAME, show_default=True,
                           metavar="PREFIX", help="Lab name: prefix of its namespaces.")


def _load(name: str) -> Lab:
    lab = Lab.load(name)
    if lab is None or not lab.is_up():
        raise click.ClickException(f"lab {name} is not up (start it with 'genweb lab up')")
    return lab


@click.group("lab")
def lab() -> None:
    """A multi-node cluster lab in network namespaces on this machine (see docs/lab.md)."""


@lab.command()
@click.option("--nodes", "count", default=3, show_default=True,
              type=click.IntRange(1, MAX_NODES), help="Number of nodes.")
@name_option
@click.option("--authorize-key", "keys", multiple=True, metavar="FILE",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Public key file allowed to log in as genweb (repeatable).")
@click.option("--no-password-auth", is_flag=True,
              help="Keys only for genweb, as the manual's default sshd_config (5.2.5).")
@click.option("--sudoers", type=click.Choice(["all", "contract"]), default="all",
              show_default=True,
              help="genweb's sudo rights: every command, or deploy/sudoers.genweb as "
                   "install.sh --node installs it.")
def up(count: int, name: str, keys: tuple[Path, ...], no_password_auth: bool,
       sudoers: str) -> None:
    """Build the lab (or report that it is already up)."""
    try:
        started = Lab.load(name)
        was_up = started is not None and started.is_up()
        built = Lab.up(count, name, password_auth=not no_password_auth,
                       authorized_keys=[key.read_text() for key in keys], sudoers=sudoers)
    except (LabError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"lab {name} {'was already' if was_up else 'is'} up: {len(built.nodes)} nodes")
    _print_status(built)


@lab.command()
@name_option
@click.option("--purge", is_flag=True, help="Also delete the state dir (keys, logs).")
def down(name: str, purge: bool) -> None:
    """Stop everything the lab started and remove its namespaces (safe to repeat)."""
    built = Lab.load(name)
    if built is None:
        click.echo(f"lab {name} is not up (nothing recorded)")
        return
    was_up = built.is_up()
    try:
        built.down(purge=purge)
    except LabError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"lab {name} is down" + ("" if was_up else " (it was not fully up)")
               + (", state removed" if purge else ""))


@lab.command()
@name_option
def status(name: str) -> None:
    """Nodes, addresses and the PIDs of sshd, corosync and pacemakerd."""
    built = Lab.load(name)
    if built is None:
        raise click.ClickException(f"lab {name} is not up")
    click.echo(f"lab {name}: {'up' if built.is_up() else 'DOWN'}, state {built.dir}")
    _print_status(built)


@lab.command("exec", context_settings={"ignore_unknown_options": True})
@name_option
@click.argument("node")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_(name: str, node: str, command: tuple[str, ...]) -> None:
    """Run COMMAND as root inside NODE (for debugging; the product uses SSH)."""
    try:
        done = _load(name).exec(node, list(command), check=False, timeout=3600)
    except LabError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(done.stdout, nl=False)
    click.echo(done.stderr, nl=False, err=True)
    raise SystemExit(done.returncode)


@lab.command(context_settings={"ignore_unknown_options": True})
@name_option
@click.argument("node")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def ssh(name: str, node: str, command: tuple[str, ...]) -> None:
    """SSH to NODE as genweb from the lab's web-server namespace, with the lab's key."""
    built = _load(name)
    try:
        address = built.node(node).private_ip
    except LabError as exc:
        raise click.ClickException(str(exc)) from exc
    argv = ["ip", "netns", "exec", built.web_netns, "ssh", "-i", str(built.client_key),
            "-o", f"UserKnownHostsFile={built.known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "IdentitiesOnly=yes", f"genweb@{address}", *command]
    os.execvp(argv[0], argv)


def _print_status(built: Lab) -> None:
    snmpd = built.switch.snmpd.pid if built.switch.snmpd and built.switch.snmpd.alive() else "-"
    click.echo(f"switch  {built.switch.netns:<14} {built.switch.ip:<13} snmpd {snmpd} "
               f"(v2c community and v3 user in {built.dir / 'lab.json'})")
    click.echo(f"web     {built.web_netns:<14} {built.web_private_ip:<13} "
               f"{built.web_public_ip}")
    for row in built.status():
        pids = "  ".join(f"{daemon} {_pids(row[daemon])}"
                         for daemon in ("sshd", "corosync", "pacemakerd"))
        click.echo(f"{row['node']:<7} {row['netns']:<14} {row['private_ip']:<13} "
                   f"{row['public_ip']:<13} init {row['init'] or '-'}  {pids}")


def _pids(pids: object) -> str:
    return ",".join(str(p) for p in pids) if isinstance(pids, list) and pids else "-"
