"""install.sh makes a fresh Debian 12 root a working genweb server (issue 10).

One fresh root for the module. install.sh runs in it with the host's network (it downloads
packages and wheels) but with --no-start, so nothing listens on the host; the root then boots
in a network namespace of ours (loopback only), where the no-systemd fallback starts gunicorn
and nginx. Clients, Chromium included, reach it inside that namespace. The upgrade run happens
in the namespace itself, offline: an in-place upgrade needs no network when nothing is new.
"""

from __future__ import annotations

import os
import pty
import re
import select
import ssl
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .client import Response, request
from .conftest import netns_name
from .rootfs import CACHE, Box, add_netns, delete_netns, fresh_root, locked, remove_tree

pytestmark = pytest.mark.install

ADMIN, PASSWORD = "admin", "first admin pass 1"
CHROMIUM = os.environ.get("GENWEB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SYSTEM = {"privateIP": "198.18.0.100", "privateSubnet": "24", "privatePing": "198.18.0.1"}
INSTALL = "/root/genweb/install.sh"


@dataclass
class Server:
    root: Path
    box: Box          # the root booted in its own network namespace
    netns: str
    first_run: str    # what the first install.sh printed
    seconds: float    # how long it took

    def get(self, url: str, auth: tuple[str, str] | None = (ADMIN, PASSWORD)) -> Response:
        return request(self.netns, url, auth=auth, cafile=self.cert)

    def patch(self, url: str, body: dict[str, str]) -> Response:
        return request(self.netns, url, auth=(ADMIN, PASSWORD), method="PATCH", body=body,
                       cafile=self.cert)

    @property
    def cert(self) -> Path:
        return self.box.path("/etc/genweb/tls/genweb.crt")

    def gunicorn_pid(self) -> int:
        """gunicorn's PID inside the box (its /run is the box's own tmpfs)."""
        return int(self.box.run(["cat", "/run/genweb.pid"]).stdout)


def install_in(root: Path, *args: str, password: str | None) -> tuple[str, float]:
    """Run install.sh in ``root`` with the host's network, starting nothing. Downloaded
    packages (and wheels, where the index lets pip cache them) stay on the host for next time."""
    binds = {CACHE / "apt-server": "/var/cache/apt/archives", CACHE / "pip": "/root/.cache/pip"}
    (CACHE / "apt-server" / "partial").mkdir(parents=True, exist_ok=True)
    (CACHE / "pip").mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with locked(CACHE / "apt-server.lock"), Box(root, "genweb-web", binds=binds) as box:
        done = box.run([INSTALL, *args], input=password, timeout=900)
    return done.stdout + done.stderr, time.monotonic() - started


def add_operator_tool_stand_ins(folder: Path) -> None:
    """bin/cpsshkeys and bin/dbShow are another issue's: where the checkout has none yet, a
    Python stand-in shows that install.sh links it and runs it with the venv's Python."""
    folder.mkdir(exist_ok=True)
    for tool in ("cpsshkeys", "dbShow"):
        if not (folder / tool).exists():
            (folder / tool).write_text("#!/usr/bin/env python3\nimport genweb\n"
                                       f"print('{tool}', genweb.__version__)\n")
            (folder / tool).chmod(0o755)


@pytest.fixture(scope="module")
def server(as_root) -> Iterator[Server]:
    root = fresh_root("server")
    netns = netns_name("web")
    box = None
    add_operator_tool_stand_ins(root / "root/genweb/bin")
    try:
        output, seconds = install_in(root, "--no-start", password=PASSWORD + "\n")
        add_netns(netns)
        box = Box(root, "genweb-web", netns=netns)
        box.start()
        # What a boot does where there is no systemd: the init scripts install.sh installed.
        box.run(["/etc/init.d/genweb", "start"], timeout=60)
        box.run(["/etc/init.d/nginx", "start"], timeout=60)
        yield Server(root, box, netns, output, seconds)
        # The fallback stops what it started, by its PID file.
        pid = int(box.run(["cat", "/run/genweb.pid"]).stdout)
        box.run(["/etc/init.d/genweb", "stop"], timeout=60)
        assert box.run(["/etc/init.d/genweb", "status"], check=False).returncode == 3
        assert box.run(["test", "-e", f"/proc/{pid}"], check=False).returncode != 0
        box.run(["/etc/init.d/nginx", "stop"], timeout=60)
    finally:
        if box is not None:
            box.stop()
        delete_netns(netns)
        remove_tree(root)


def test_first_install_creates_the_admin_and_uses_the_init_script_fallback(server):
    print(f"first install.sh run: {server.seconds:.0f} s")
    assert "Created web user admin." in server.first_run
    assert "systemd is not running: installing /etc/init.d/genweb" in server.first_run
    assert server.box.path("/etc/init.d/genweb").stat().st_mode & 0o111
    assert not server.box.path("/etc/systemd/system/genweb.service").exists()


def test_nginx_accepts_its_configuration(server):
    done = server.box.run(["nginx", "-t"])
    assert "test is successful" in done.stderr
    site = server.box.path("/etc/nginx/sites-available/genweb").read_text()
    assert not re.search(r"@[A-Z_]+@", site), "a placeholder is left"
    assert server.box.path("/etc/nginx/sites-enabled/genweb").is_symlink()
    assert not server.box.path("/etc/nginx/sites-enabled/default").exists()


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_both_schemes_serve_the_interface_api_openapi_and_static_files(server, scheme):
    base = f"{scheme}://127.0.0.1"
    home = server.get(f"{base}/")
    assert home.status == 200, home.text[:500]
    assert "Genesis High Availability Proxy Server" in home.text
    assert "System Config" in home.text
    api = server.get(f"{base}/api/systemConfig")
    assert api.status == 200 and api.headers["content-type"].startswith("application/json")
    assert "privateIP" in api.json()["values"]
    assert server.get(f"{base}/openapi/").status == 200
    assert server.get(f"{base}/openapi/openapi.json").json()["paths"]
    css = server.get(f"{base}/static/genweb.css")
    assert css.status == 200 and css.headers["content-type"].startswith("text/css")
    assert css.headers.get("server") == "nginx"  # server_tokens off: no version


@pytest.mark.parametrize("scheme", ["https", "http"])
@pytest.mark.parametrize("path", ["/", "/api/systemConfig", "/openapi/", "/static/genweb.css"])
def test_a_wrong_or_missing_password_gets_401(server, scheme, path):
    url = f"{scheme}://127.0.0.1{path}"
    wrong = server.get(url, auth=(ADMIN, "not the password"))
    assert wrong.status == 401
    assert 'Basic realm="Genesis High Availability Proxy Server"' in wrong.headers[
        "www-authenticate"]
    assert server.get(url, auth=None).status == 401
    assert server.get(url, auth=("nobody", PASSWORD)).status == 401


def test_https_uses_the_generated_certificate_and_forwards_the_scheme(server):
    # request() verified the chain and the name 127.0.0.1 against the generated certificate.
    page = server.get("https://127.0.0.1/systemConfig")
    assert page.status == 200
    # Forms post back to https: the application saw X-Forwarded-Proto (no absolute http URL).
    assert "http://127.0.0.1" not in page.text


def test_files_have_the_documented_owners_and_modes(server):
    box = server.box

    def owner_mode(path: str) -> tuple[str, str, str]:
        out = box.run(["stat", "-c", "%U %G %a", path]).stdout.split()
        return out[0], out[1], out[2]

    assert owner_mode("/var/lib/genweb") == ("genweb", "www-data", "2710")
    assert owner_mode("/var/lib/genweb/htpasswd") == ("genweb", "www-data", "640")
    assert owner_mode("/var/lib/genweb/genweb.sqlite")[2] == "600"
    assert owner_mode("/var/lib/genweb/secret_key")[2] == "600"
    assert owner_mode("/etc/genweb/tls/genweb.key") == ("root", "root", "600")
    # nginx's user reads the users file and nothing else of the instance.
    box.run(["runuser", "-u", "www-data", "--", "cat", "/var/lib/genweb/htpasswd"])
    denied = box.run(["runuser", "-u", "www-data", "--", "cat", "/var/lib/genweb/genweb.sqlite"],
                     check=False)
    assert denied.returncode != 0
    assert box.run(["runuser", "-u", "www-data", "--", "ls", "/var/lib/genweb"],
                   check=False).returncode != 0
    htpasswd = box.path("/var/lib/genweb/htpasswd").read_text()
    assert htpasswd.startswith(f"{ADMIN}:$6$"), "salted SHA-512 crypt, as the app writes it"
    # gunicorn runs as genweb, on loopback only.
    pid = server.gunicorn_pid()
    assert box.run(["stat", "-c", "%U", f"/proc/{pid}"]).stdout.strip() == "genweb"
    assert stat.S_ISLNK(box.path("/opt/genweb/static").lstat().st_mode)
    assert box.path("/usr/local/bin/genweb").exists()


def test_operator_tools_are_linked_and_run_with_the_venv(server):
    for tool in ("cpsshkeys", "dbShow"):
        link = server.box.path(f"/usr/local/bin/{tool}")
        assert link.is_symlink() and os.readlink(link) == f"/opt/genweb/bin/{tool}"
        assert server.box.run([tool, "--help"]).returncode == 0  # genweb imports: venv Python
    # Without --instance, the installed tools work on this server's store (sudo resets the
    # environment, so $GENWEB_INSTANCE is not there to help).
    shown = server.box.run(["dbShow"]).stdout
    if "import genweb\nprint(" in server.box.path("/opt/genweb/libexec/dbShow").read_text():
        assert shown.split() == ["dbShow", "0.1.0"]  # the stand-in
    else:
        assert "store /var/lib/genweb/genweb.sqlite" in shown, shown[:500]


def test_the_genweb_command_manages_users_as_the_service_user(server):
    box = server.box
    box.run(["genweb", "passwd", "second"], input="second pass 2\n")
    assert box.run(["stat", "-c", "%U %G %a", "/var/lib/genweb/htpasswd"]).stdout.split() == [
        "genweb", "www-data", "640"]
    assert server.get("https://127.0.0.1/", auth=("second", "second pass 2")).status == 200


def test_chromium_logs_in_with_basic_auth_over_https_and_saves_system_config(
        server, tmp_path, playwright_session):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium is missing at {CHROMIUM} (scripts/test.sh installs it)")
    from playwright.sync_api import expect

    # Chromium runs inside the server's namespace: a wrapper enters it, then execs chromium
    # with Playwright's arguments and pipes.
    wrapper = tmp_path / "chromium-in-netns"
    wrapper.write_text(f'#!/bin/sh\nexec nsenter --net=/run/netns/{server.netns} -- '
                       f'{CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    # one Playwright driver serves the whole run (tests/conftest.py)
    browser = playwright_session.chromium.launch(executable_path=str(wrapper), headless=True,
                                                 args=CHROMIUM_ARGS)
    try:
        context = browser.new_context(
            base_url="https://127.0.0.1", ignore_https_errors=True,
            http_credentials={"username": ADMIN, "password": PASSWORD})
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto("/")
        expect(page.get_by_role("link", name="System Config")).to_be_visible()
        page.get_by_role("link", name="System Config").click()
        page.wait_for_url("**/systemConfig")
        for key, value in SYSTEM.items():
            page.locator(f"#f-{key}").fill(value)
        with page.expect_navigation():
            page.get_by_role("button", name="Save").click()
        expect(page.locator(".flash.success")).to_contain_text("System Configuration saved")
        page.reload()
        for key, value in SYSTEM.items():
            expect(page.locator(f"#f-{key}")).to_have_value(value)
        page.screenshot(path=str(tmp_path / "system-config.png"), full_page=True)
        context.close()
    finally:
        browser.close()
    saved = server.get("http://127.0.0.1/api/systemConfig").json()["values"]
    assert {key: saved[key] for key in SYSTEM} == SYSTEM


def test_running_install_again_upgrades_in_place_and_keeps_the_store_and_users(server):
    """The upgrade runs inside the booted root, offline, with the services running."""
    assert server.patch("https://127.0.0.1/api/systemConfig",
                        {**SYSTEM, "systemName": "kept-across-upgrade"}).status == 200
    before = server.get("https://127.0.0.1/api/systemConfig").json()["values"]
    users_before = server.box.path("/var/lib/genweb/htpasswd").read_text()
    pid_before = server.gunicorn_pid()

    started = time.monotonic()
    done = server.box.run([INSTALL], timeout=600)  # stdin is empty: users are kept
    print(f"upgrade run (offline, in place): {time.monotonic() - started:.0f} s")
    output = done.stdout + done.stderr
    assert "web users kept: admin" in output
    assert "store backed up to /var/lib/genweb/backups/" in output
    assert "genweb started" in output and "Reloading nginx" in output

    assert server.gunicorn_pid() != pid_before, "the application was not restarted"
    assert server.box.path("/var/lib/genweb/htpasswd").read_text() == users_before
    after = server.get("https://127.0.0.1/api/systemConfig")
    assert after.status == 200, "the admin's password no longer works"
    assert after.json()["values"] == before
    assert after.json()["values"]["systemName"] == "kept-across-upgrade"
    assert server.get("https://127.0.0.1/", auth=(ADMIN, "wrong")).status == 401
    backups = list(server.box.path("/var/lib/genweb/backups").glob("genweb-*.sqlite"))
    assert backups, "no backup of the store before the upgrade"


def test_an_operator_certificate_and_port_replace_the_defaults_and_are_remembered(server):
    box = server.box
    box.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "30", "-subj", "/CN=proxy.example", "-addext",
             "subjectAltName=IP:127.0.0.1", "-keyout", "/root/operator.key",
             "-out", "/root/operator.crt"])
    operator = box.path("/root/operator.crt")
    box.run([INSTALL, "--cert", "/root/operator.crt", "--key", "/root/operator.key",
             "--https-port", "8443"], timeout=600)
    for _ in range(2):  # this run, then a plain rerun that must keep the choices
        page = request(server.netns, "https://127.0.0.1:8443/api/systemConfig",
                       auth=(ADMIN, PASSWORD), cafile=operator)
        assert page.status == 200
        assert server.get("http://127.0.0.1/api/systemConfig").status == 200
        box.run([INSTALL], timeout=600)
    with pytest.raises(ssl.SSLCertVerificationError):  # the self-signed one is no longer used
        request(server.netns, "https://127.0.0.1:8443/", cafile=server.cert)


def test_on_a_terminal_the_first_password_is_asked_twice(server):
    """No web user yet and a terminal: install.sh prompts, without echo, and checks the two."""
    box = server.box
    box.run(["mv", "/var/lib/genweb/htpasswd", "/root/htpasswd.before"])
    try:
        screen = run_on_terminal(box.command([INSTALL, "--no-start"]), [
            ("Password for the web user admin: ", "typed pass 3\n"),
            ("Again: ", "typed pass 3\n"),
        ])
        assert "Created web user admin." in screen
        assert "typed pass 3" not in screen, "the password was echoed"
        assert server.get("http://127.0.0.1/api/systemConfig",
                          auth=(ADMIN, "typed pass 3")).status == 200
        assert server.get("http://127.0.0.1/", auth=(ADMIN, PASSWORD)).status == 401
    finally:
        box.run(["mv", "-f", "/root/htpasswd.before", "/var/lib/genweb/htpasswd"])


def run_on_terminal(argv: list[str], dialogue: list[tuple[str, str]],
                    timeout: float = 300) -> str:
    """Run argv on a new pseudo-terminal, answering each prompt once it appears; the screen."""
    master, slave = pty.openpty()
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                               start_new_session=True)
    os.close(slave)
    screen = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the terminal's last writer is gone
                    break
                if not chunk:
                    break
                screen += chunk
            if dialogue and dialogue[0][0].encode() in screen.split(b"\n")[-1]:
                os.write(master, dialogue.pop(0)[1].encode())
            elif process.poll() is not None and not ready:
                break
        assert process.wait(timeout=max(1.0, deadline - time.monotonic())) == 0, screen.decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    assert not dialogue, f"never asked {dialogue[0][0]!r}:\n{screen.decode()}"
    return screen.decode(errors="replace")
