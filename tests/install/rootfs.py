"""Fresh Debian 12 root filesystems for the install tests, and boxes to run them in.

``base_root()`` builds a minimal bookworm root once with mmdebstrap (debootstrap's faster
successor: the same ``minbase`` variant from deb.debian.org, about 10 s instead of minutes) and
caches it under ``/var/cache/genweb-test/bookworm-root-<hash>``, the hash being that of
everything that defines it (suite, mirror, variant, extra packages). ``fresh_root()`` copies it
for one test, with a copy of this checkout in ``/root/genweb``.

A ``Box`` runs a root as a small machine without systemd: its PID 1 lives in new mount, PID and
UTS namespaces (and in a network namespace of ours when given), mounts /proc, /sys, /dev, /run
and /tmp for the root inside its own mount namespace, so no mount ever appears in the host's,
and killing that PID 1 (by PID and start time) ends every process the box started. If pytest
dies, the kernel kills the box (parent-death signals).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from genweb.lab.procs import Proc, children, wait_gone

CHECKOUT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("GENWEB_TEST_CACHE", "/var/cache/genweb-test"))
WORK = Path(os.environ.get("GENWEB_TEST_WORK", "/var/tmp/genweb-install-test"))

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
VARIANT = "minbase"
EXTRA_PACKAGES: tuple[str, ...] = ()  # the base root is minbase alone: install.sh adds the rest
# Test speed only: dpkg skips fsync in the throw-away roots (nothing installed differs).
DPKG_OPTIONS = ("force-unsafe-io",)

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CHECKOUT_EXCLUDES = (".git", ".venv", "instance", "build", "dist", "*.egg-info", "__pycache__",
                     ".pytest_cache", ".ruff_cache", ".hypothesis", "artifacts", "node_modules")

# PID 1 of a box: mount what a booted system has, then reap orphans until killed.
BOX_INIT = r"""
set -euo pipefail
root=$1 name=$2; shift 2
hostname "$name"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
while [ $# -gt 0 ]; do
  mkdir -p "$root/$2"
  mount --bind "$1" "$root/$2"
  shift 2
done
echo ready
exec >/dev/null 2>&1 </dev/null
trap '' TERM INT HUP
while :; do sleep 3600 & wait $! || true; done
"""


def cache_key() -> str:
    """What the cached base root depends on, hashed: change any of it and a new root is built."""
    spec = {"tool": "mmdebstrap", "suite": SUITE, "mirror": MIRROR, "variant": VARIANT,
            "include": sorted(EXTRA_PACKAGES), "dpkgopt": list(DPKG_OPTIONS)}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (another test run on this machine waits for it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_tool() -> None:
    """mmdebstrap from Debian (scripts/test.sh installs it; this covers a bare pytest run)."""
    if shutil.which("mmdebstrap"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=300)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "mmdebstrap"],
                   check=True, env=env, timeout=300)


def base_root() -> Path:
    """The cached minimal bookworm root (built on first use, about 10 s with a warm network)."""
    target = CACHE / f"bookworm-root-{cache_key()}"
    if (target / ".genweb-complete").exists():
        return target
    with locked(CACHE / "bookworm-root.lock"):
        if (target / ".genweb-complete").exists():
            return target
        ensure_tool()
        for old in CACHE.glob("bookworm-root-*"):  # other package sets: not needed any more
            remove_tree(old)
        building = CACHE / f".building-{cache_key()}-{os.getpid()}"
        remove_tree(building)
        command = ["mmdebstrap", "--quiet", f"--variant={VARIANT}"]
        command += [f"--dpkgopt={option}" for option in DPKG_OPTIONS]
        if EXTRA_PACKAGES:
            command.append("--include=" + ",".join(EXTRA_PACKAGES))
        command += [SUITE, str(building), MIRROR]
        subprocess.run(command, check=True, timeout=900)
        (building / ".genweb-complete").write_text(" ".join(command) + "\n")
        building.rename(target)
    return target


def fresh_root(name: str) -> Path:
    """A private copy of the base root with this checkout in /root/genweb.

    The copy trusts the CA certificates the host added locally (where the egress is
    TLS-inspected, pip in the root needs them as the host does), as it already shares the
    host's resolv.conf; ca-certificates, which install.sh installs, picks them up.
    """
    base = base_root()
    root = WORK / f"{name}-{os.getpid()}"
    remove_tree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", "--reflink=auto", str(base), str(root)], check=True, timeout=300)
    local_cas = root / "usr/local/share/ca-certificates"
    local_cas.mkdir(parents=True, exist_ok=True)
    for cert in Path("/usr/local/share/ca-certificates").glob("*.crt"):
        shutil.copy2(cert, local_cas / cert.name)
    shutil.copy2("/etc/resolv.conf", root / "etc/resolv.conf")
    copy_checkout(root / "root/genweb")
    return root


def copy_checkout(target: Path) -> None:
    """The working tree as an operator's clone would have it (without caches and venvs)."""
    target.mkdir(parents=True)
    excludes = [f"--exclude={pattern}" for pattern in CHECKOUT_EXCLUDES]
    pack = subprocess.Popen(["tar", "-C", str(CHECKOUT), "-cf", "-", *excludes, "."],
                            stdout=subprocess.PIPE)
    subprocess.run(["tar", "-C", str(target), "-xf", "-"], stdin=pack.stdout, check=True,
                   timeout=120)
    assert pack.stdout is not None
    pack.stdout.close()
    if pack.wait(timeout=120) != 0:
        raise RuntimeError(f"copying the checkout into {target} failed")


def mounted_below(path: Path) -> list[str]:
    """Mount points at or under ``path`` in this (the host's) mount namespace."""
    prefix = str(path.resolve())
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4]
        if point == prefix or point.startswith(prefix + "/"):
            found.append(point)
    return found


def remove_tree(path: Path) -> None:
    """Delete a root, never through a mount (there should be none: boxes mount privately)."""
    if not path.exists():
        return
    mounts = mounted_below(path)
    if mounts:
        raise RuntimeError(f"refusing to delete {path}: still mounted: {mounts}")
    subprocess.run(["rm", "-rf", "--one-file-system", "--", str(path)], check=True, timeout=300)


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the process that started it (pytest) dies."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Box:
    """A root filesystem running as a little machine (see the module docstring)."""

    def __init__(self, root: Path, name: str, netns: str | None = None,
                 binds: Mapping[Path, str] | None = None) -> None:
        self.root = root
        self.name = name
        self.netns = netns
        self.binds = dict(binds or {})
        self.init: Proc | None = None
        self._unshare: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Box:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        argv = ["unshare", "--mount", "--propagation", "private", "--uts", "--pid", "--fork",
                "--kill-child=SIGKILL", "--", "bash", "-c", BOX_INIT, "box-init",
                str(self.root), self.name]
        for source, target in self.binds.items():
            argv += [str(source), target.lstrip("/")]
        if self.netns:
            argv = ["nsenter", f"--net=/run/netns/{self.netns}", "--", *argv]
        self._unshare = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, preexec_fn=_die_with_parent)
        assert self._unshare.stdout is not None
        line = self._unshare.stdout.readline()  # "ready" once everything is mounted
        if line.strip() != b"ready":
            self._unshare.kill()
            _, err = self._unshare.communicate(timeout=10)
            raise RuntimeError(f"box {self.name} did not start: {err.decode(errors='replace')}")
        pid1 = self._pid1()
        self.init = Proc.of(pid1)
        if self.init is None:
            raise RuntimeError(f"box {self.name}: its PID 1 ({pid1}) is gone")

    def _pid1(self) -> int:
        assert self._unshare is not None
        deadline = time.monotonic() + 5
        unshare = self._unshare.pid  # nsenter (no --pid) execs unshare in place: same PID
        while time.monotonic() < deadline:
            kids = children(unshare)
            if kids:
                return kids[0]
            time.sleep(0.02)
        raise RuntimeError(f"box {self.name}: no PID 1 under unshare {unshare}")

    def command(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> list[str]:
        """The host command line that runs ``argv`` as root inside the box's root."""
        assert self.init is not None, "box not started"
        variables = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb",
                     **(env or {})}
        return ["nsenter", "--target", str(self.init.pid), "--mount", "--uts", "--pid", "--net",
                "--", "chroot", str(self.root), "/usr/bin/env", "-i",
                *(f"{key}={value}" for key, value in variables.items()), *argv]

    def run(self, argv: Sequence[str], *, input: str | bytes | None = None, timeout: float = 120,
            check: bool = True, env: Mapping[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the box; output as text; raise with the output if it fails."""
        data = input.encode() if isinstance(input, str) else input
        done = subprocess.run(self.command(argv, env), input=data,
                              stdin=None if data is not None else subprocess.DEVNULL,
                              capture_output=True, timeout=timeout)
        result = subprocess.CompletedProcess(done.args, done.returncode,
                                             done.stdout.decode(errors="replace"),
                                             done.stderr.decode(errors="replace"))
        if check and result.returncode != 0:
            raise AssertionError(f"in box {self.name}: {' '.join(argv)} exited "
                                 f"{result.returncode}\n--- stdout\n{result.stdout[-4000:]}"
                                 f"\n--- stderr\n{result.stderr[-4000:]}")
        return result

    def path(self, inside: str) -> Path:
        """A file of the root, seen from the host (the root's own files, not its mounts)."""
        return self.root / inside.lstrip("/")

    def alive(self) -> bool:
        return self.init is not None and self.init.alive()

    def stop(self) -> None:
        """Kill PID 1 (recorded PID and start time): the kernel ends the whole box."""
        if self.init is not None:
            self.init.signal(signal.SIGKILL)
            wait_gone([self.init.pid], 10)
        if self._unshare is not None:
            try:
                self._unshare.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._unshare.kill()
                self._unshare.wait(timeout=10)
            for stream in (self._unshare.stdout, self._unshare.stderr):
                if stream is not None:
                    stream.close()
        self.init = None
        self._unshare = None


def add_netns(name: str) -> None:
    """A network namespace of ours with only loopback up (the network rule: 127.0.0.0/8)."""
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True, timeout=30)


def delete_netns(name: str) -> None:
    if Path("/run/netns", name).exists():
        subprocess.run(["ip", "netns", "delete", name], check=True, timeout=30)
