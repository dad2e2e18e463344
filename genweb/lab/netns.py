"""Network namespaces of the lab: the switch with two bridges, the nodes, the web server.

Every veth pair is created inside the switch namespace with its peer moved straight into the
node's namespace, so no interface ever appears in the host's default namespace.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import threading
from pathlib import Path

from .topology import PREFIX_LEN, SWITCH_IP, WEB_PRIVATE_IP, WEB_PUBLIC_IP, NodeSpec

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
PRIVATE_BRIDGE, PUBLIC_BRIDGE = "br0", "br1"


def ip(*args: str) -> None:
    """Run one iproute2 command; failures raise with ip's own message."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def add_netns(name: str) -> None:
    ip("netns", "add", name)
    ip("-n", name, "link", "set", "lo", "up")


def delete_netns(name: str) -> None:
    if netns_exists(name):
        ip("netns", "delete", name)


def build_switch(ns: str) -> None:
    """The switch: a private bridge with the management address, a public bridge without."""
    add_netns(ns)
    for bridge in (PRIVATE_BRIDGE, PUBLIC_BRIDGE):
        ip("-n", ns, "link", "add", bridge, "type", "bridge", "stp_state", "0",
           "forward_delay", "0")
        ip("-n", ns, "link", "set", bridge, "up")
    ip("-n", ns, "addr", "add", f"{SWITCH_IP}/{PREFIX_LEN}", "dev", PRIVATE_BRIDGE)


def plug(switch: str, port: str, bridge: str, ns: str, ifname: str, address: str) -> None:
    """A cable: switch port ``port`` on ``bridge`` to interface ``ifname`` in namespace ``ns``."""
    ip("-n", switch, "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", ns)
    ip("-n", switch, "link", "set", port, "master", bridge)
    ip("-n", switch, "link", "set", port, "up")
    ip("-n", ns, "addr", "add", f"{address}/{PREFIX_LEN}", "dev", ifname)
    ip("-n", ns, "link", "set", ifname, "up")


def build_node_network(switch: str, node: NodeSpec) -> None:
    """eth0 on the private network, eth1 on the public one, as a real node's two NICs."""
    add_netns(node.netns)
    plug(switch, node.private_port, PRIVATE_BRIDGE, node.netns, "eth0", node.private_ip)
    plug(switch, node.public_port, PUBLIC_BRIDGE, node.netns, "eth1", node.public_ip)


def build_web_network(switch: str, ns: str) -> None:
    """Where the web server (and test clients) sit: on both networks, like an operator host."""
    add_netns(ns)
    plug(switch, "sw-web", PRIVATE_BRIDGE, ns, "eth0", WEB_PRIVATE_IP)
    plug(switch, "pub-web", PUBLIC_BRIDGE, ns, "eth1", WEB_PUBLIC_IP)


def _setns(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        if hasattr(os, "setns"):
            os.setns(fd, CLONE_NEWNET)
        elif ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno), str(path))
    finally:
        os.close(fd)


def connect_in_netns(ns: str, host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection opened from inside namespace ``ns``.

    A helper thread switches only itself into the namespace (network namespaces are per
    thread), creates and connects the socket and ends; the socket stays bound to that
    namespace, so the rest of the process (paramiko) uses it like any other.
    """
    box: dict[str, object] = {}

    def work() -> None:
        try:
            _setns(NETNS_DIR / ns)
            box["sock"] = socket.create_connection((host, port), timeout=timeout)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=work, name=f"netns-{ns}", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["sock"]  # type: ignore[return-value]
