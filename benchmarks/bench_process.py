"""Benchmark: process research (issue 17) — lag tables, permutation test, windowed cross-correlation.

Goals: lag-sequential tables for 1,000,000 coded events under 1 s; a 1,000-permutation test on 10,000 events
under 5 s (free shuffles, and the constrained swap chain with structural zeros); synchrony of a 10-minute 25 Hz
dyad in at most 0.1 x rMEA's time. The time-based rows (table-wide G^2, permutations) have no goal yet.

Run: .venv/bin/python benchmarks/bench_process.py   (writes benchmarks/results/process.md)
Peers in the same run, when R and the CRAN-only packages are installed (``R_LIBS`` pointing at a library with
LagSequential and rMEA, see tests/process/fixtures/README.md): ``LagSequential::sequential`` on the same 10,000
events (its transition tally is an R loop, so 1,000,000 events are out of its reach) and ``rMEA::MEAccf`` on the
same dyad (rMEA's shipped dyad 200). Without them the R rows say "not run".
"""
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rscript import run_r_script

from allianceStats.process import lag_sequential, window_cross_correlation

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "process.md"
FIXTURES = HERE.parent / "tests" / "process" / "fixtures"


def make_events(n_events, n_codes=20, per_session=500, seed=1, no_repeats=False):
    rng = np.random.default_rng(seed)
    n_sessions = n_events // per_session
    codes = rng.integers(0, n_codes, n_events)
    if no_repeats:  # each code drawn among the n_codes - 1 others than the previous one (repeats merged)
        step = rng.integers(1, n_codes, n_events)
        step[::per_session] = codes[::per_session]
        codes = (np.cumsum(step.reshape(n_sessions, per_session), axis=1) % n_codes).ravel()
    return pd.DataFrame({"client": np.repeat(np.arange(n_sessions) // 4, per_session),
                         "session": np.repeat(np.arange(n_sessions) % 4 + 1, per_session),
                         "order": np.tile(np.arange(1, per_session + 1), n_sessions),
                         "code": np.array([f"c{i:02d}" for i in range(n_codes)])[codes]})


def make_timed_events(n_events, n_codes=6, per_session=500, seed=2):
    """One stream of non-overlapping events per session: exponential gaps (mean 1 s), durations 0.5-4 s."""
    rng = np.random.default_rng(seed)
    ev = make_events(n_events, n_codes=n_codes, per_session=per_session, seed=seed)
    gap, dur = rng.exponential(1.0, n_events), rng.uniform(0.5, 4.0, n_events)
    end = np.cumsum((gap + dur).reshape(-1, per_session), axis=1).ravel()
    return ev.assign(onset=end - dur, offset=end)


def timed(fn, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def r_seconds(script: str) -> float | None:
    """Seconds R reports for ``script`` (which prints ``SECONDS <s>``), or None without R / the package."""
    if shutil.which("Rscript") is None:
        return None
    out, keys = run_r_script(script, timeout=600)
    return float(keys["SECONDS"][0]) if out.returncode == 0 and "SECONDS" in keys else None


def main():
    rows = []
    big = make_events(1_000_000)
    t_big = timed(lambda: lag_sequential(big))
    rows.append(("lag_sequential, 1,000,000 events, 20 codes, lag 1 (text codes)", t_big, "< 1 s"))
    big_cat = big.assign(code=big["code"].astype("category"))
    rows.append(("lag_sequential, 1,000,000 events (categorical codes)", timed(lambda: lag_sequential(big_cat)),
                 "< 1 s"))
    rows.append(("lag_sequential, 1,000,000 events, per_session=True (2,000 sessions)",
                 timed(lambda: lag_sequential(big, per_session=True), repeat=1), ""))
    small = make_events(10_000, n_codes=6)
    t_perm = timed(lambda: lag_sequential(small, n_draws=1000, seed=1), repeat=1)
    rows.append(("lag_sequential, 10,000 events, 1,000 within-session permutations", t_perm, "< 5 s"))
    t_small = timed(lambda: lag_sequential(small))
    rows.append(("lag_sequential, 10,000 events (no permutations)", t_small, ""))
    merged = make_events(10_000, n_codes=6, no_repeats=True)
    rows.append(("lag_sequential, 10,000 events, no code follows itself: 1,000 constrained permutations (swap "
                 "chain, structural_zeros='diagonal')",
                 timed(lambda: lag_sequential(merged, structural_zeros="diagonal", n_draws=1000, seed=1), repeat=1),
                 "< 5 s"))
    timed_events = make_timed_events(10_000, n_codes=6)
    rows.append(("lag_sequential, time-based, 10,000 events (window 3 s, 1-s units), with the table-wide G^2",
                 timed(lambda: lag_sequential(timed_events, window=3.0)), ""))
    rows.append(("lag_sequential, time-based, the same events, 1,000 permutations (events reordered within "
                 "sessions)", timed(lambda: lag_sequential(timed_events, window=3.0, n_draws=1000, seed=1),
                                    repeat=1), ""))

    with tempfile.TemporaryDirectory() as tmp:
        seq = Path(tmp) / "seq.csv"
        small["code"].str[1:].astype(int).add(1).to_frame("code").to_csv(seq, index=False)
        t_ls = r_seconds(f"""suppressPackageStartupMessages(library(LagSequential))
x <- as.matrix(read.csv("{seq}")$code)
t0 <- proc.time()[["elapsed"]]; invisible(capture.output(sequential(x))); t1 <- proc.time()[["elapsed"]]
cat("SECONDS", t1 - t0, "\\n")""")

    dyads = pd.read_csv(FIXTURES / "rmea_dyads.csv.gz", dtype={"dyad": str})
    d200 = dyads[dyads["dyad"] == "200"]
    x, y = d200["patient"].to_numpy(float), d200["therapist"].to_numpy(float)
    settings = dict(sampling_rate=25, lag_seconds=5, window_seconds=60, step_seconds=30)
    t_ccf = timed(lambda: window_cross_correlation(x, y, **settings), repeat=5)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "200_01.txt"
        d200[["patient", "therapist"]].to_csv(path, sep=" ", index=False)
        t_rmea = r_seconds(f"""suppressPackageStartupMessages(library(rMEA))
invisible(capture.output(m <- readMEA("{path}", sampRate = 25, s1Col = 1, s2Col = 2, skip = 1,
                                      idOrder = c("id", "session"), idSep = "_")))
best <- Inf
for (i in 1:3) {{ t0 <- proc.time()[["elapsed"]]
  invisible(capture.output(MEAccf(m, lagSec = 5, winSec = 60, incSec = 30, r2Z = TRUE, ABS = TRUE)))
  best <- min(best, proc.time()[["elapsed"]] - t0) }}
cat("SECONDS", best, "\\n")""")

    def fmt(v):
        return "not run" if v is None else f"{v:.3f}"

    load = os.getloadavg()[0]
    lines = [
        "# Process benchmark (issue 17): lag-sequential tables, permutation test, windowed cross-correlation",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, pandas {pd.__version__}, numpy "
        f"{np.__version__}; 2 cores, 1-minute load average {load:.1f} at the end. Best of 3 unless noted.",
        "",
        "| step | seconds | goal |",
        "| --- | ---: | --- |",
        *[f"| {name} | {sec:.3f} | {goal} |" for name, sec, goal in rows],
        f"| LagSequential::sequential (R), the same 10,000 events (one sequence) | {fmt(t_ls)} | "
        f"{'' if t_ls is None else f'ratio ours / R: {t_small / t_ls:.3f}'} |",
        f"| window_cross_correlation, rMEA dyad 200 (10 min, 25 Hz; lag 5 s, window 60 s, step 30 s), best of 5 | "
        f"{t_ccf:.4f} | <= 0.1 x rMEA |",
        f"| rMEA::MEAccf (R), the same dyad and settings | {fmt(t_rmea)} | "
        f"{'' if t_rmea is None else f'ratio ours / rMEA: {t_ccf / t_rmea:.3f}'} |",
        "",
        "LagSequential tallies one sequence (it has no sessions), so its row times the 10,000 events as one stream;",
        "ours counts within sessions. Both rows include the expected frequencies, adjusted residuals and Yule's Q.",
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
