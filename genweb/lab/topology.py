"""The lab's names and addresses (pure): who is where on the two lab networks.

Only 198.18.0.0/15 (RFC 2544, benchmarking) is used: 198.18.0.0/24 is the private network
(corosync, SSH from the web server, the switch's SNMP agent), 198.19.0.0/24 the public one.
Nothing in the host's default namespace gets an address or a route into either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_NODES = 15
PRIVATE_NET, PUBLIC_NET, PREFIX_LEN = "198.18.0", "198.19.0", 24
SWITCH_IP = f"{PRIVATE_NET}.2"   # the switch's management address (snmpd)
WEB_PRIVATE_IP, WEB_PUBLIC_IP = f"{PRIVATE_NET}.3", f"{PUBLIC_NET}.3"
PRIVATE_VIP, PUBLIC_VIP = f"{PRIVATE_NET}.100", f"{PUBLIC_NET}.100"  # free for floating IPs
FIRST_NODE_HOST = 11             # node k gets .10+k on both networks
_NAME = re.compile(r"^[a-z][a-z0-9]{0,9}$")


@dataclass(frozen=True)
class NodeSpec:
    """One lab node: its hostname, namespace, addresses and switch ports."""

    index: int
    name: str
    netns: str
    private_ip: str
    public_ip: str
    private_port: str   # interface name on the switch (IF-MIB ifDescr), the fence plug
    public_port: str


def check_lab_name(name: str) -> str:
    """Lab names prefix namespaces: short, lowercase, safe in paths and interface names."""
    if not _NAME.match(name):
        raise ValueError(f"lab name must be 1-10 lowercase letters/digits, starting with a "
                         f"letter: {name!r}")
    return name


def check_node_count(count: int) -> int:
    if not 1 <= count <= MAX_NODES:
        raise ValueError(f"a lab has 1 to {MAX_NODES} nodes, not {count}")
    return count


def node_specs(lab: str, count: int) -> list[NodeSpec]:
    """Nodes node1..nodeN, named like the manual's nodeName example."""
    check_lab_name(lab)
    check_node_count(count)
    return [NodeSpec(index=i, name=f"node{i}", netns=f"{lab}-node{i}",
                     private_ip=f"{PRIVATE_NET}.{FIRST_NODE_HOST - 1 + i}",
                     public_ip=f"{PUBLIC_NET}.{FIRST_NODE_HOST - 1 + i}",
                     private_port=f"sw-node{i}", public_port=f"pub-node{i}")
            for i in range(1, count + 1)]


def switch_netns(lab: str) -> str:
    return f"{lab}-sw"


def web_netns(lab: str) -> str:
    return f"{lab}-web"


def hosts_file(nodes: list[NodeSpec]) -> str:
    """/etc/hosts of every node: the nodes by private address, the switch and the web server."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
             f"{SWITCH_IP}\tswitch", f"{WEB_PRIVATE_IP}\tweb"]
    lines += [f"{node.private_ip}\t{node.name}" for node in nodes]
    return "\n".join(lines) + "\n"
