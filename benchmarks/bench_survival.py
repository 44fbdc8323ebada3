"""Benchmark: survival (issue 15) — counting-process Cox at 1,000,000 intervals beside R's coxph, and the joint model.

Goals: ``fit_cox`` on 1,000,000 (start, stop] intervals in at most 2x the time of R ``survival::coxph`` (compiled
C) on the same data in the same run; the joint model on ``aids``-size data in at most 0.25x JM's time, and
10,000 clients in under a minute.

Run: .venv/bin/python benchmarks/bench_survival.py [--n-intervals 1000000] [--repeat 3] [--skip-joint]
(``--exact``: only fit_cox(ties='exact') beside coxph(ties = 'exact') on weekly times, row printed)
(writes benchmarks/results/survival.md). R rows say "not run" without Rscript; the JM row needs JM in a
library on ``R_LIBS`` (``R_LIBS=/tmp/rlib .venv/bin/python benchmarks/bench_survival.py``; see
tests/survival/fixtures/make_joint_fixture.R).

Data: 100,000 clients (for 10^6 intervals) with ten (start, stop] intervals each of random length in days,
four covariates (one of them fixed per client), a hazard exp(x'beta) and events only at interval ends, the last
interval of a client with an event being cut there. Timings are the best of ``--repeat`` runs; R's time is
``system.time(coxph(...))`` after the data are read (reading is not timed on either side).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rscript import run_r_script

from allianceStats.survival import fit_cox

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "survival.md"
FORMULA = "Surv(start, stop, event) ~ x1 + x2 + x3 + x4"


def make_intervals(n_intervals: int, per_client: int = 10, seed: int = 15, continuous: bool = False) -> pd.DataFrame:
    """At least ``n_intervals`` counting-process rows (whole clients) with coefficients (0.3, -0.2, 0.1, 0); interval
    lengths in whole days (many tied event times) or, with ``continuous``, in fractions of a day (few ties)."""
    rng = np.random.default_rng(seed)
    n_cl = int(np.ceil(n_intervals / per_client / 0.8))
    client = np.repeat(np.arange(n_cl), per_client)
    width = (rng.uniform(3, 15, size=n_cl * per_client) if continuous
             else rng.integers(3, 15, size=n_cl * per_client).astype(float))
    stop = pd.Series(width).groupby(client).cumsum().to_numpy()
    start = np.where(np.r_[True, client[1:] != client[:-1]], 0.0, np.r_[0.0, stop[:-1]])
    x = rng.normal(size=(n_cl * per_client, 4))
    x[:, 3] = np.repeat(rng.normal(size=n_cl), per_client)  # a client-level covariate
    rate = 0.004 * np.exp(x @ np.array([0.3, -0.2, 0.1, 0.0]))
    hit = rng.random(n_cl * per_client) < 1 - np.exp(-rate * width)
    first = pd.Series(hit.astype(int)).groupby(client).cumsum().to_numpy()
    keep = (first == 0) | ((first == 1) & hit)
    keep &= pd.Series(keep).groupby(client).cummin().to_numpy()
    out = pd.DataFrame({"client": client, "start": start, "stop": stop, "event": hit.astype(int),
                        "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2], "x4": x[:, 3]})[keep]
    last_client = out["client"].iloc[n_intervals - 1]  # whole clients, at least n_intervals rows
    return out[out["client"] <= last_client].reset_index(drop=True)


def timed(fn, repeat: int):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def r_coxph_seconds(path: str, repeat: int) -> tuple[float | None, list[float] | None, str]:
    if shutil.which("Rscript") is None:
        return None, None, "Rscript not found"
    script = f"""
suppressPackageStartupMessages(library(survival))
d <- read.csv("{path}")
best <- Inf
for (i in seq_len({repeat})) {{
  t <- system.time(f <- coxph({FORMULA}, data = d))[["elapsed"]]
  best <- min(best, t)
}}
tc <- system.time(fc <- coxph({FORMULA}, data = d, cluster = client))[["elapsed"]]
cat("SECONDS", best, "\\n"); cat("CLUSTER", tc, "\\n"); cat("COEF", coef(f), "\\n")
cat("VERSION", as.character(packageVersion("survival")), "\\n")
"""
    out, vals = run_r_script(script)
    if out.returncode != 0 or "SECONDS" not in vals:
        return None, None, out.stderr[-300:]
    return (float(vals["SECONDS"][0]), [float(v) for v in vals["COEF"]],
            f"survival {vals['VERSION'][0]}; clustered fit {float(vals['CLUSTER'][0]):.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-intervals", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-joint", action="store_true")
    ap.add_argument("--joint-baseline", choices=["weibull", "spline"],
                    help="measure only the joint model on aids with this baseline beside JM and print its row "
                         "(results/survival.md is not rewritten)")
    ap.add_argument("--exact", action="store_true",
                    help="measure only fit_cox(ties='exact') beside coxph(ties = 'exact') on weekly relapse times "
                         "and print its row (results/survival.md is not rewritten)")
    args = ap.parse_args()
    if args.joint_baseline:
        print(format_row(baseline_row(args.joint_baseline, args.repeat)))
        return
    if args.exact:
        print(format_row(exact_row(args.repeat)))
        return
    rows = []
    for continuous in (False, True):
        data = make_intervals(args.n_intervals, continuous=continuous)
        ours, fit = timed(lambda d=data: fit_cox(d, FORMULA), args.repeat)
        ours_cl, _ = timed(lambda d=data: fit_cox(d, FORMULA, client="client"), 1)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "intervals.csv")
            data.to_csv(path, index=False)
            r_sec, r_coef, note = r_coxph_seconds(path, args.repeat)
        agree = "" if r_coef is None else \
            f"; max abs coefficient difference {np.max(np.abs(fit.params['estimate'] - r_coef)):.1e}"
        times = "times in fractions of a day" if continuous else "times in whole days"
        rows.append((f"Cox, Efron, {len(data):,} intervals, {int(data['event'].sum()):,} events, "
                     f"{data['stop'][data['event'] == 1].nunique():,} distinct event times ({times})", ours, r_sec,
                     note.split(";")[0] + agree))
        r_cl = None if r_sec is None else float(note.split("clustered fit ")[1].split(" s")[0])
        rows.append(("same, robust SEs clustered by client (one run each)", ours_cl, r_cl, ""))
    if not args.skip_joint:
        rows += joint_rows(args.repeat)
    load = os.getloadavg()[1] if hasattr(os, "getloadavg") else float("nan")
    lines = ["# Survival benchmarks (issue 15)", "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, shared with other "
             f"jobs while measured (5-minute load average {load:.1f} at the end of the run); Python "
             f"{platform.python_version()}. Best of {args.repeat} runs unless noted; R's time is "
             "`system.time(coxph(...))` after reading the data (JM: lme + coxph + jointModel). Both sides ran "
             "under the same load, one after the other; ratios are indicative.", "",
             "| task | allianceStats (s) | R (s) | ratio ours / R | note |", "| --- | ---: | ---: | ---: | --- |"]
    lines += [format_row(row) for row in rows]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def format_row(row: tuple) -> str:
    name, t_ours, t_r, note = row
    ratio = "" if t_r is None or t_ours is None else f"{t_ours / t_r:.2f}"
    return (f"| {name} | {'' if t_ours is None else f'{t_ours:.2f}'} | "
            f"{'not run' if t_r is None else f'{t_r:.2f}'} | {ratio} | {note} |")


def r_jm_seconds(path: str, repeat: int, method: str = "piecewise-PH-aGH") -> tuple[float | None, str]:
    """JM's jointModel (``method``: piecewise-PH-aGH, weibull-PH-aGH or spline-PH-aGH) on aids.csv, best of
    ``repeat``; needs JM on R_LIBS."""
    if shutil.which("Rscript") is None:
        return None, "Rscript not found"
    script = f"""
ok <- suppressWarnings(suppressPackageStartupMessages(requireNamespace("JM", quietly = TRUE)))
if (!ok) {{ cat("NOJM\n"); quit(status = 0) }}
suppressPackageStartupMessages(library(JM))
a <- read.csv("{path}"); a$drug <- factor(a$drug); a$patient <- factor(a$patient, levels = unique(a$patient))
a.id <- a[!duplicated(a$patient), ]
best <- Inf
for (i in seq_len({repeat})) {{
  t <- system.time({{
    lmeFit <- lme(CD4 ~ obstime + obstime:drug, random = ~ obstime | patient, data = a)
    coxFit <- coxph(Surv(Time, death) ~ drug, data = a.id, x = TRUE)
    jf <- jointModel(lmeFit, coxFit, timeVar = "obstime", method = "{method}")
  }})[["elapsed"]]
  best <- min(best, t)
}}
cat("SECONDS", best, "\n"); cat("LOGLIK", format(jf$logLik, digits = 15), "\n")
cat("VERSION", as.character(packageVersion("JM")), "\n")
"""
    out, vals = run_r_script(script)
    if "NOJM" in out.stdout:
        return None, "JM not installed (see tests/survival/fixtures/make_joint_fixture.R; set R_LIBS)"
    if out.returncode != 0 or "SECONDS" not in vals:
        return None, out.stderr[-300:]
    return float(vals["SECONDS"][0]), f"JM {vals['VERSION'][0]}, logLik {float(vals['LOGLIK'][0]):.4f}"


def joint_rows(repeat: int) -> list:
    """fit_joint on JM's aids data beside JM (the lme, coxph and jointModel calls all timed on R's side; the
    whole fit_joint call, LMM start included, on ours) with the piecewise, Weibull and spline baselines, and on
    10,000 simulated clients (ours only)."""
    import warnings

    from allianceStats.simulate.relapse import relapse_times
    from allianceStats.survival import fit_joint

    aids_path = HERE.parent / "tests" / "survival" / "fixtures" / "aids.csv"
    aids = pd.read_csv(aids_path)
    events = aids.groupby("patient", sort=False).first().reset_index()[["patient", "Time", "death", "drug"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, fit = timed(lambda: fit_joint(aids, "CD4 ~ obstime + obstime:drug + (obstime | patient)", events,
                                            "Surv(Time, death) ~ drug", client="patient", session="obstime"),
                          repeat)
        r_sec, note = r_jm_seconds(str(aids_path), repeat)
        wb = baseline_row("weibull", repeat)
        sp = baseline_row("spline", repeat)
        sessions, ev, truth = relapse_times(10_000, seed=11)
        big, bfit = timed(lambda: fit_joint(sessions, "alliance ~ week + (week | client)", ev,
                                            "Surv(time, relapse) ~ female", session="week"), 1)
    rows = [(f"joint model, aids ({fit.n_obs:,} measurements, {fit.n_clients} clients), piecewise-PH-aGH",
             ours, r_sec, f"{note}; ours logLik {fit.loglik:.4f}"),
            wb, sp,
            (f"joint model, 10,000 simulated clients ({bfit.n_obs:,} measurements, {bfit.n_quadrature} points per "
             f"random effect; one run)", big, None,
             f"association {bfit.association:.3f} (truth {truth['alpha']}); JM not run at this size")]
    return rows


def baseline_row(baseline: str, repeat: int) -> tuple:
    """fit_joint(..., baseline=``baseline``) beside JM's ``<baseline>-PH-aGH`` on aids (JM's default knots)."""
    import warnings

    from allianceStats.survival import fit_joint

    aids_path = HERE.parent / "tests" / "survival" / "fixtures" / "aids.csv"
    aids = pd.read_csv(aids_path)
    events = aids.groupby("patient", sort=False).first().reset_index()[["patient", "Time", "death", "drug"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, fit = timed(lambda: fit_joint(aids, "CD4 ~ obstime + obstime:drug + (obstime | patient)", events,
                                            "Surv(Time, death) ~ drug", client="patient", session="obstime",
                                            baseline=baseline), repeat)
    r_sec, note = r_jm_seconds(str(aids_path), repeat, method=f"{baseline}-PH-aGH")
    return (f"joint model, aids ({fit.n_obs:,} measurements, {fit.n_clients} clients), {baseline}-PH-aGH", ours,
            r_sec, f"{note}; ours logLik {fit.loglik:.4f}")


def exact_row(repeat: int, n_clients: int = 2000, seed: int = 16) -> tuple:
    """fit_cox(ties='exact') beside coxph(ties = 'exact') (R's coxexact.fit, compiled C) on right-censored relapse
    times recorded in whole weeks (1-52): ``n_clients`` clients, three covariates, many deaths per week."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_clients, 3))
    t = rng.exponential(30 * np.exp(-x @ np.array([0.4, -0.3, 0.0])))
    week = np.minimum(np.ceil(t), 52)
    data = pd.DataFrame({"week": week, "relapse": (t <= 52).astype(int), "x1": x[:, 0], "x2": x[:, 1],
                         "x3": x[:, 2]})
    formula = "Surv(week, relapse) ~ x1 + x2 + x3"
    ours, fit = timed(lambda: fit_cox(data, formula, ties="exact"), repeat)
    r_sec, note = None, "Rscript not found"
    if shutil.which("Rscript") is not None:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "weeks.csv")
            data.to_csv(path, index=False)
            script = (f'suppressPackageStartupMessages(library(survival)); d <- read.csv("{path}"); best <- Inf\n'
                      f'for (i in seq_len({repeat})) {{ t <- system.time(f <- coxph({formula}, data = d, '
                      f'ties = "exact"))[["elapsed"]]; best <- min(best, t) }}\n'
                      'cat("SECONDS", best, "\\n"); cat("COEF", coef(f), "\\n")\n')
            out, vals = run_r_script(script)
        if out.returncode == 0 and "SECONDS" in vals:
            r_sec = float(vals["SECONDS"][0])
            diff = np.max(np.abs(fit.params["estimate"].to_numpy() - np.array(vals["COEF"], float)))
            note = f"survival coxexact.fit; max abs coefficient difference {diff:.1e}"
        else:
            note = out.stderr[-300:]
    d = data.loc[data["relapse"] == 1, "week"].value_counts()
    return (f"Cox, exact ties, {len(data):,} clients, {int(data['relapse'].sum()):,} relapses in {len(d)} weeks "
            f"(up to {d.max()} per week)", ours, r_sec, note)


if __name__ == "__main__":
    main()
