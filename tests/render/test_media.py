"""rtpengine and redis from the Proxy Media Config page (8.0), checked by the engines themselves.

The rendered files run unchanged except for what a single test machine needs: the floating
addresses are loopback ones in the snapshot itself (privateIP 127.0.0.1, mappedIP 127.0.0.2,
publicIP a documentation address rtpengine only writes into SDP), and the control ports, redis
port and redis directory are rewritten to free ones in a temporary folder.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from genweb.commit import media
from genweb.commit.render import File, render
from genweb.commit.snapshot import Snapshot
from tests.render.media_helpers import (
    Process,
    free_port,
    free_port_range,
    offer,
    rewrite,
    run,
    wait_for,
)

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("rtpengine", "rtpengine-ctl", "redis-server", "redis-cli")),
    reason="needs rtpengine-daemon, rtpengine-utils and redis-server (scripts/test.sh installs them)",
)

RTP_DB_PASS = "Zq3_x-9TfL0wNs7uVbYc2dEe"
PUBLIC = "198.51.100.10"  # advertised in SDP only: nothing is ever sent to it
NODES = [{"nodeID": "1", "nodeName": "node1", "privateIP": "127.0.0.1"},
         {"nodeID": "2", "nodeName": "node2", "privateIP": "127.0.0.3"}]


def media_snapshot(media_config: dict[str, str] | None = None, system: dict[str, str] | None = None,
                   generated: dict[str, str] | None = None) -> Snapshot:
    system_config = {"privateIP": "127.0.0.1", "privateSubnet": "8", "privatePing": "127.0.0.1",
                     "publicIP": PUBLIC, "mappedIP": "127.0.0.2", "publicPing": "127.0.0.2",
                     **(system or {})}
    return Snapshot.build({"systemConfig": system_config, "proxyConfig": {"enableNAT": "Yes"},
                           "mediaConfig": media_config or {}},
                          {"haNodes": NODES},
                          {"rtpDbPass": RTP_DB_PASS} if generated is None else generated)


def files_of(snapshot: Snapshot, node: int = 0) -> dict[str, File]:
    return {file.path: file for file in media.media_files(snapshot, snapshot.nodes[node])}


def ctl(conf: Path, *command: str) -> str:
    return run(["rtpengine-ctl", "-config-file", str(conf), *command]).stdout


def redis_cli(port: int, *command: str, password: str | None = RTP_DB_PASS) -> str:
    env = {"REDISCLI_AUTH": password} if password else {}
    result = run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *command], env=env, check=False)
    return (result.stdout + result.stderr).strip()


def call_ids(conf: Path, which: str = "all") -> list[str]:
    return re.findall(r"^callid:\s+(\S+)", ctl(conf, "list", "sessions", which), re.MULTILINE)


# -- unit: what the rendered files say -------------------------------------------------------

@pytest.mark.parametrize(("system", "expected"), [
    ({"publicIP": "", "mappedIP": "", "publicPing": ""}, "priv/127.0.0.1"),
    ({"publicIP": "127.0.0.2", "mappedIP": ""}, "priv/127.0.0.1;pub/127.0.0.2"),
    ({}, f"priv/127.0.0.1;pub/127.0.0.2!{PUBLIC}"),
    ({"mappedIP": "127.0.0.1"}, f"priv/127.0.0.1;pub/127.0.0.1!{PUBLIC}"),
    ({"publicIP": "pbx.example.com", "alias": "pbx.example.com\n203.0.113.7:5080"},
     "priv/127.0.0.1;pub/127.0.0.2!203.0.113.7"),
])
def test_interfaces_follow_the_public_side(system: dict[str, str], expected: str) -> None:
    conf = files_of(media_snapshot(system=system))[media.RTPENGINE_CONF].content
    assert re.findall(r"^interface = (.*)$", conf, re.MULTILINE) == [expected]


def test_media_keys_land_on_rtpengine_options() -> None:
    conf = files_of(media_snapshot({"tos": "104", "rtpPortMin": "21000", "rtpPortMax": "21999",
                                    "timeout": "61", "silent-timeout": "3601",
                                    "final-timeout": "0", "foreign-timeout": "99"}))
    text = conf[media.RTPENGINE_CONF].content
    for line in ("tos = 104", "port-min = 21000", "port-max = 21999", "timeout = 61",
                 "silent-timeout = 3601", "final-timeout = 0", "table = -1",
                 "listen-ng = 127.0.0.1:22222", "listen-cli = 127.0.0.1:9900",
                 # restored from a database nothing writes; written to and subscribed to 1
                 f"redis = {RTP_DB_PASS}@127.0.0.1:6380/2",
                 f"redis-write = {RTP_DB_PASS}@127.0.0.1:6380/1",
                 "subscribe-keyspace = 1", "redis-expires = 31536000"):
        assert f"\n{line}\n" in text
    assert "recording" not in text.replace("No call recording", "")
    assert "FOREIGN_TIMEOUT=99\n" in conf[media.FOREIGN_SCRIPT].content


def test_redis_config_is_per_node_and_protected() -> None:
    first, second = (files_of(media_snapshot(), node)[media.REDIS_CONF] for node in (0, 1))
    assert "\nbind 127.0.0.1\n" in first.content
    assert "\nbind 127.0.0.1 127.0.0.3\n" in second.content
    for line in (f"requirepass {RTP_DB_PASS}", f"masterauth {RTP_DB_PASS}", 'save ""',
                 "appendonly no", "port 6380", "notify-keyspace-events K$g"):
        assert f"\n{line}\n" in second.content
    assert (second.mode, second.owner, second.group) == (0o640, "redis", "redis")


def test_file_modes_keep_the_password_from_other_users() -> None:
    files = files_of(media_snapshot())
    assert (files[media.RTPENGINE_CONF].mode, files[media.RTPENGINE_CONF].group) == (0o640, "rtpengine")
    assert files[media.FOREIGN_SCRIPT].mode == 0o750


@pytest.mark.parametrize("generated", [{}, {"rtpDbPass": "short"}, {"rtpDbPass": "a" * 20 + "@:/"}])
def test_render_refuses_a_missing_or_unsafe_redis_password(generated: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="rtpDbPass"):
        files_of(media_snapshot(generated=generated))


def test_render_is_deterministic_and_registered() -> None:
    first = render(media_snapshot())
    again = render(media_snapshot())
    for node in ("node1", "node2"):
        for path in (media.RTPENGINE_CONF, media.REDIS_CONF, media.FOREIGN_SCRIPT):
            assert first.file(node, path) == again.file(node, path)


# -- engine: redis and rtpengine on loopback -------------------------------------------------

@dataclass
class MediaLab:
    folder: Path
    snapshot: Snapshot
    rtp_ports: tuple[int, int]
    redis_ports: tuple[int, int]  # node1's redis (master), node2's redis (replica)
    processes: list[Process]
    rtpengine_conf: Path = Path()  # node1's rtpengine, on node1's redis
    ng_port: int = 0
    rtpengine: Process | None = None

    def rtpengine_config(self, redis_port: int) -> tuple[Path, int]:
        """The rendered rtpengine.conf with free control ports and the given local redis."""
        ng_port, cli_port = free_port(), free_port()
        text = rewrite(files_of(self.snapshot)[media.RTPENGINE_CONF].content, {
            "listen-ng": f"127.0.0.1:{ng_port}", "listen-cli": f"127.0.0.1:{cli_port}",
            "redis": f"{RTP_DB_PASS}@127.0.0.1:{redis_port}/2",
            "redis-write": f"{RTP_DB_PASS}@127.0.0.1:{redis_port}/1"})
        path = self.folder / f"rtpengine-{ng_port}.conf"
        path.write_text(text)
        return path, ng_port

    def start_rtpengine(self, conf: Path, name: str) -> Process:
        process = Process(["rtpengine", f"--config-file={conf}", "--foreground", "--log-stderr",
                           f"--pidfile={self.folder / (name + '.pid')}"], self.folder / f"{name}.log")
        self.processes.append(process)
        wait_for(lambda: "Startup complete" in process.text() or process.popen.poll() is not None,
                 what=f"{name} to start")
        assert "Startup complete" in process.text(), process.text()
        return process


def start_redis(folder: Path, snapshot: Snapshot, node: int, port: int) -> Process:
    data = folder / f"redis-{node}"
    data.mkdir()
    text = rewrite(files_of(snapshot, node)[media.REDIS_CONF].content,
                   {"port": str(port), "dir": str(data), "logfile": str(data / "redis.log")},
                   separator=" ")
    conf = data / "genproxy.conf"
    conf.write_text(text)
    process = Process(["redis-server", str(conf)], data / "stdout.log")
    try:
        wait_for(lambda: redis_cli(port, "PING") == "PONG", what=f"redis on {port}")
    except AssertionError:
        process.stop()
        raise
    return process


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaLab]:
    folder = tmp_path_factory.mktemp("media")
    rtp_ports = free_port_range(40)
    snapshot = media_snapshot({"tos": "104", "rtpPortMin": str(rtp_ports[0]),
                               "rtpPortMax": str(rtp_ports[1]), "timeout": "61",
                               "silent-timeout": "3601", "final-timeout": "7200",
                               "foreign-timeout": "1"})
    lab = MediaLab(folder, snapshot, rtp_ports, (free_port(), free_port()), [])
    try:
        for node, port in enumerate(lab.redis_ports):
            lab.processes.append(start_redis(folder, snapshot, node, port))
        # node2's redis follows node1's, as the redis agent makes it do on a replica node
        assert redis_cli(lab.redis_ports[1], "REPLICAOF", "127.0.0.1", str(lab.redis_ports[0])) == "OK"
        lab.rtpengine_conf, lab.ng_port = lab.rtpengine_config(lab.redis_ports[0])
        lab.rtpengine = lab.start_rtpengine(lab.rtpengine_conf, "rtpengine-node1")
        yield lab
    finally:
        for process in reversed(lab.processes):
            process.stop()


def test_redis_refuses_commands_without_the_password(lab: MediaLab) -> None:
    port = lab.redis_ports[0]
    assert "NOAUTH" in redis_cli(port, "PING", password=None)
    assert "WRONGPASS" in redis_cli(port, "PING", password="not-the-password-at-all")
    assert redis_cli(port, "PING") == "PONG"


def test_rtpengine_runs_with_redis_and_the_media_settings(lab: MediaLab) -> None:
    log = lab.rtpengine.text()
    assert f"Connected to Redis 127.0.0.1:{lab.redis_ports[0]} in master mode" in log
    assert "Redis restore time" in log
    assert f"Use Redis 127.0.0.1:{lab.redis_ports[0]} to subscribe to notifications" in log
    assert ctl(lab.rtpengine_conf, "kslist").split() == ["Subscribed-on", "keyspaces:", "1"]
    assert ctl(lab.rtpengine_conf, "list", "timeout").strip() == "TIMEOUT=61"
    assert ctl(lab.rtpengine_conf, "list", "silenttimeout").strip() == "SILENT_TIMEOUT=3601"
    assert ctl(lab.rtpengine_conf, "list", "finaltimeout").strip() == "FINAL_TIMEOUT=7200"
    interfaces = ctl(lab.rtpengine_conf, "list", "interfaces")
    assert "Interface 'priv' address '127.0.0.1'" in interfaces
    assert "Interface 'pub' address '127.0.0.2'" in interfaces
    assert interfaces.count(f"Port range: {lab.rtp_ports[0]} - {lab.rtp_ports[1]}") == 2


def test_offer_advertises_the_public_address_and_state_reaches_every_node(lab: MediaLab) -> None:
    sdp = offer(lab.ng_port, "call-state-1")
    assert f"c=IN IP4 {PUBLIC}" in sdp  # toward the public side: mappedIP's public address
    port = int(re.search(r"^m=audio (\d+) ", sdp, re.MULTILINE).group(1))
    assert lab.rtp_ports[0] <= port <= lab.rtp_ports[1]
    assert "tos: 104" in ctl(lab.rtpengine_conf, "list", "sessions", "call-state-1")
    assert "call-state-1" in redis_cli(lab.redis_ports[0], "-n", "1", "KEYS", "*")
    assert 7000 < int(redis_cli(lab.redis_ports[0], "-n", "1", "TTL", "call-state-1")) <= 7200
    wait_for(lambda: "call-state-1" in redis_cli(lab.redis_ports[1], "-n", "1", "KEYS", "*"),
             what="the call to replicate to node2's redis")
    assert "READONLY" in redis_cli(lab.redis_ports[1], "-n", "1", "SET", "x", "1")


def test_a_new_rtpengine_holds_calls_as_foreign_and_foreign_timeout_ends_them(lab: MediaLab) -> None:
    """The restart path (tests/media/test_failover.py runs the standby that is already up)."""
    sdp = offer(lab.ng_port, "call-before-failover")
    port = re.search(r"^m=audio (\d+) ", sdp, re.MULTILINE).group(1)
    wait_for(lambda: "call-before-failover" in redis_cli(lab.redis_ports[1], "-n", "1", "KEYS", "*"),
             what="replication")
    # node1 dies; node2's redis is promoted and rtpengine starts there with node2's redis
    lab.rtpengine.kill()
    assert redis_cli(lab.redis_ports[1], "REPLICAOF", "NO", "ONE") == "OK"
    conf, ng_port = lab.rtpengine_config(lab.redis_ports[1])
    lab.start_rtpengine(conf, "rtpengine-node2")
    assert "call-before-failover" in call_ids(conf, "foreign")
    # same media port on the same address, so the far ends' RTP keeps flowing
    assert f"127.0.0.2:{port} " in ctl(conf, "list", "sessions", "call-before-failover")

    script = lab.folder / "genproxy-rtpengine-foreign"
    script.write_text(files_of(lab.snapshot)[media.FOREIGN_SCRIPT].content)
    script.chmod(0o750)
    state = lab.folder / "run" / "rtpengine-foreign"
    env = {"GENPROXY_RTPENGINE_CONF": str(conf), "GENPROXY_FOREIGN_STATE": str(state)}
    run([str(script), "mark"], env=env)
    assert "call-before-failover" in state.read_text().splitlines()[1:]
    assert "all calls set to 'owned" in ctl(conf, "active")  # the agent's promote, after mark
    assert "call-before-failover" in call_ids(conf, "own") and not call_ids(conf, "foreign")
    offer(ng_port, "call-after-failover")  # the new active node's own call

    # foreign-timeout is 1 s here: the scheduled expire ends the foreign call, and only it
    wait_for(lambda: "call-before-failover" not in call_ids(conf), timeout=8,
             what="foreign-timeout to end the restored call")
    assert call_ids(conf) == ["call-after-failover"]
    wait_for(lambda: not state.exists(), what="the state file to go")
    assert run([str(script), "bogus"], env=env, check=False).returncode == 2


def test_rtpengine_starts_while_its_redis_is_down(lab: MediaLab) -> None:
    conf, _ = lab.rtpengine_config(free_port())  # nothing listens there
    process = lab.start_rtpengine(conf, "rtpengine-no-redis")
    assert "Starting with no initial connection to Redis" in process.text()
    process.stop()


def test_foreign_script_does_nothing_before_its_time(tmp_path: Path) -> None:
    script = tmp_path / "foreign"
    script.write_text(files_of(media_snapshot({"foreign-timeout": "3600"}))[media.FOREIGN_SCRIPT].content)
    script.chmod(0o750)
    state = tmp_path / "state"
    state.write_text("9999999999\nno-such-call\n")
    env = {"GENPROXY_RTPENGINE_CONF": str(tmp_path / "absent.conf"), "GENPROXY_FOREIGN_STATE": str(state)}
    run([str(script), "expire"], env=env)
    assert state.read_text() == "9999999999\nno-such-call\n"
