"""Benchmark: allianceStats.anova (type III F tests, Satterthwaite and Kenward-Roger df) against lmerTest's
anova() (R, via Rscript), same data, same run.

Data (seeded): therapists randomised to a training programme (MI / TAU, alternating), clients with a 3-level stage
factor, sessions; outcome with therapist and client effects and client slopes. Model, REML:
    y ~ training * session0 + stage + (1 + session0 | therapist:client) + (1 | therapist)
Sets: 12 therapists x 6 clients x 8 sessions (576 rows) and 30 x 10 x 8 (2,400 rows).

Two timings per row, both measured in the same run, best of --repeats, each repeat and ddf on a fresh fit (so
nothing computed by an earlier anova() call is reused):
* the anova() call on a fitted model. lmerTest's lmer() computes the derivatives Satterthwaite's df need (the
  Hessian of the deviance and the Jacobian of cov(beta)) when it fits, and anova() reuses them; fit_mlm does the
  same (it computes them for the df of `params` and keeps them on the result). Kenward-Roger's adjusted
  covariance (pbkrtest's vcovAdj) is computed by the first KR anova() call on both sides. The second call on
  the same fit is shown too (ours keeps the hypothesis matrices and the KR covariance on the fit; lmerTest
  recomputes them).
* fit + anova: fit_mlm(...) then anova(), against lmerTest's lmer(...) then anova().
The agreement of the two tables in the same run is reported beside the times (largest relative difference of F
and of the denominator df over the terms; lme4 stops at its default optimiser tolerance, about 1e-5 from the
optimum, which bounds that agreement). Without Rscript the lmerTest columns are skipped with a printed note.

Run:  .venv/bin/python benchmarks/bench_anova.py [--quick]    (writes benchmarks/results/anova.md)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from allianceStats.mixed import anova, fit_mlm

OUT = Path(__file__).resolve().parent / "results" / "anova.md"
FORMULA = "y ~ training * session0 + stage + (1 + session0 | therapist:client) + (1 | therapist)"


def make_data(n_therapists: int, clients_per: int, sessions: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    m = n_therapists * clients_per
    ther = np.repeat(np.arange(n_therapists), clients_per)
    c = np.repeat(np.arange(m), sessions)
    s = np.tile(np.arange(sessions), m).astype(float)
    # z @ chol(S)^T, not rng.multivariate_normal (whose SVD depends on LAPACK): the same data on every machine
    b = rng.standard_normal((m, 2)) @ np.linalg.cholesky(np.array([[16.0, -0.3], [-0.3, 0.36]])).T
    u = rng.normal(0, 2.5, n_therapists)
    training = np.where(ther % 2 == 0, "MI", "TAU")
    stage = rng.choice(["precontemplation", "contemplation", "action"], m)
    stage_eff = pd.Series({"precontemplation": 3.0, "contemplation": 0.0, "action": -2.0})[stage].to_numpy()
    y = (30 + u[ther[c]] + b[c, 0] + stage_eff[c] + (-0.9 - 0.6 * (training[c] == "MI") + b[c, 1]) * s
         + rng.normal(0, 3, m * sessions))
    return pd.DataFrame({"therapist": np.char.add("T", ther[c].astype(str)),
                         "client": np.char.add("c", (c % clients_per).astype(str)),     # ids reused per therapist
                         "training": training[c], "stage": stage[c], "session0": s, "y": y})


def time_ours(data: pd.DataFrame, repeats: int) -> dict:
    """Best-of-``repeats`` seconds of fit_mlm, and of the first and second anova() call per ddf on that fit."""
    best = {k: np.inf for k in ("fit", "satterthwaite", "satterthwaite_again", "kenward-roger",
                                "kenward-roger_again")}
    tables = {}
    for _ in range(repeats):
        for ddf in ("satterthwaite", "kenward-roger"):     # a fresh fit for each: the first call pays in full
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = time.perf_counter()
                fit = fit_mlm(data, FORMULA)
                best["fit"] = min(best["fit"], time.perf_counter() - t)
            for key in (ddf, f"{ddf}_again"):
                t = time.perf_counter()
                tables[key] = anova(fit, ddf=ddf).table
                best[key] = min(best[key], time.perf_counter() - t)
        for ddf in ("satterthwaite", "kenward-roger"):     # the second call gives the same table
            pd.testing.assert_frame_equal(tables[ddf], tables[f"{ddf}_again"])
    return {"times": best, "tables": tables}


R_SCRIPT = r"""
suppressPackageStartupMessages({library(lmerTest); library(pbkrtest); library(jsonlite)})
args <- commandArgs(TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
seconds <- function(t0) as.numeric(difftime(Sys.time(), t0, units = "secs"))
out <- list(lmerTest = as.character(packageVersion("lmerTest")), pbkrtest = as.character(packageVersion("pbkrtest")),
            R = R.version.string)
best <- c(fit = Inf, Satterthwaite = Inf, `Kenward-Roger` = Inf)
for (i in seq_len(as.integer(args[3]))) {
  t0 <- Sys.time(); m <- lmer(as.formula(args[2]), data = d, REML = TRUE)   # lmerTest's lmer: + derivatives
  best[["fit"]] <- min(best[["fit"]], seconds(t0))
  for (ddf in c("Satterthwaite", "Kenward-Roger")) {
    t0 <- Sys.time(); a <- anova(m, type = 3, ddf = ddf)
    best[[ddf]] <- min(best[[ddf]], seconds(t0))
    out[[ddf]] <- list(term = rownames(a), F = a[["F value"]], den_df = a$DenDF)
  }
}
for (ddf in c("Satterthwaite", "Kenward-Roger")) out[[ddf]]$time <- best[[ddf]]
out$fit_time <- best[["fit"]]
cat(toJSON(out, digits = NA, auto_unbox = TRUE))
"""


def run_lmertest(data: pd.DataFrame, repeats: int):
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv, script = Path(tmp) / "d.csv", Path(tmp) / "anova.R"
        data.to_csv(csv, index=False)
        script.write_text(R_SCRIPT)
        proc = subprocess.run(["Rscript", str(script), str(csv), FORMULA, str(repeats)], capture_output=True,
                              text=True)
    if proc.returncode != 0:
        print("lmerTest run failed:", proc.stderr[-500:])
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def agreement(ours: pd.DataFrame, theirs: dict) -> tuple[float, float]:
    ref = pd.DataFrame({"term": theirs["term"], "F": theirs["F"], "den_df": theirs["den_df"]}).set_index("term")
    got = ours.set_index("term").loc[ref.index]
    return (float(np.max(np.abs(got.F / ref.F - 1))), float(np.max(np.abs(got.den_df / ref.den_df - 1))))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the small set only (a smoke run)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    sets = [("12 therapists", make_data(12, 6, 8, 1))]
    if not args.quick:
        sets.append(("30 therapists", make_data(30, 10, 8, 2)))
    if shutil.which("Rscript") is None:
        print("NOTE: Rscript not found; the lmerTest columns are skipped.")
    rows, versions = [], "lmerTest not run (no Rscript)"
    for name, data in sets:
        r = run_lmertest(data, args.repeats)
        ours = time_ours(data, args.repeats)
        if r:
            versions = f"lmerTest {r['lmerTest']}, pbkrtest {r['pbkrtest']}, {r['R']}"
        t = ours["times"]
        for ddf, rkey in (("satterthwaite", "Satterthwaite"), ("kenward-roger", "Kenward-Roger")):
            theirs = r[rkey] if r else None
            dF, dden = agreement(ours["tables"][ddf], theirs) if theirs else (np.nan, np.nan)
            row = {"data": name, "rows": len(data), "ddf": ddf, "ours_s": t[ddf], "ours_again_s": t[f"{ddf}_again"],
                   "lmerTest_s": theirs["time"] if theirs else np.nan,
                   "ours_fit_s": t["fit"] + t[ddf], "lmer_fit_s": r["fit_time"] + theirs["time"] if theirs else np.nan,
                   "F_rel": dF, "den_df_rel": dden}
            row["ratio"] = row["ours_s"] / row["lmerTest_s"]
            row["fit_ratio"] = row["ours_fit_s"] / row["lmer_fit_s"]
            rows.append(row)
            print(json.dumps(row, default=float))
    lines = ["# Tests of terms benchmark (benchmarks/bench_anova.py)", "",
             f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}; Python {platform.python_version()}; "
             f"{versions}.",
             f"{os.cpu_count()} cores; load average at the end of the run {os.getloadavg()[0]:.1f} (the machine may be "
             "shared: compare the ratios, which come from the same run, not the absolute times).",
             f"Model (REML): `{FORMULA}`. Seconds, best of {args.repeats} repeats, each repeat and ddf "
             "on a fresh fit.",
             "",
             "* `anova`: the type III anova() call on a fitted model (the first call on that fit). Both fits already "
             "hold what Satterthwaite's df need: lmerTest's lmer() computes the deviance Hessian and the Jacobian of "
             "cov(beta) when it fits, and so does fit_mlm (for the df of `params`), and anova() reuses them. "
             "Kenward-Roger's adjusted covariance is computed by the first KR call on both sides (pbkrtest's vcovAdj).",
             "* `again`: a second anova() call on the same fit (ours keeps the hypothesis matrices and the KR "
             "covariance on the fit; lmerTest recomputes them, so its second call costs its first).",
             "* `fit + anova`: fit_mlm() then anova(), against lmerTest's lmer() then anova(); both fits include the "
             "derivative step.",
             "* `F rel` / `den df rel`: largest relative difference from lmerTest's table in the same run.", "",
             "| data | rows | ddf | anova: ours s | again: ours s | anova: lmerTest s | ours/lmerTest | "
             "fit + anova: ours s | lmer + anova s | ours/lmerTest | F rel | den df rel |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['data']} | {r['rows']:,} | {r['ddf']} | {r['ours_s']:.4f} | {r['ours_again_s']:.4f} | "
                     f"{r['lmerTest_s']:.4f} | {r['ratio']:.2f} | {r['ours_fit_s']:.3f} | {r['lmer_fit_s']:.3f} | "
                     f"{r['fit_ratio']:.2f} | {r['F_rel']:.1e} | {r['den_df_rel']:.1e} |")
    lines += ["", "nan: not run (no R)."]
    if not args.quick:
        OUT.write_text("\n".join(lines) + "\n")
        print(f"wrote {OUT}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
