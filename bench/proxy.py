#!/usr/bin/env python3
"""bench/proxy: how fast is the rendered Kamailio configuration? (a benchmark, run by hand)

    .venv/bin/python bench/proxy.py                   # everything, ~10 minutes on 2 cores
    .venv/bin/python bench/proxy.py --quick           # fewer rates and shorter runs
    .venv/bin/python bench/proxy.py --write-docs      # also replace '## Proxy' in docs/benchmarks.md

Calls per second (INVITE-180-200-ACK, 1 s, BYE) through three Kamailio configurations, side by
side in one run with the same sipp load, a fresh Kamailio for every rate:

- genweb: the configuration genweb renders with every protection on: anti-flood (pike), the
  deny/allow/proxy lists, scanner check, dispatcher with a registered Genesis, record-routing;
  the calls come from an allowList address, as a provider's would (a source in no list is cut
  off at about 8 requests per second, 7.1.15, by design);
- stock: Debian's /etc/kamailio/kamailio.cfg unmodified, ``-l udp:127.0.0.1:PORT -Y RUNDIR``,
  routing by its location table (the callee registers first);
- bare: a bare stateful proxy (tm + rr, t_relay to the callee).

All three get the production process model: 8 children, a 4 MB socket buffer (maxbuffer, or
``-b`` for the stock file, which has none), and the shared/private memory the cluster gives
Kamailio (``-m``/``-M``, genweb/commit/cluster.py). The reported rate is the highest one tried
with zero failed calls. REGISTER per second: genweb with enableRegAuth (401, then 200;
usrloc writing through to MariaDB, as on the cluster) against a bare registrar (usrloc in
memory, no authentication), and a bare registrar with digest on the same database.

Everything runs on 127.0.0.0/8, every run is bounded in count and time, and every process is
stopped by its PID.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchdocs import write_section  # noqa: E402
from genweb.commit.cluster import KAMAILIO_PKG_MB, KAMAILIO_SHM_MB  # noqa: E402
from tests.render.kamailio_helpers import Daemon, MariaDB, free_port, wait_for  # noqa: E402
from tests.sip.harness import (  # noqa: E402
    DB_PASSWORD,
    PRIV,
    Agents,
    Ports,
    Proxy,
    Sipp,
    bound,
    snapshot,
)

GENESIS, PROVIDER, OTHER_CALLER = "127.0.0.11", "127.0.0.120", "127.0.0.121"
STOCK_CFG = Path("/etc/kamailio/kamailio.cfg")
USERS = 1000
BENCH_SCENARIOS = Path(__file__).resolve().parent / "scenarios"
MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"

BARE_STATEFUL = """#!KAMAILIO
# bench: a bare stateful proxy (tm + rr), every call to the callee
debug=1
log_stderror=yes
children=8
maxbuffer=4194304
auto_aliases=no
listen=udp:127.0.0.1:{port}
mpath="{modules}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"

request_route {{
	if (!mf_process_maxfwd_header("10")) {{
		sl_send_reply("483", "Too Many Hops");
		exit;
	}}
	if (is_method("CANCEL")) {{
		if (t_check_trans()) t_relay();
		exit;
	}}
	if (has_totag()) {{
		if (loose_route()) {{
			t_relay();
			exit;
		}}
		if (is_method("ACK")) {{
			if (t_check_trans()) t_relay();
			exit;
		}}
		sl_send_reply("404", "Not here");
		exit;
	}}
	t_check_trans();
	if (is_method("INVITE")) record_route();
	$du = "sip:{callee}";
	if (!t_relay()) sl_reply_error();
	exit;
}}
"""

BARE_REGISTRAR = """#!KAMAILIO
# bench: a bare registrar (usrloc in memory){auth_note}
debug=1
log_stderror=yes
children=8
maxbuffer=4194304
auto_aliases=no
listen=udp:127.0.0.1:{port}
mpath="{modules}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
{auth_modules}
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 3600)

request_route {{
	if (!mf_process_maxfwd_header("10")) {{
		sl_send_reply("483", "Too Many Hops");
		exit;
	}}
	if (!is_method("REGISTER")) {{
		sl_send_reply("405", "Only REGISTER here");
		exit;
	}}
{auth_check}	if (!save("location")) sl_reply_error();
	exit;
}}
"""

AUTH_MODULES = """loadmodule "{db}.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("auth_db", "db_url", "{url}")
modparam("auth_db", "calculate_ha1", 0)
modparam("auth_db", "password_column", "ha1")
modparam("auth_db", "password_column_2", "ha1b")
modparam("auth_db", "use_domain", 1)
"""

AUTH_CHECK = """	if (!auth_check("$td", "subscriber", "1")) {
		auth_challenge("$td", "1");
		exit;
	}
	consume_credentials();
"""


# -- processes ---------------------------------------------------------------------------------


def cpu_ticks(group: int) -> int:
    """utime+stime of every process in a process group (Kamailio and its children)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp
            total += int(fields[11]) + int(fields[12])
    return total


def niced(agent: Sipp) -> Sipp:
    """The load generator and the callee are the instruments: they run at a higher priority
    (nice -10) than the Kamailio under test, so that a starved sipp (the machine is shared)
    does not pass for a slow proxy."""
    agent.command[:0] = ["nice", "-n", "-10"]
    return agent


def load() -> float:
    """The machine's 1-minute load average (other work on a shared machine shows here)."""
    return os.getloadavg()[0]


def kamailio_argv(cfg: Path, folder: Path, *extra: str) -> list[str]:
    return ["kamailio", "-DD", "-E", "-f", str(cfg), "-Y", str(folder / "run"),
            "-m", str(KAMAILIO_SHM_MB), "-M", str(KAMAILIO_PKG_MB), *extra]


@dataclass
class Server:
    """One configuration under test. ``prepare(run folder, callee port)`` writes what a fresh
    Kamailio needs and returns its command line and SIP port on 127.0.0.1."""

    name: str
    description: str
    prepare: Callable[[Path, int], tuple[list[str], int]]
    caller: str
    ruri_user: str = "5551234"
    callee_aor: str = ""  # the callee registers as this user first ("" = no)


class Bench:
    def __init__(self, folder: Path, duration: int, tries: int = 3):
        self.folder, self.duration, self.tries = folder, duration, tries
        self.agents = Agents(folder / "sipp")
        self.mariadb = MariaDB(folder / "mariadb").start()
        self.results: dict[str, list[dict]] = {}
        self.loads = [load()]
        self.rates: list[int] = []
        self.reg_rates: list[int] = []

    def stop(self) -> None:
        self.agents.stop()
        self.mariadb.stop()

    def callee(self) -> Sipp:
        agent = niced(self.agents.sipp("uas.xml", GENESIS, args=["-aa"], trace=False))
        agent.start()
        wait_for(lambda: not agent.alive() or bound(GENESIS, agent.port), what="callee")
        return agent

    def kamailio(self, server: Server, name: str, callee_port: int) -> tuple[Daemon, int]:
        folder = self.folder / "runs" / name
        (folder / "run").mkdir(parents=True, exist_ok=True)
        argv, port = server.prepare(folder, callee_port)
        daemon = Daemon(argv, folder / "kamailio.log")
        wait_for(lambda: not daemon.alive() or bound(PRIV, port), timeout=20,
                 what=f"{server.name} to listen")
        time.sleep(1.0)  # the children initialise
        assert daemon.alive(), daemon.text()[-3000:]
        return daemon, port

    def load(self, scenario: str, ip: str, port: int, rate: int, *extra: str,
             keys: dict[str, str] | None = None) -> Sipp:
        return niced(self.agents.sipp(
            scenario, ip, target=f"{PRIV}:{port}", keys=keys, trace=False,
            args=["-r", str(rate), "-rp", "1000", "-m", str(rate * self.duration),
                  "-l", "200000", "-recv_timeout", "10000", "-max_recv_loops", "5000",
                  "-max_sched_loops", "5000", *extra]))

    def calls(self, server: Server, rate: int) -> dict:
        callee = self.callee()
        daemon, port = self.kamailio(server, f"{server.name}-cps-{rate}", callee.port)
        try:
            if server.callee_aor:
                reg = self.agents.sipp("register.xml", GENESIS, target=f"{PRIV}:{port}",
                                       service=server.callee_aor,
                                       keys={"contact_port": str(callee.port),
                                             "expires": "3600"},
                                       args=["-m", "1", "-recv_timeout", "3000"]).run(20)
                assert reg.rc == 0, reg.describe()
            caller = self.load("uac.xml", server.caller, port, rate, "-d", "1000",
                               keys={"ruri": f"sip:{server.ruri_user}@{PRIV}:{port}"})
            return self.measure(daemon, caller, rate)
        finally:
            daemon.stop()
            callee.stop()

    def registers(self, server: Server, rate: int, scenario: Path, users: Path) -> dict:
        daemon, port = self.kamailio(server, f"{server.name}-rps-{rate}", 0)
        try:
            caller = self.load(str(scenario), server.caller, port, rate, "-inf", str(users))
            return self.measure(daemon, caller, rate)
        finally:
            daemon.stop()

    def measure(self, daemon: Daemon, caller: Sipp, rate: int) -> dict:
        result = self.measure_run(daemon, caller, rate)
        # genweb's failover: a Genesis that answered nothing for 3 s is marked down
        result["downs"] = daemon.text().count("dispatcher.dst-down:")
        return result

    def measure_run(self, daemon: Daemon, caller: Sipp, rate: int) -> dict:
        database = self.mariadb.daemon.pid if self.mariadb.daemon else 0
        ticks, db_ticks, start = cpu_ticks(daemon.pid), cpu_ticks(database), time.monotonic()
        caller.start()
        caller.wait(self.duration + 60)
        elapsed = time.monotonic() - start
        scale = 100 / os.sysconf("SC_CLK_TCK") / elapsed
        stats = caller.stats()
        success, failed = caller.counts()
        count = rate * self.duration
        return {"rate": rate, "success": success, "failed": failed,
                "retrans": int(stats.get("Retransmissions(C)", 0)),
                "clean": failed == 0 and success == count,
                "cpu": (cpu_ticks(daemon.pid) - ticks) * scale, "load": load(),
                "db_cpu": (cpu_ticks(database) - db_ticks) * scale}

    def sweep(self, kind: str, servers: list[Server], rates: list[int],
              run: Callable[[Server, int], dict]) -> dict[str, int]:
        """Every rate, ascending, for every server side by side, each server until a rate where
        none of its tries was clean (a failed try is repeated up to ``tries`` times: the machine is
        shared, and one disturbed run must not end a series); the best clean rate of each."""
        best = {server.name: 0 for server in servers}
        going = list(servers)
        for rate in rates:
            for server in list(going):
                for _ in range(self.tries):
                    result = run(server, rate)
                    self.results.setdefault(f"{kind} {server.name}", []).append(result)
                    print(f"  {kind} {server.name:13} {rate:6}/s  ok {result['success']:7}  "
                          f"failed {result['failed']:6}  retrans {result['retrans']:6}  "
                          f"kamailio CPU {result['cpu']:4.0f}%  MariaDB CPU "
                          f"{result['db_cpu']:3.0f}%  load {load():.1f}"
                          + (f"  Genesis marked down {result['downs']}x" if result["downs"]
                             else ""), flush=True)
                    time.sleep(1)
                    if result["clean"]:
                        best[server.name] = rate
                        break
                else:
                    going.remove(server)
            if not going:
                break
        return best


# -- the configurations --------------------------------------------------------------------------


def genweb(bench: Bench, name: str, settings: dict[str, str],
           users: list[dict[str, str]]) -> tuple[Server, Proxy]:
    """The rendered configuration (its SIP ports are in the file: every run reuses them)."""
    ports = Ports()
    proxy = Proxy(snapshot(ports, settings, {"subscribers": users}), ports, bench.folder / name,
                  bench.mariadb).prepare()

    def prepare(folder: Path, callee_port: int) -> tuple[list[str], int]:
        # every run starts as a fresh installation: no Genesis from an earlier run (its callee
        # is gone; the dispatcher would keep it and lose calls to it), no registrations
        bench.mariadb.sql("DELETE FROM dispatcher; DELETE FROM location; DELETE FROM htable",
                          proxy.database)
        return kamailio_argv(proxy.kamailio.cfg, folder), ports.private

    return Server(name, "genweb", prepare, PROVIDER), proxy


def stock() -> Server:
    def prepare(folder: Path, callee_port: int) -> tuple[list[str], int]:
        port = free_port()
        return kamailio_argv(STOCK_CFG, folder, "-l", f"udp:{PRIV}:{port}",
                             "-b", "4194304"), port

    return Server("stock", "Debian stock kamailio.cfg", prepare, OTHER_CALLER, ruri_user="uas",
                  callee_aor="uas")


def bare_stateful() -> Server:
    def prepare(folder: Path, callee_port: int) -> tuple[list[str], int]:
        port = free_port()
        cfg = folder / "bare.cfg"
        cfg.write_text(BARE_STATEFUL.format(port=port, modules=MODULES,
                                            callee=f"{GENESIS}:{callee_port}"))
        return kamailio_argv(cfg, folder), port

    return Server("bare", "bare stateful proxy", prepare, OTHER_CALLER)


def bare_registrar(name: str, auth_url: str = "") -> Server:
    def prepare(folder: Path, callee_port: int) -> tuple[list[str], int]:
        port = free_port()
        cfg = folder / "registrar.cfg"
        cfg.write_text(BARE_REGISTRAR.format(
            port=port, modules=MODULES,
            auth_note=", digest against the subscriber table" if auth_url else ", no auth",
            auth_modules=AUTH_MODULES.format(db="db_mysql", url=auth_url) if auth_url else "",
            auth_check=AUTH_CHECK if auth_url else ""))
        return kamailio_argv(cfg, folder), port

    return Server(name, "bare registrar", prepare, PROVIDER)


def run_all(bench: Bench, rates: list[int], reg_rates: list[int]) -> str:
    bench.rates, bench.reg_rates = rates, reg_rates
    protections = {"enableAntiFlood": "Yes", "denyList": "127.0.0.180 127.0.0.184/30",
                   "allowList": PROVIDER, "proxyList": "127.0.0.160"}
    ours, _ = genweb(bench, "genweb", protections, [{"username": "genesis_a-1", "domain": PRIV}])
    ours.callee_aor = "genesis_a-1"
    print("calls per second (INVITE/180/200/ACK, 1 s, BYE), side by side:", flush=True)
    cps = bench.sweep("cps", [ours, stock(), bare_stateful()], rates, bench.calls)

    users = [{"username": f"bench{index:05d}", "domain": PRIV, "password": f"pw{index:05d}"}
             for index in range(USERS)]
    users_csv = bench.folder / "users.csv"
    users_csv.write_text("SEQUENTIAL\n" + "".join(
        f"bench{index:05d};[authentication username=bench{index:05d} password=pw{index:05d}]\n"
        for index in range(USERS)))
    registrar, proxy = genweb(bench, "genweb-reg", {**protections, "enableRegAuth": "Yes"},
                              users)
    url = f"mysql://amtelco:{DB_PASSWORD}@127.0.0.1:{bench.mariadb.port}/{proxy.database}"
    plain, digest = bare_registrar("bare-reg"), bare_registrar("bare-reg+auth", url)
    scenarios = {registrar.name: "reg_auth.xml", plain.name: "reg_plain.xml",
                 digest.name: "reg_auth.xml"}

    def registers(server: Server, rate: int) -> dict:
        return bench.registers(server, rate, BENCH_SCENARIOS / scenarios[server.name],
                               users_csv)

    print(f"REGISTER per second ({USERS} subscribers):", flush=True)
    rps = bench.sweep("rps", [registrar, plain, digest], reg_rates, registers)
    return format_report(bench, cps, rps)


NOTES = [
    "Notes (observed while building this benchmark; they hold for every run):",
    "",
    "- genweb fails differently from the other two when its callee stalls: after 3 s without "
    "any answer from the only Genesis the call gets a 408, the system is marked down (the "
    "failover of 1.2.1) and the following calls get a 503 until its next astPingMethod query "
    "(astPingInterval, 30 s by default), without retransmissions. Reproduced on purpose: "
    "stopping the callee for 4 s at 200 calls/s gave 408s, then 503s for the rest of the "
    "run. The run list shows for each genweb run how often the Genesis was marked down.",
    "- Kamailio's default memory manager (qm) dominates the bare proxy's profile (`perf`: "
    "`qm_malloc`); with `-x tlsf` the bare proxy needed 16% instead of 45% of a core at "
    "2000 calls/s and genweb 24% instead of 36%. The cluster starts Kamailio with `-m`/`-M` "
    "only (genweb/commit/cluster.py): `-x tlsf` there is a cheap gain worth measuring on "
    "the real nodes.",
    "- genweb's REGISTER rate is bound by MariaDB, not by Kamailio: usrloc writes every "
    "registration through (db_mode 1, so the node that takes over keeps the registrations) "
    "and MariaDB, on the same two CPUs, reaches a full core around 4000 REGISTER/s.",
]


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def best_ratio(best: dict[str, int], ours: str, other: str, rates: list[int]) -> str:
    """ours ÷ other; a rate that was the highest one tried is only a floor, which makes the
    ratio a floor ('at least') or a ceiling ('at most')."""
    text = ratio(best[ours], best[other])
    top = {name: bool(rates) and best[name] == rates[-1] for name in (ours, other)}
    if top[ours] and not top[other]:
        return f"{text} (at least)"
    if top[other] and not top[ours]:
        return f"{text} (at most)"
    return f"{text} (both at the highest rate tried)" if top[ours] else text


def shown(best: dict[str, int], name: str, rates: list[int]) -> str:
    """The best clean rate; '≥' when it is the highest rate tried (not a limit found)."""
    return f"≥ {best[name]}" if rates and best[name] == rates[-1] else str(best[name])


def cost_per_call(bench: Bench, kind: str, names: list[str]) -> tuple[list[int], dict[str, float]]:
    """Kamailio CPU per call (ms of one core), averaged over the rates every named server ran
    cleanly: far less disturbed by other work on the machine than the highest clean rate."""
    clean = {name: {item["rate"]: item for item in bench.results.get(f"{kind} {name}", [])
                    if item["clean"]} for name in names}
    common = sorted(set.intersection(*(set(runs) for runs in clean.values())))
    cost = {name: sum(clean[name][rate]["cpu"] * 10 / rate for rate in common) / len(common)
            if common else 0.0 for name in names}
    return common, cost


def format_report(bench: Bench, cps: dict[str, int], rps: dict[str, int]) -> str:
    host = f"{os.cpu_count()} CPUs"
    rates, cost = cost_per_call(bench, "cps", ["genweb", "stock", "bare"])
    reg_rates, reg_cost = cost_per_call(bench, "rps", ["genweb-reg", "bare-reg",
                                                       "bare-reg+auth"])
    lines = [
        "## Proxy",
        "",
        f"`bench/proxy.py`, {time.strftime('%Y-%m-%d')}, {host}: Kamailio, sipp (caller and "
        "callee, at nice -10) and MariaDB share the CPUs with whatever else runs on the "
        f"machine, unpinned; {bench.duration} s fixed-rate runs, a fresh Kamailio per "
        f"run; every configuration with `-m {KAMAILIO_SHM_MB} -M {KAMAILIO_PKG_MB}`, 8 children "
        "and a 4 MB socket buffer. A rate counts when every call of the run succeeded.",
        "",
        "Two measures: the highest rate with zero failed calls (what the targets name; on a "
        "shared machine one disturbed run can cut a series short), and Kamailio's CPU per "
        f"call averaged over the rates all three ran cleanly ({', '.join(map(str, rates))}/s; "
        f"rates tried: {', '.join(map(str, bench.rates))}; a '≥' rate is the highest one "
        "tried), which other work on the machine hardly moves: its inverse ratio is the "
        "capacity ratio on a machine of its own.",
        "",
        "| calls per second | max clean CPS | genweb ÷ this | CPU per call | capacity "
        "ratio by CPU | target |",
        "|---|---|---|---|---|---|",
        f"| genweb, every protection on | {shown(cps, 'genweb', bench.rates)} | 1.00x | "
        f"{cost['genweb']:.3f} ms | 1.00x | |",
        f"| Debian stock kamailio.cfg | {shown(cps, 'stock', bench.rates)} | "
        f"{best_ratio(cps, 'genweb', 'stock', bench.rates)} "
        f"| {cost['stock']:.3f} ms | {ratio(cost['stock'], cost['genweb'])} | ≥ 1.0x |",
        f"| bare stateful proxy (tm + rr) | {shown(cps, 'bare', bench.rates)} | "
        f"{best_ratio(cps, 'genweb', 'bare', bench.rates)} | {cost['bare']:.3f} ms | "
        f"{ratio(cost['bare'], cost['genweb'])} | ≥ 0.8x |",
        "",
        "| REGISTER per second | max clean | genweb ÷ this | Kamailio CPU per REGISTER |",
        "|---|---|---|---|",
        f"| genweb, enableRegAuth (401 + 200), usrloc write-through to MariaDB | "
        f"{shown(rps, 'genweb-reg', bench.reg_rates)} | 1.00x | "
        f"{reg_cost['genweb-reg']:.3f} ms |",
        f"| bare registrar, usrloc in memory, no auth | {shown(rps, 'bare-reg', bench.reg_rates)} | "
        f"{best_ratio(rps, 'genweb-reg', 'bare-reg', bench.reg_rates)} | "
        f"{reg_cost['bare-reg']:.3f} ms |",
        f"| bare registrar + digest (the same MariaDB subscriber table), usrloc in memory | "
        f"{shown(rps, 'bare-reg+auth', bench.reg_rates)} | "
        f"{best_ratio(rps, 'genweb-reg', 'bare-reg+auth', bench.reg_rates)} | "
        f"{reg_cost['bare-reg+auth']:.3f} ms |",
        "",
        f"(CPU per REGISTER over {', '.join(map(str, reg_rates))}/s; MariaDB's own CPU is in "
        "the run list below: genweb's registrar writes every registration through to it.)",
        "",
        f"Load average at the start and end: {bench.loads[0]:.1f}, {load():.1f}; the highest "
        f"during a run: {max(item['load'] for runs in bench.results.values() for item in runs):.1f} "
        f"(other work on the machine disturbs single runs: a failed run is tried up to "
        f"{bench.tries} times before a series ends).",
        "",
        "Every run (rate/s: successful/failed calls, retransmissions, Kamailio CPU and MariaDB "
        "CPU in % of one core; for genweb, how often its failover marked the Genesis down):",
        "",
    ]
    for key, results in bench.results.items():
        runs = "; ".join(f"{item['rate']}: {item['success']}/{item['failed']}, "
                         f"r {item['retrans']}, {item['cpu']:.0f}% / {item['db_cpu']:.0f}%"
                         + (f", Genesis down {item['downs']}x" if item["downs"] else "")
                         for item in results)
        lines.append(f"- {key}: {runs}")
    return "\n".join(lines + ["", *NOTES]) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="1000,2000,3000,4000,5000,6000,8000",
                        help="calls per second to try, ascending")
    parser.add_argument("--reg-rates", default="1000,2000,4000,6000,8000",
                        help="REGISTERs per second to try, ascending")
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--tries", type=int, default=3,
                        help="runs per rate before a configuration's series ends")
    parser.add_argument("--quick", action="store_true", help="a few rates, 5 s runs")
    parser.add_argument("--write-docs", action="store_true",
                        help="write the results into docs/benchmarks.md (## Proxy)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and logs")
    args = parser.parse_args()
    if args.quick:
        args.rates, args.reg_rates, args.duration = "1000,2000,3000", "500,2000", 5
    missing = [tool for tool in ("kamailio", "sipp", "mariadbd") if not shutil.which(tool)]
    if missing:
        print(f"needs {', '.join(missing)} (scripts/test.sh installs them)")
        return 2
    rates = [int(item) for item in args.rates.split(",")]
    reg_rates = [int(item) for item in args.reg_rates.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    print(f"bench/proxy: work folder {folder}", flush=True)
    bench = Bench(folder, args.duration, args.tries)
    try:
        report = run_all(bench, rates, reg_rates)
    finally:
        bench.stop()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print()
    print(report)
    if args.write_docs:
        write_section("## Proxy", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
