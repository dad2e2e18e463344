"""The ``genweb`` command: serve the interface, manage web users, prepare the store."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import create_app, instance_dir
from .auth import read_users, set_password


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--instance", "instance", envvar="GENWEB_INSTANCE", metavar="DIR",
              help="Folder of the store and credentials (default $GENWEB_INSTANCE, else ./instance).")
@click.pass_context
def main(ctx: click.Context, instance: str | None) -> None:
    """Genesis High Availability Proxy Server web interface."""
    ctx.obj = instance_dir(instance)


@main.command("init-db")
@click.pass_obj
def init_db(instance: Path) -> None:
    """Create the store (safe to run again: nothing saved is lost)."""
    create_app(instance=instance)
    click.echo(f"Store ready: {instance / 'genweb.sqlite'}")


@main.command()
@click.argument("user")
@click.pass_obj
def passwd(instance: Path, user: str) -> None:
    """Create web user USER or change its password (read from stdin when it is not a terminal)."""
    if sys.stdin.isatty():
        password = click.prompt(f"Password for {user}", hide_input=True,
                                confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        created = set_password(instance / "htpasswd", user, password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{'Created' if created else 'Changed the password of'} web user {user}.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.pass_obj
def run(instance: Path, host: str, port: int) -> None:
    """Serve the web interface."""
    app = create_app(instance=instance)
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    users = read_users(Path(app.config["HTPASSWD"]))
    click.echo(f"genweb: http://{shown}:{port}/  (store: {instance})")
    if users:
        click.echo(f"Log in as one of: {', '.join(sorted(users))}. "
                   "Change a password with: genweb passwd USER")
    else:
        click.echo("No web user exists yet: create one with 'genweb passwd USER' to log in.")
    app.run(host=host, port=port, threaded=True, use_reloader=False)


@main.command()
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write into (one sub-folder per node).")
@click.option("--node", "nodes", multiple=True, metavar="NAME", help="Only this node (repeatable).")
@click.pass_obj
def render(instance: Path, out: Path, nodes: tuple[str, ...]) -> None:
    """Write every file the staged configuration renders, for inspection (nothing is applied)."""
    from .commit.render import render as render_snapshot
    from .commit.secrets import MAKERS
    from .commit.snapshot import take_snapshot
    from .store import generated_values

    app = create_app(instance=instance)
    with app.app_context():
        rendered = render_snapshot(take_snapshot(generated_values(MAKERS)))
    unknown = set(nodes) - set(rendered.files)
    if unknown:
        raise click.ClickException(f"no such node: {', '.join(sorted(unknown))} "
                                   f"(nodes: {', '.join(rendered.files) or 'none defined'})")
    written = write_rendered(rendered, out, nodes or tuple(rendered.files))
    click.echo(f"Wrote {written} files under {out}")


def write_rendered(rendered, out: Path, nodes: tuple[str, ...]) -> int:
    """Lay the rendered files out as <out>/<node>/<path>, plus the crm script and DB rows."""
    import json
    import os

    count = 0
    for node in nodes:
        for file in rendered.files[node]:
            target = out / node / file.path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(file.content)
            os.chmod(target, file.mode)
            count += 1
    out.mkdir(parents=True, exist_ok=True)
    (out / "cluster.crm").write_text(rendered.crm)
    os.chmod(out / "cluster.crm", 0o600)  # SNMP communities and the database passwords
    rows = {table: list(table_rows) for table, table_rows in rendered.db_rows.items()}
    (out / "database-rows.json").write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n")
    os.chmod(out / "database-rows.json", 0o600)  # subscribers' passwords
    return count + 2


from .lab.cli import lab as lab_group  # noqa: E402  (the lab's commands live with the lab)

main.add_command(lab_group)

if __name__ == "__main__":  # pragma: no cover
    main()
