"""Many portals, one PostgreSQL: one sync process per portal, as the Kubernetes example runs.

N emulated HubSpot portals, each in its own process with its own rate limit, and N
``crm-complaints sync`` processes (one per portal, each in its own ``state.namespace``)
sharing one PostgreSQL. The emulators' windows are sped up tenfold (limits per 1 s instead of
per 10 s) and their OpenAPI validation is off (it, not the client, would be the bottleneck;
see ``hubspot_sync.py``). Prints:

- each portal's first sync alone, then all N at once: total wall time against the slowest
  single-portal run alone (target: within 20 %);
- requests per complaint, alone and side by side (target: unchanged);
- rows and size of the state database per 10,000 complaints;
- peak memory (RSS) of each sync worker (what the Kubernetes example's requests are sized from);
- that a second worker for a namespace already running exits 4;
- ROUNDS rounds of new and edited complaints in every portal with random workers SIGKILLed
  mid-run, then a rerun: duplicates and lost objects in every portal (target: 0 and 0).

Needs the PostgreSQL the tests use (``make test`` starts one; ``CRM_COMPLAINTS_TEST_POSTGRES``
names another); works in a schema of its own and drops it afterwards.

Usage: python benchmarks/many_portals.py [--portals 4] [--complaints 5000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate

from crm_complaints.adapters.hubspot import HubSpotAdapter, HubSpotConfig, task_key
from crm_complaints.emulator import DEMO_TOKEN, running_emulator
from crm_complaints.emulator.traffic import RateLimit
from crm_complaints.policy import Policy
from crm_complaints.schema import Complaint

WINDOW = 1.0  # seconds: HubSpot's 10-second window, ten times faster
LIMITS = (60, 50, 40, 30, 70, 45, 55, 35)  # requests per window, one per portal
NAMES = ("osaka", "kyoto", "taipei", "shanghai", "nagoya", "kobe", "sapporo", "fukuoka")
OWNERS = {
    "front_desk": "frontdesk@clinic.example",
    "care_staff": "care@clinic.example",
    "physician": "doctor@clinic.example",
    "management": "director@clinic.example",
}
SERVER = os.environ.get("CRM_COMPLAINTS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def emulator_main(conn: Connection, limit: int, window: float) -> None:
    """An emulated portal in its own process; answers the benchmark's questions on ``conn``."""
    rate = RateLimit(requests=limit, window_seconds=window, search_requests=None)
    with running_emulator(rate_limit=rate, validate=False) as emulator:
        HubSpotAdapter(
            HubSpotConfig(
                host=emulator.base_url,
                owners=OWNERS,
                rate_limit_requests=limit,
                rate_limit_window_seconds=window,
            ),
            environ={"HUBSPOT_ACCESS_TOKEN": DEMO_TOKEN},
        ).setup()
        conn.send(emulator.base_url)
        while True:
            message = conn.recv()
            if message[0] == "requests":
                conn.send(emulator.stats.requests)
            elif message[0] == "cpu":
                usage = resource.getrusage(resource.RUSAGE_SELF)
                conn.send(usage.ru_utime + usage.ru_stime)
            elif message[0] == "check":
                tickets = Counter(
                    t.properties.get("crm_complaint_id") for t in emulator.portal.live("tickets")
                )
                tasks = Counter(
                    t.properties.get("crm_task_key") for t in emulator.portal.live("tasks")
                )
                want_tickets, want_tasks = set(message[1]), set(message[2])
                duplicates = sum(n - 1 for n in tickets.values() if n > 1) + sum(
                    n - 1 for n in tasks.values() if n > 1
                )
                lost = len(want_tickets - set(tickets)) + len(want_tasks - set(tasks))
                conn.send((duplicates, lost, len(emulator.violations)))
            else:
                return


@dataclass
class Portal:
    """One clinic group's portal: its emulator process, config, complaints and source file."""

    namespace: str
    limit: int
    folder: Path
    state_url: str
    complaints: dict[str, Complaint] = field(default_factory=dict)
    base_url: str = ""
    process: Any = None
    conn: Any = None

    @property
    def config(self) -> Path:
        return self.folder / f"{self.namespace}.toml"

    @property
    def source(self) -> Path:
        return self.folder / f"{self.namespace}.jsonl"

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=emulator_main, args=(child, self.limit, WINDOW))
        self.process.start()
        child.close()  # so a dead emulator is an EOFError here, not a wait forever
        self.base_url = self.conn.recv()
        owners = "\n".join(f'{k} = "{v}"' for k, v in OWNERS.items())
        self.config.write_text(
            f'[state]\nurl = "{self.state_url}"\nnamespace = "{self.namespace}"\n'
            "[sync]\nbatch_size = 1000\n"
            f'[adapters.hubspot]\nhost = "{self.base_url}"\nrate_limit_requests = {self.limit}\n'
            f"rate_limit_window_seconds = {WINDOW}\n[adapters.hubspot.owners]\n{owners}\n",
            encoding="utf-8",
        )

    def stop(self) -> None:
        self.conn.send(("stop",))
        self.process.join(30)

    def write_source(self) -> None:
        self.source.write_text(
            "".join(c.model_dump_json() + "\n" for c in self.complaints.values()), "utf-8"
        )

    def requests(self) -> int:
        self.conn.send(("requests",))
        return int(self.conn.recv())

    def cpu_seconds(self) -> float:
        """CPU time the emulator's process has used so far."""
        self.conn.send(("cpu",))
        return float(self.conn.recv())

    def check(self, policy: Policy) -> tuple[int, int, int]:
        """Duplicates, lost objects and contract violations in this portal."""
        keys = [
            task_key(c.id, t.kind) for c in self.complaints.values() for t in policy.plan(c).tasks
        ]
        self.conn.send(("check", list(self.complaints), keys))
        duplicates, lost, violations = self.conn.recv()
        return int(duplicates), int(lost), int(violations)

    def worker(self) -> subprocess.Popen[bytes]:
        command = [
            sys.executable, "-m", "crm_complaints", "sync", "--source", str(self.source),
            "--adapter", "hubspot", "--config", str(self.config), "--format", "json",
        ]  # fmt: skip
        env = {**os.environ, "HUBSPOT_ACCESS_TOKEN": DEMO_TOKEN}
        with (self.folder / f"{self.namespace}.log").open("ab") as log:  # never a full pipe
            worker = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        threading.Thread(target=_sample_peak, args=(worker.pid,), daemon=True).start()
        return worker


PEAK_KIB: dict[int, int] = {}


def _sample_peak(pid: int) -> None:
    """A worker's peak RSS: its ``VmHWM`` (the high-water mark of the process's own memory),
    read until it exits. Not ``wait4``'s ``ru_maxrss``: Linux carries the parent's peak over
    into a child at exec, so that would report this benchmark's own memory."""
    status = Path(f"/proc/{pid}/status")
    while True:
        try:
            text = status.read_text()
        except OSError:
            return
        match = next((line for line in text.splitlines() if line.startswith("VmHWM:")), None)
        if match is None:  # a zombie: no memory left to measure
            return
        PEAK_KIB[pid] = max(PEAK_KIB.get(pid, 0), int(match.split()[1]))
        time.sleep(0.02)


def finish(worker: subprocess.Popen[bytes]) -> tuple[int, float, float]:
    """Wait for a worker: its exit code (negative: killed by that signal), peak RSS in MiB and
    CPU seconds (user + system)."""
    time.sleep(0)  # let the sampler read once more
    _, status, usage = os.wait4(worker.pid, 0)
    worker.returncode = os.waitstatus_to_exitcode(status)
    return worker.returncode, PEAK_KIB.get(worker.pid, 0) / 1024, usage.ru_utime + usage.ru_stime


def last_lines(portal: Portal, count: int = 5) -> str:
    """The end of a portal's worker log (ids, counts and errors: no personal data)."""
    lines = (portal.folder / f"{portal.namespace}.log").read_text("utf-8", "replace").splitlines()
    return "\n".join(lines[-count:])


@contextmanager
def schema() -> Iterator[str]:
    """A schema of its own on the test server, as a SQLAlchemy URL; dropped afterwards."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'create schema "{name}"')
    try:
        yield SERVER.replace("postgresql://", "postgresql+psycopg://", 1) + (
            f"?options=-csearch_path%3D{name}"
        )
    finally:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f'drop schema "{name}" cascade')


def database_size(state_url: str) -> tuple[int, int, str]:
    """Rows of every table of the state store's schema, their size on disk (tables, indexes,
    TOAST) in bytes, and the rows per table."""
    name = state_url.rsplit("%3D", 1)[1]
    with psycopg.connect(SERVER) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "select tablename from pg_tables where schemaname = %s order by tablename", (name,)
            )
        ]
        counts = {
            table: int(conn.execute(f'select count(*) from "{name}"."{table}"').fetchone()[0])  # type: ignore[index]
            for table in tables
        }
        size = conn.execute(
            "select sum(pg_total_relation_size(c.oid)) from pg_class c join pg_namespace n "
            "on n.oid = c.relnamespace where n.nspname = %s and c.relkind = 'r'",
            (name,),
        ).fetchone()[0]  # type: ignore[index]
    breakdown = ", ".join(f"{table} {count:,}" for table, count in counts.items() if count)
    return sum(counts.values()), int(size), breakdown


def make_portals(count: int, complaints: int, folder: Path, state_url: str) -> list[Portal]:
    portals = []
    for index in range(count):
        portal = Portal(f"{NAMES[index]}-group", LIMITS[index], folder, state_url)
        # The same ids in every portal: namespaces must keep them apart.
        items = generate(complaints, seed=index, prefix="MP")
        portal.complaints = {c.id: c for c in map(Complaint.model_validate, items)}
        portals.append(portal)
    return portals


def first_syncs(portals: list[Portal], together: bool) -> dict[str, Any]:
    """First syncs, one after another (alone) or all at once; per portal wall, requests, RSS."""
    results: dict[str, Any] = {}
    for portal in portals:
        portal.start()
        portal.write_source()
    emulators_cpu = sum(p.cpu_seconds() for p in portals)
    began = time.perf_counter()
    batches = [portals] if together else [[p] for p in portals]
    for batch in batches:
        started = {p.namespace: (time.perf_counter(), p.requests()) for p in batch}
        workers = {p.namespace: p.worker() for p in batch}
        for portal in batch:
            code, rss, cpu = finish(workers[portal.namespace])
            assert code == 0, f"{portal.namespace}: exit {code}\n{last_lines(portal)}"
            start, before = started[portal.namespace]
            results[portal.namespace] = {
                "wall": time.perf_counter() - start,
                "requests": portal.requests() - before,
                "rss": rss,
                "cpu": cpu,
            }
    results["total"] = time.perf_counter() - began
    results["emulators_cpu"] = sum(p.cpu_seconds() for p in portals) - emulators_cpu
    return results


def second_worker_exit(portal: Portal) -> int:
    """Start a worker with new work (every complaint edited), and once it holds its run lock
    (an advisory lock shows in ``pg_locks``), a second one for the same namespace."""
    for cid in portal.complaints:
        portal.complaints[cid] = portal.complaints[cid].model_copy(update={"summary": "edited"})
    portal.write_source()
    first = portal.worker()
    deadline = time.monotonic() + 60
    with psycopg.connect(SERVER, autocommit=True) as conn:
        query = "select count(*) from pg_locks where locktype = 'advisory' and granted"
        while not conn.execute(query).fetchone()[0] and time.monotonic() < deadline:  # type: ignore[index]
            time.sleep(0.02)
    second = portal.worker()
    code, _, _ = finish(second)
    first_code, _, _ = finish(first)
    assert first_code == 0, f"{portal.namespace}: exit {first_code}\n{last_lines(portal)}"
    return code


def kill_rounds(
    portals: list[Portal], rounds: int, policy: Policy, rng: random.Random
) -> list[Any]:
    """Each round: new and edited complaints everywhere, all workers started, a random subset
    SIGKILLed mid-run, then every portal synced again and checked."""
    report = []
    for number in range(rounds):
        for portal in portals:
            for cid in rng.sample(sorted(portal.complaints), 1000):
                portal.complaints[cid] = portal.complaints[cid].model_copy(
                    update={"summary": f"round {number}"}
                )
            extra = generate(100, seed=1000 + number, prefix=f"MP-R{number:02d}")
            portal.complaints.update({c.id: c for c in map(Complaint.model_validate, extra)})
            portal.write_source()
        before = [p.requests() for p in portals]
        workers = [p.worker() for p in portals]
        victims = rng.sample(range(len(portals)), rng.randint(1, len(portals)))
        for index in victims:  # once its portal sees requests, then a random moment later
            deadline = time.monotonic() + 30
            while portals[index].requests() == before[index] and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 1.0))
            os.kill(workers[index].pid, signal.SIGKILL)  # not Popen.send_signal: it reaps
        codes = [finish(w)[0] for w in workers]
        mid_run = sum(
            1
            for index in victims
            if codes[index] == -signal.SIGKILL and portals[index].requests() > before[index]
        )
        reruns = [p.worker() for p in portals]
        rerun_codes = [finish(w)[0] for w in reruns]
        checks = [p.check(policy) for p in portals]
        report.append((number, len(victims), mid_run, rerun_codes, checks))
        duplicates = sum(c[0] for c in checks)
        lost = sum(c[1] for c in checks)
        print(
            f"  round {number + 1:2}: killed {len(victims)} worker(s) ({mid_run} mid-run), "
            f"reruns exited {rerun_codes}, duplicates {duplicates}, lost {lost}",
            flush=True,
        )
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--portals", type=int, default=4, choices=range(1, len(NAMES) + 1))
    parser.add_argument("--complaints", type=int, default=5_000, help="per portal")
    parser.add_argument("--rounds", type=int, default=10, help="SIGKILL rounds")
    parser.add_argument(
        "--window-seconds",
        type=float,
        default=1.0,
        help="the rate window: 1 (default) runs ten times faster than HubSpot, 10 at its pace",
    )
    args = parser.parse_args()
    global WINDOW
    WINDOW = args.window_seconds
    policy = Policy()
    rng = random.Random(13)
    count = args.portals
    print(
        f"{count} portals x {args.complaints:,} complaints; emulator limits "
        f"{', '.join(str(n) for n in LIMITS[:count])} requests per {WINDOW:g} s (HubSpot: per "
        "10 s), each emulator in its own process, OpenAPI validation off; one sync process "
        "per portal, state on one PostgreSQL",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        with schema() as alone_url:
            alone_portals = make_portals(count, args.complaints, Path(tmp), alone_url)
            try:
                alone = first_syncs(alone_portals, together=False)
            finally:
                for portal in alone_portals:
                    portal.stop()
        with schema() as state_url:
            portals = make_portals(count, args.complaints, Path(tmp), state_url)
            try:
                together = first_syncs(portals, together=True)
                rows, size, breakdown = database_size(state_url)
                locked = second_worker_exit(portals[0])
                report = kill_rounds(portals, args.rounds, policy, rng)
                final = [p.check(policy) for p in portals]
                total_complaints = sum(len(p.complaints) for p in portals)
                final_rows, final_size, _ = database_size(state_url)
            finally:
                for portal in portals:
                    portal.stop()

    print(f"\n{'portal':18}{'limit':>7}{'alone s':>9}{'req/complaint':>15}{'together s':>12}"
          f"{'req/complaint':>15}{'peak RSS MiB':>14}")  # fmt: skip
    for portal in portals:
        a, t = alone[portal.namespace], together[portal.namespace]
        print(
            f"{portal.namespace:18}{portal.limit:>7}{a['wall']:>9.1f}"
            f"{a['requests'] / args.complaints:>15.4f}{t['wall']:>12.1f}"
            f"{t['requests'] / args.complaints:>15.4f}{max(a['rss'], t['rss']):>14.1f}"
        )
    slowest = max(alone[p.namespace]["wall"] for p in portals)
    ratio = together["total"] / slowest
    print(
        f"\nall {count} at once: {together['total']:.1f} s; slowest portal alone: {slowest:.1f} s; "
        f"ratio {ratio:.3f} ({ratio - 1:+.1%}; target within +20 %)"
    )
    alone_rate = sum(alone[p.namespace]["requests"] for p in portals) / (count * args.complaints)
    together_rate = sum(together[p.namespace]["requests"] for p in portals) / (
        count * args.complaints
    )
    print(f"requests per complaint: alone {alone_rate:.4f}, together {together_rate:.4f}")
    workers_cpu = sum(together[p.namespace]["cpu"] for p in portals)
    busy = (workers_cpu + together["emulators_cpu"]) / together["total"]
    print(
        f"CPU of the all-at-once run: workers {workers_cpu:.1f} s, emulators "
        f"{together['emulators_cpu']:.1f} s in {together['total']:.1f} s = {busy:.2f} cores busy "
        f"of this machine's {os.cpu_count()} (the slowest portal alone used "
        f"{max(alone[p.namespace]['cpu'] for p in portals):.1f} s)"
    )
    first_total = count * args.complaints
    print(
        f"state database after the first syncs: {rows:,} rows, {size / 2**20:.1f} MiB for "
        f"{first_total:,} complaints = {rows * 10_000 / first_total:,.0f} rows and "
        f"{size / 2**20 * 10_000 / first_total:.2f} MiB per 10,000 complaints; after the kill "
        f"rounds: {final_rows:,} rows, {final_size / 2**20:.1f} MiB for {total_complaints:,} "
        f"(rows after the first syncs: {breakdown})"
    )
    peak = max(max(alone[p.namespace]["rss"], together[p.namespace]["rss"]) for p in portals)
    print(f"peak RSS per sync worker: {peak:.1f} MiB (largest of {2 * count} first syncs)")
    print(f"a second worker for {portals[0].namespace} while the first ran: exit {locked} (want 4)")
    mid_run = sum(r[2] for r in report)
    duplicates = sum(c[0] for c in final) + sum(sum(c[0] for c in r[4]) for r in report)
    lost = sum(c[1] for c in final) + sum(sum(c[1] for c in r[4]) for r in report)
    violations = sum(c[2] for c in final)
    print(
        f"{args.rounds} SIGKILL rounds, {sum(r[1] for r in report)} workers killed "
        f"({mid_run} mid-run): duplicates {duplicates}, lost {lost} (want 0 and 0 in every "
        f"portal); contract violations {violations}"
    )


if __name__ == "__main__":
    main()
