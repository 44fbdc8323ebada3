"""Benchmarks of allianceStats mediation: bootstrap speed against pingouin and lavaan, and interval coverage.

Speed: bootstrap of a three-mediator parallel mediation model with one covariate (n = 420, 5,000 resamples).

Same data (tests/mediation/fixtures/paths_data.csv), same model, same run:
- allianceStats.fit_mediation (vectorised case bootstrap, percentile intervals): median of 5 seeded runs after a
  warm-up;
- pingouin.mediation_analysis (its own bootstrap), one run;
- lavaan 0.6 sem(se = "bootstrap", bootstrap = 5000) through Rscript, timed inside R (startup excluded).
Coverage (``--part coverage``): repeated simulations with known truth —
- single-level: percentile case-bootstrap intervals of a*b (x -> m -> y, n = 200, a = b = 0.3);
- multilevel 1-1-1: Monte Carlo intervals of the within (a_W b_W + sigma_ab) and between (a_B b_B) indirect
  effects (``simulate_111``: 80 clients x 8 sessions).
Writes its section of benchmarks/results/mediation.md (each part replaces only its own section). Run by hand
from the repository root (not part of the test suite):

    .venv/bin/python benchmarks/bench_mediation.py [--part speed|coverage|all] [--n-draws 5000] [--lavaan-boot 5000]
        [--reps 200]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rscript import run_r_script

from allianceStats.mediation import fit_mediation, fit_multilevel_mediation
from allianceStats.mediation.multilevel import simulate_111

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "mediation" / "fixtures" / "paths_data.csv"
OUT = ROOT / "benchmarks" / "results" / "mediation.md"
MEDIATORS = ["autonomy", "competence", "relatedness"]

LAVAAN = r"""
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
model <- '
  autonomy    ~ a1*support + baseline
  competence  ~ a2*support + baseline
  relatedness ~ a3*support + baseline
  motivation  ~ cp*support + b1*autonomy + b2*competence + b3*relatedness + baseline
  autonomy ~~ competence + relatedness
  competence ~~ relatedness
  ind1 := a1*b1
  ind2 := a2*b2
  ind3 := a3*b3
  total_indirect := a1*b1 + a2*b2 + a3*b3
'
set.seed(1)
t0 <- proc.time()
fit <- sem(model, data = d, se = "bootstrap", bootstrap = as.integer(args[2]))
t1 <- proc.time() - t0
secs <- t1[["elapsed"]]
cpu <- t1[["user.self"]] + t1[["sys.self"]]
pe <- parameterEstimates(fit, boot.ci.type = "perc")
ti <- pe[pe$label == "ind1", ]
cat(jsonlite::toJSON(list(seconds = secs, cpu = cpu, lower = ti$ci.lower, upper = ti$ci.upper,
                          version = as.character(packageVersion("lavaan"))), auto_unbox = TRUE, digits = NA))
"""


def time_ours(data: pd.DataFrame, n_draws: int) -> tuple[float, float, pd.Series]:
    kw = dict(covariates=["baseline"], n_draws=n_draws)
    fit_mediation(data, "support", MEDIATORS, "motivation", seed=0, **kw)  # warm-up (imports, caches)
    wall, cpu, res = [], [], None
    for seed in range(1, 6):
        t0, c0 = time.perf_counter(), time.process_time()
        res = fit_mediation(data, "support", MEDIATORS, "motivation", seed=seed, **kw)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return (float(np.median(wall)), float(np.median(cpu)),
            res.effects.set_index("effect").loc["support -> autonomy -> motivation"])


def time_pingouin(data: pd.DataFrame, n_draws: int) -> tuple[float, float, pd.Series]:
    import pingouin

    t0, c0 = time.perf_counter(), time.process_time()
    out = pingouin.mediation_analysis(data=data, x="support", m=MEDIATORS, y="motivation", covar=["baseline"],
                                      n_boot=n_draws, seed=1)
    return time.perf_counter() - t0, time.process_time() - c0, out.set_index("path").loc["Indirect autonomy"]


def time_lavaan(n_draws: int) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    proc, _ = run_r_script(LAVAAN, DATA, n_draws)
    proc.check_returncode()
    return json.loads(proc.stdout)


def write_section(name: str, lines: list[str]) -> None:
    """Replace the section ``name`` of the results file (between its markers), keeping the other sections."""
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    text = OUT.read_text() if OUT.exists() else "# Mediation benchmarks\n"
    block = "\n".join([begin, *lines, end])
    if begin in text and end in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    OUT.write_text(text)
    print("\n".join(lines))


def speed(n_draws: int, lavaan_boot: int) -> None:
    data = pd.read_csv(DATA)
    ours_s, ours_cpu, ours = time_ours(data, n_draws)
    ping_s, ping_cpu, ping = time_pingouin(data, n_draws)
    lav = time_lavaan(lavaan_boot) if lavaan_boot else None
    rows = [("allianceStats.fit_mediation (vectorised)", n_draws, ours_s, ours_cpu, ours["ci_lower"], ours["ci_upper"]),
            ("pingouin.mediation_analysis", n_draws, ping_s, ping_cpu, ping["CI2.5"], ping["CI97.5"])]
    if lav is not None:
        rows.append((f"lavaan {lav['version']} sem(se='bootstrap')", lavaan_boot, lav["seconds"], lav["cpu"],
                     lav["lower"], lav["upper"]))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "## Speed: bootstrap of a parallel three-mediator model",
        "",
        f"Three parallel mediators + one covariate, n = {len(data)}, percentile intervals of the indirect effect "
        "support -> autonomy -> motivation (pingouin reports no total indirect effect for several mediators). "
        f"Machine: {platform.machine()}, Python {platform.python_version()}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores, load average "
        f"{load:.1f} at the end. Goal: allianceStats under 0.5 s.",
        "",
        "| implementation | resamples | wall s | CPU s | CPU s per 1,000 resamples | ratio (CPU per resample) "
        "| 95% CI of the autonomy route |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, b, secs, cpu, lo, hi in rows:
        per_k = 1000 * cpu / b
        ratio = per_k / (1000 * ours_cpu / n_draws)
        lines.append(f"| {name} | {b} | {secs:.3f} | {cpu:.3f} | {per_k:.3f} | {ratio:.0f}x | [{lo:.4f}, {hi:.4f}] |")
    lines += ["", "allianceStats: median of 5 seeded runs after a warm-up; pingouin: one run; lavaan: timed inside R "
              "(R startup and package loading excluded). Ratios use CPU time, which a busy machine disturbs less "
              "than wall time (numpy's BLAS may use more than one core, so its CPU time can exceed its wall time)."]
    write_section("speed", lines)


def coverage(reps: int) -> None:
    hits_single, hits_within, hits_between = [], [], []
    t0 = time.perf_counter()
    for r in range(reps):
        rng = np.random.default_rng(10_000 + r)
        x = rng.normal(size=200)
        m = 0.3 * x + rng.normal(size=200)
        y = 0.3 * m + 0.1 * x + rng.normal(size=200)
        res = fit_mediation(pd.DataFrame({"x": x, "m": m, "y": y}), "x", ["m"], "y", n_draws=2000, seed=r)
        row = res.effects.iloc[0]
        hits_single.append(row["ci_lower"] <= 0.09 <= row["ci_upper"])
    single_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ml_reps = max(reps // 2, 1)
    for r in range(ml_reps):
        data, truth = simulate_111(80, 8, seed=20_000 + r)
        eff = fit_multilevel_mediation(data, "x", "m", "y", n_draws=5000, seed=r).effects.set_index("effect")
        hits_within.append(eff.loc["within indirect", "ci_lower"] <= truth["within indirect"]
                           <= eff.loc["within indirect", "ci_upper"])
        hits_between.append(eff.loc["between indirect", "ci_lower"] <= truth["between indirect"]
                            <= eff.loc["between indirect", "ci_upper"])
    ml_s = time.perf_counter() - t0

    def cell(hits):
        p = float(np.mean(hits))
        return f"{p:.3f} | {np.sqrt(0.95 * 0.05 / len(hits)):.3f} | {len(hits)}"

    lines = ["## Coverage of 95% intervals (simulation with known truth)", "",
             "| estimator | interval | coverage | Monte Carlo SE at 0.95 | replications |",
             "| --- | --- | ---: | ---: | ---: |",
             f"| fit_mediation, a*b = 0.09, n = 200 | percentile bootstrap, 2,000 resamples | {cell(hits_single)} |",
             f"| fit_multilevel_mediation, within a_W b_W + sigma_ab = 0.17 | Monte Carlo, 5,000 draws | "
             f"{cell(hits_within)} |",
             f"| fit_multilevel_mediation, between a_B b_B = 0.30 | Monte Carlo, 5,000 draws | {cell(hits_between)} |",
             "", f"Run time: {single_s:.1f} s (single level), {ml_s:.1f} s (multilevel); seeds 10000+r / 20000+r."]
    write_section("coverage", lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["speed", "coverage", "all"], default="all")
    parser.add_argument("--n-draws", type=int, default=5000, help="bootstrap resamples (ours and pingouin)")
    parser.add_argument("--lavaan-boot", type=int, default=5000, help="lavaan resamples (0 skips lavaan)")
    parser.add_argument("--reps", type=int, default=200, help="coverage replications (multilevel: half)")
    args = parser.parse_args()
    if args.part in ("speed", "all"):
        speed(args.n_draws, args.lavaan_boot)
    if args.part in ("coverage", "all"):
        coverage(args.reps)


if __name__ == "__main__":
    main()
