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
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from allianceStats.sem import fit_sem

RESULTS = Path(__file__).resolve().parent / "results" / "sem.md"


def make_panel(n, waves, seed=1):
    """Two-variable RI-CLPM data with MAR dropout and 3% scattered missing values."""
    rng = np.random.default_rng(seed)
    ri = rng.multivariate_normal([0, 0], [[0.5, 0.2], [0.2, 0.4]], size=n)
    wx = np.zeros((n, waves))
    wy = np.zeros((n, waves))
    wx[:, 0] = rng.normal(size=n)
    wy[:, 0] = 0.3 * wx[:, 0] + rng.normal(size=n)
    for t in range(1, waves):
        wx[:, t] = 0.4 * wx[:, t - 1] + 0.15 * wy[:, t - 1] + rng.normal(scale=0.8, size=n)
        wy[:, t] = 0.2 * wx[:, t - 1] + 0.35 * wy[:, t - 1] + rng.normal(scale=0.8, size=n)
    df = pd.DataFrame({**{f"x{t + 1}": 3 + ri[:, 0] + wx[:, t] for t in range(waves)},
                       **{f"y{t + 1}": 2 + ri[:, 1] + wy[:, t] for t in range(waves)}})
    last = np.full(n, waves)
    for t in range(1, waves):
        leave = (rng.random(n) < 1 / (1 + np.exp(2.5 + 0.5 * (df[f"x{t}"] - 3)))) & (last == waves)
        last[leave] = t
    for t in range(2, waves + 1):
        df.loc[last < t, [f"x{t}", f"y{t}"]] = np.nan
    for c in df.columns:
        df.loc[rng.random(n) < 0.03, c] = np.nan
    return df.dropna(how="all")


def riclpm_syntax(waves):
    lines = ["RIx =~ " + " + ".join(f"1*x{t}" for t in range(1, waves + 1)),
             "RIy =~ " + " + ".join(f"1*y{t}" for t in range(1, waves + 1)),
             "RIx ~~ RIx", "RIy ~~ RIy", "RIx ~~ RIy"]
    for t in range(1, waves + 1):
        lines += [f"wx{t} =~ 1*x{t}", f"wy{t} =~ 1*y{t}", f"x{t} ~~ 0*x{t}", f"y{t} ~~ 0*y{t}", f"x{t} ~ 1",
                  f"y{t} ~ 1", f"wx{t} ~~ wy{t}", f"wx{t} ~~ wx{t}", f"wy{t} ~~ wy{t}"]
    for t in range(2, waves + 1):
        lines += [f"wx{t} ~ wx{t - 1} + wy{t - 1}", f"wy{t} ~ wx{t - 1} + wy{t - 1}"]
    return "\n".join(lines)


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
