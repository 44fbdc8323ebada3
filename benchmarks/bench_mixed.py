"""Benchmark: allianceStats.fit_mlm against lme4 (R, via Rscript) and statsmodels MixedLM, same data, same run.

Data sets (seeded):
  small_two_level  100 clients x 20 sessions (2,000 rows), same model as two_level
  two_level    10,000 clients x 20 sessions (200,000 rows), y ~ x + session0 + (1 + session0 | client), REML
  three_level  500 therapists x 20 clients x 20 sessions (200,000 rows),
               y ~ x + session0 + (1 + session0 | client) + (1 | therapist), REML
Times are wall-clock seconds of the fit call only (data already in memory; for lme4 the lmer() call timed
inside R, with lme4's default control). Besides speed, the REML criterion of each fit is reported: a faster
fit at a worse optimum is not a win. statsmodels is run on the two-level set only (its three-level
variance-component form with 10,000 client slopes is impractically slow). Without Rscript (or lme4) the
lme4 column is skipped with a printed note.

Run:  .venv/bin/python benchmarks/bench_mixed.py [--quick]    (writes benchmarks/results/mixed.md)
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

from allianceStats.mixed import fit_mlm

OUT = Path(__file__).resolve().parent / "results" / "mixed.md"
F2 = "y ~ x + session0 + (1 + session0 | client)"
F3 = "y ~ x + session0 + (1 + session0 | client) + (1 | therapist)"


def make_data(n_therapists: int, clients_per: int, sessions: int, seed: int, therapist_sd: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    m = n_therapists * clients_per
    ther = np.repeat(np.arange(n_therapists), clients_per)
    c = np.repeat(np.arange(m), sessions)
    s = np.tile(np.arange(sessions), m).astype(float)
    # z @ chol(S)^T, not rng.multivariate_normal (whose SVD depends on LAPACK): the same data on every machine
    b = rng.standard_normal((m, 2)) @ np.linalg.cholesky(np.array([[0.5, -0.01], [-0.01, 0.01]])).T
    u = rng.normal(0, therapist_sd, n_therapists)
    x = rng.normal(size=m * sessions) + rng.normal(size=m)[c]
    y = 1 + 0.3 * x + 0.05 * s + b[c, 0] + b[c, 1] * s + u[ther[c]] + rng.normal(size=m * sessions)
    return pd.DataFrame({"therapist": np.char.add("t", ther[c].astype(str)), "client": np.char.add("c", c.astype(str)),
                         "session0": s, "x": x, "y": y})


def time_ours(formula, data, repeats):
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = fit_mlm(data, formula)
        best = min(best, time.perf_counter() - t)
    return best, res.deviance, res.converged


def time_statsmodels(data):
    import statsmodels.formula.api as smf

    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.mixedlm("y ~ x + session0", data, groups=data["client"], re_formula="~session0").fit(
            reml=True, method="lbfgs")
    elapsed = time.perf_counter() - t
    return elapsed, -2 * fit.llf, bool(fit.converged)


R_SCRIPT = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(TRUE)
d <- read.csv(args[1], colClasses = c(therapist = "character", client = "character"))
best <- Inf
for (i in seq_len(as.integer(args[3]))) {
  t <- system.time(fit <- lmer(as.formula(args[2]), data = d, REML = TRUE))[["elapsed"]]
  best <- min(best, t)
}
cat(sprintf('{"time": %.17g, "crit": %.17g, "lme4": "%s", "R": "%s", "conv": %s}',
            best, REMLcrit(fit), packageVersion("lme4"), R.version.string,
            tolower(as.character(is.null(fit@optinfo$conv$lme4$messages)))))
"""


def time_lme4(formula, data, repeats):
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv, script = Path(tmp) / "d.csv", Path(tmp) / "fit.R"
        data.to_csv(csv, index=False)
        script.write_text(R_SCRIPT)
        proc = subprocess.run(["Rscript", str(script), str(csv), formula, str(repeats)], capture_output=True,
                              text=True)
    if proc.returncode != 0:
        print("lme4 run failed:", proc.stderr[-500:])
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1/10 of the clients (a smoke run)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    scale = 10 if args.quick else 1
    sets = [("small_two_level", F2, make_data(1, 100, 20, 3, 0.0).drop(columns="therapist"), True),
            ("two_level", F2, make_data(1, 10_000 // scale, 20, 1, 0.0).drop(columns="therapist"), True),
            ("three_level", F3, make_data(500 // scale, 20, 20, 2, 0.5), False)]
    rows = []
    if shutil.which("Rscript") is None:
        print("NOTE: Rscript not found; the lme4 column is skipped.")
    for name, formula, data, with_sm in sets:
        ours_t, ours_dev, ours_conv = time_ours(formula, data, args.repeats)
        r = time_lme4(formula, data.assign(therapist=data.get("therapist", "t0")), args.repeats)
        sm = time_statsmodels(data) if with_sm else None
        row = {"data": name, "rows": len(data), "clients": data.client.nunique(), "ours_s": ours_t,
               "ours_crit": ours_dev, "ours_converged": ours_conv,
               "lme4_s": r["time"] if r else np.nan, "lme4_crit": r["crit"] if r else np.nan,
               "statsmodels_s": sm[0] if sm else np.nan, "statsmodels_crit": sm[1] if sm else np.nan}
        row["ours/lme4"] = row["ours_s"] / row["lme4_s"]
        row["ours/statsmodels"] = row["ours_s"] / row["statsmodels_s"]
        rows.append(row)
        print(json.dumps(row, default=float))
        versions = f"lme4 {r['lme4']}, {r['R']}" if r else "lme4 not run (no Rscript)"
    table = pd.DataFrame(rows)
    import nlopt
    import statsmodels

    lines = ["# Mixed-model benchmark (benchmarks/bench_mixed.py)", "",
             f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}; Python {platform.python_version()}; "
             f"statsmodels {statsmodels.__version__}; nlopt {nlopt.__version__}; {versions}.",
             f"{os.cpu_count()} cores; load average at the end of the run {os.getloadavg()[0]:.1f} (the machine "
             "may be shared: compare the ratios, which come from the same run, not the absolute times).",
             f"Best of {args.repeats} runs for allianceStats and lme4 (one for statsmodels); seconds of the fit call. "
             "`crit` is the REML criterion at the returned optimum (lower is better). allianceStats' time includes "
             "the Satterthwaite df (lmerTest's step); the lme4 time is lme4::lmer alone.", "",
             "| data | rows | clients | allianceStats s | lme4 s | statsmodels s | ours/lme4 | ours/statsmodels "
             "| crit ours − lme4 | crit statsmodels − lme4 |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        lines.append(f"| {r.data} | {r.rows:,} | {r.clients:,} | {r.ours_s:.2f} | {r.lme4_s:.2f} | "
                     f"{r.statsmodels_s:.2f} | {r['ours/lme4']:.2f} | {r['ours/statsmodels']:.3f} | "
                     f"{r.ours_crit - r.lme4_crit:.2e} | {r.statsmodels_crit - r.lme4_crit:.2f} |")
    lines += ["", "nan: not run (no R, or statsmodels skipped for the three-level set)."]
    if not args.quick:
        OUT.write_text("\n".join(lines) + "\n")
        print(f"wrote {OUT}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
