"""Benchmark: read + validate + decompose 1,000,000 session rows (goal: under 5 s on the 2-core machine).

Run: .venv/bin/python benchmarks/bench_foundation.py   (writes benchmarks/results/foundation.md)
Peers on the same data in the same run: pandas read_csv alone (the floor for reading) and a plain pandas
groupby-transform decomposition (what a hand-written script does, without validation).
"""
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import allianceStats as als

RESULTS = Path(__file__).resolve().parent / "results" / "foundation.md"


def make_rows(n_rows=1_000_000, seed=1):
    rng = np.random.default_rng(seed)
    n_clients = n_rows // 20
    client = np.repeat(np.arange(n_clients), 20)
    session = np.tile(np.arange(1, 21), n_clients)
    return pd.DataFrame({"therapist": (client // 25).astype(str), "client": client.astype(str), "session": session,
                         "alliance": np.clip(3.5 + rng.normal(0, 0.5, n_rows), 1, 5),
                         "outcome": np.clip(50 + rng.normal(0, 10, n_rows), 0, 100)})


def timed(fn, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    data = make_rows()
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "sessions.csv"
        pq = Path(tmp) / "sessions.parquet"
        data.to_csv(csv, index=False)
        data.to_parquet(pq)

        def ours(path):
            return lambda: als.decompose(als.read_sessions(path), ["alliance", "outcome"], therapist="therapist")

        def hand():
            d = pd.read_csv(csv)
            for v in ("alliance", "outcome"):
                m = d.groupby("client")[v].transform("mean")
                d[f"{v}_within"] = d[v] - m
                d[f"{v}_lag1"] = d.groupby("client")[f"{v}_within"].shift(1)

        rows = {
            "allianceStats: read_sessions(CSV) + decompose": timed(ours(csv)),
            "allianceStats: read_sessions(Parquet) + decompose": timed(ours(pq)),
            "allianceStats: read_sessions(DataFrame) + decompose": timed(ours(data)),
            "pandas: read_csv only": timed(lambda: pd.read_csv(csv)),
            "pandas: read_csv + groupby person-mean + shift (no validation)": timed(hand),
        }
    base = rows["pandas: read_csv + groupby person-mean + shift (no validation)"]
    lines = ["# Foundation benchmark: 1,000,000 rows (50,000 clients x 20 sessions), best of 3", "",
             f"Machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
             f"pandas {pd.__version__}; 2 cores, 1-minute load average {os.getloadavg()[0]:.1f} at the end. "
             "Goal: read + validate + decompose under 5 s.", "",
             "| step | seconds | ratio to hand-written pandas |", "| --- | ---: | ---: |"]
    lines += [f"| {k} | {v:.2f} | {v / base:.2f} |" for k, v in rows.items()]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
