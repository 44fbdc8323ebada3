"""Benchmark: FIML RI-CLPM (two variables) with dropout — allianceStats vs lavaan vs semopy, same data, same run.

Run: .venv/bin/python benchmarks/bench_sem.py   (writes benchmarks/results/sem.md; needs Rscript + lavaan for
the lavaan column, semopy for its column)
Sizes: 700 clients x 6 waves (goal: at most half of lavaan's time) and 10,000 clients x 10 waves (goal: < 5 s).
lavaan is timed inside R (``system.time`` around ``lavaan()``, R start-up excluded), best of 3, after a warm-up
fit; ours is the best of 3 calls of ``fit_sem`` (everything: parsing, H1 by EM, SEs, fit indices). semopy 2.3.11
is timed with its FIML objective; its numbers are reported but its FIML estimates are known to be wrong
(issue 4), so the log-likelihood difference to lavaan is printed next to it.
"""
import json
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

from allianceStats.sem import fit_sem

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "sem" / "fixtures"))
from generate_data import panel, riclpm_syntax  # noqa: E402  (same generator and syntax as the tests)

RESULTS = Path(__file__).resolve().parent / "results" / "sem.md"


def make_panel(n, waves, seed=1):
    """The fixtures' RI-CLPM generator (MAR dropout, 3% scattered missing values), rows all missing dropped."""
    return panel(np.random.default_rng(seed), n=n, waves=waves, scattered=0.03).dropna(how="all")


def time_ours(model, data, repeat=3):
    best, res = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fit_sem(model, data, defaults="none")
        best = min(best, time.perf_counter() - t0)
    return best, res


def time_lavaan(model, data, repeat=3):
    if shutil.which("Rscript") is None:
        return np.nan, np.nan
    with tempfile.TemporaryDirectory() as tmp:
        csv, mod, out = Path(tmp) / "d.csv", Path(tmp) / "m.lav", Path(tmp) / "o.json"
        data.to_csv(csv, index=False)
        mod.write_text(model)
        script = f"""
suppressPackageStartupMessages(library(lavaan))
d <- read.csv("{csv}"); m <- paste(readLines("{mod}"), collapse = "\\n")
f <- lavaan(m, d, missing = "ml", meanstructure = TRUE)
best <- Inf
for (i in 1:{repeat}) {{ t <- system.time(f <- lavaan(m, d, missing = "ml", meanstructure = TRUE))[["elapsed"]]
  best <- min(best, t) }}
jsonlite::write_json(list(time = best, logl = fitMeasures(f, "logl")[[1]]), "{out}", digits = NA, auto_unbox = TRUE)
"""
        subprocess.run(["Rscript", "-e", script], check=True, capture_output=True)
        res = json.loads(out.read_text())
        return res["time"], res["logl"]


def time_semopy(model, data):
    try:
        import semopy
    except ImportError:
        return np.nan, np.nan
    t0 = time.perf_counter()
    m = semopy.Model(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            m.fit(data, obj="FIML")
            t = time.perf_counter() - t0
            ll = -m.last_result.fun / 2 if hasattr(m, "last_result") else np.nan
        except Exception:  # semopy's failure is a benchmark result, not an error of ours
            return time.perf_counter() - t0, np.nan
    return t, ll


def main():
    rows = []
    for n, waves in ((700, 6), (10_000, 10)):
        data = make_panel(n, waves)
        model = riclpm_syntax(waves)
        t_ours, res = time_ours(model, data)
        t_lav, ll_lav = time_lavaan(model, data)
        t_sem, _ = time_semopy(model, data) if n <= 1000 else (np.nan, np.nan)
        rows.append({"data": f"{n} clients x {waves} waves (FIML, dropout)", "allianceStats_s": t_ours,
                     "lavaan_s": t_lav, "semopy_s": t_sem, "ratio_ours_to_lavaan": t_ours / t_lav,
                     "loglik_ours": res.fit["loglik"], "loglik_lavaan": ll_lav,
                     "converged": res.convergence.converged})
        print(rows[-1])
    table = pd.DataFrame(rows)
    text = ["# SEM benchmark (FIML RI-CLPM, two variables)", "",
            f"Machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}. "
            "Best of 3 fits each; lavaan timed inside R (start-up excluded). semopy: its FIML objective "
            "(estimates known to be wrong, issue 4), timed once, only at the small size.", "",
            table.to_markdown(index=False, floatfmt=".4g"), ""]
    RESULTS.write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
