"""Throughput of validate + plan, and peak memory as the input grows (it must stay flat).

Prints complaints/s for 100,000 generated complaints and the peak RSS of separate child
processes reading 100,000 and 1,000,000 complaints. Targets: ≥ 10,000/s; memory flat.
Usage: python benchmarks/plan.py [--count 100000] [--memory-count 1000000]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import write_jsonl

from crm_complaints.config import load_settings
from crm_complaints.policy import Policy
from crm_complaints.readers import QuarantineEntry, read_complaints

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "config.toml"


def run(path: Path) -> tuple[int, int, float]:
    policy = Policy.from_settings(load_settings(EXAMPLE_CONFIG))
    planned = quarantined = 0
    began = time.perf_counter()
    for result in read_complaints(path):
        if isinstance(result, QuarantineEntry):
            quarantined += 1
        else:
            policy.plan(result)
            planned += 1
    return planned, quarantined, time.perf_counter() - began


def child(path: Path) -> None:
    planned, _, _ = run(path)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{planned} {peak_kib}")


def peak_memory(path: Path) -> tuple[int, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return int(out[0]), int(out[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--memory-count", type=int, default=1_000_000)
    parser.add_argument("--child", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        small = write_jsonl(Path(tmp) / "small.jsonl", args.count)
        planned, quarantined, seconds = run(small)
        print(f"validate+plan: {planned:,} complaints in {seconds:.2f} s")
        print(f"throughput:    {planned / seconds:,.0f} complaints/s (target ≥ 10,000/s)")
        print(f"quarantined:   {quarantined}")
        small_n, small_mib = peak_memory(small)
        del small
        big = write_jsonl(Path(tmp) / "big.jsonl", args.memory_count, seed=11)
        big_n, big_mib = peak_memory(big)
        print(f"peak RSS:      {small_n:,} complaints → {small_mib:.1f} MiB")
        print(f"peak RSS:      {big_n:,} complaints → {big_mib:.1f} MiB")
        growth = big_mib / small_mib - 1
        print(f"memory growth: {growth:+.1%} for {big_n / small_n:.0f}× the input (target: flat)")


if __name__ == "__main__":
    main()
