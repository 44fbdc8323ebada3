"""Benchmark: ordinal measurement invariance (WLSMV, Wu & Estabrook) — allianceStats vs lavaan + semTools, same data,
same run.

Run: .venv/bin/python benchmarks/bench_invariance.py   (writes benchmarks/results/invariance.md; needs Rscript with
lavaan and semTools for the R column)

Sizes:
1. semTools' ``datCat`` (200 rows, 2 groups, 8 five-point items, two factors): configural, thresholds, metric and
   scalar steps, theta parameterization, with the Satorra (2000) tests. Goal: at most half of lavaan + semTools' time.
2. Simulated WAI-SR items (``simulate.items``), 10 groups x 12 items x 2,000 respondents per group (20,000 rows),
   three factors, all five steps. Goal: under 10 s.

What is timed: ours, ``measurement_invariance(...)`` (thresholds, polychoric correlations and Γ once, five fits, the
tests and the table), best of 3 (size 1) or once (size 2). R: for each step ``measEq.syntax(...)`` then
``cfa(as.character(syntax), ...)``, then ``lavTestLRT`` over the steps — the semTools workflow — timed inside R with
``system.time`` (R start-up excluded), best of 3 after a warm-up at size 1, once at size 2. Both fit the same models
(checked: the χ² of every step is printed next to the times).
"""
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

from allianceStats.sem import measurement_invariance
from allianceStats.simulate.items import simulate_alliance_items

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "invariance.md"
DATCAT = ROOT / "tests" / "sem" / "fixtures" / "ordinal" / "datCat.csv"
M2 = "FU1 =~ u1 + u2 + u3 + u4\nFU2 =~ u5 + u6 + u7 + u8"
GROUP_EQUAL = {"configural": '""', "thresholds": '"thresholds"', "metric": 'c("thresholds", "loadings")',
               "scalar": 'c("thresholds", "loadings", "intercepts")',
               "strict": 'c("thresholds", "loadings", "intercepts", "residuals")'}


def time_ours(data, model, group, steps, repeat):
    best, res = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = measurement_invariance(data, model, group=group, ordered=True, steps=steps)
        best = min(best, time.perf_counter() - t0)
    return best, res


def time_lavaan(data, model, group, steps, repeat):
    if shutil.which("Rscript") is None:
        return np.nan, [np.nan] * len(steps), "Rscript not installed"
    items = [c for c in data.columns if c not in (group, "respondent")]
    with tempfile.TemporaryDirectory() as tmp:
        csv, out = Path(tmp) / "d.csv", Path(tmp) / "o.json"
        data.to_csv(csv, index=False)
        ge = ", ".join(f"{s} = {GROUP_EQUAL[s]}" for s in steps)
        ordered = "c(" + ", ".join(f'"{v}"' for v in items) + ")"
        r_model = model.replace("\n", "\\n")
        script = f"""
suppressPackageStartupMessages({{library(lavaan); library(semTools)}})
d <- read.csv("{csv}"); m <- "{r_model}"; ge <- list({ge})
run <- function() {{
  fits <- lapply(ge, function(g) {{
    s <- measEq.syntax(configural.model = m, data = d, ordered = {ordered}, parameterization = "theta",
                       ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016", group = "{group}", group.equal = g)
    cfa(as.character(s), data = d, group = "{group}", ordered = {ordered}, parameterization = "theta")
  }})
  do.call(lavTestLRT, unname(fits))
  fits
}}
if ({repeat} > 1) invisible(run())
best <- Inf
for (i in seq_len({repeat})) {{ t <- system.time(fits <- run())[["elapsed"]]; best <- min(best, t) }}
jsonlite::write_json(list(time = best, chisq = sapply(fits, function(f) fitMeasures(f, "chisq")[[1]])), "{out}",
                     digits = NA, auto_unbox = TRUE)
"""
        proc = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True)
        if proc.returncode != 0:
            return np.nan, [np.nan] * len(steps), f"R failed: {proc.stderr.strip()[-200:]}"
        res = json.loads(out.read_text())
        versions = subprocess.run(["Rscript", "-e", 'cat(as.character(packageVersion("lavaan")), '
                                   'as.character(packageVersion("semTools")))'], capture_output=True, text=True)
        return res["time"], list(np.atleast_1d(res["chisq"])), "lavaan {} + semTools {}".format(
            *versions.stdout.split())


def main():
    cases = [("datCat: 2 groups x 8 items x 200 rows, 4 steps", pd.read_csv(DATCAT), M2, "g",
              ("configural", "thresholds", "metric", "scalar"), 3)]
    big, truth = simulate_alliance_items(n_per_group=2000, n_groups=10, seed=2026)
    cases.append(("simulated WAI-SR: 10 groups x 12 items x 2,000 per group, 5 steps",
                  big.drop(columns="respondent"), truth["model"], "culture", tuple(GROUP_EQUAL), 1))
    rows = []
    for label, data, model, group, steps, repeat in cases:
        t_ours, res = time_ours(data, model, group, steps, repeat)
        t_r, chisq_r, r_note = time_lavaan(data, model, group, steps, repeat)
        gap = float(np.nanmax(np.abs(res.table["chisq"].to_numpy() - np.asarray(chisq_r, dtype=float))
                              / res.table["chisq"].to_numpy())) if np.isfinite(t_r) else np.nan
        rows.append({"data": label, "allianceStats_s": t_ours, "lavaan_semTools_s": t_r, "ours/lavaan": t_ours / t_r,
                     "max_rel_chisq_gap": gap, "converged": res.converged, "R": r_note})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text = ["# Measurement-invariance benchmark (ordered items, WLSMV, Wu & Estabrook 2016)", "",
            "Generated by `benchmarks/bench_invariance.py`. Ours: `measurement_invariance(data, model, group=..., "
            "ordered=True)` (theta parameterization), everything included. R: `measEq.syntax()` + `cfa()` per step "
            "and `lavTestLRT()` (the semTools workflow), timed inside R. Both fit the same models; "
            "`max_rel_chisq_gap` is the largest relative difference of the steps' χ² between the two.", "",
            f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average {load:.1f} "
            f"(other jobs were running), Python {platform.python_version()}. Best of 3 runs at the small size "
            "(after an R warm-up), one run at the large size.", "",
            "Goals (issue 16): datCat at most 0.5 x lavaan + semTools; 10 groups x 12 items x 2,000 under 10 s.", "",
            table.to_markdown(index=False, floatfmt=".4g"), ""]
    RESULTS.write_text("\n".join(text))
    print("\n".join(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
