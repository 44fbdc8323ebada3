"""Benchmark: the panel models on the panel fixture data — allianceStats vs lavaan, same data, same run.

Run: .venv/bin/python benchmarks/bench_panel.py   (writes benchmarks/results/panel.md; needs Rscript + lavaan)

Data: tests/panel/fixtures/panel_long.csv (400 clients x 5 sessions, dropout and scattered missing values, so
FIML over many missing-data patterns). Models: the three-variable RI-CLPM, the CLPM and the DPM, with the
syntax our builders write (tests/panel/fixtures/syntax/*.lav). Ours is the best of 3 calls of the public
``fit_*`` function from the long table (pivot, syntax, FIML fit, SEs, fit indices, tidy tables); lavaan is
timed inside R (``system.time`` around ``lavaan()``, R start-up and data reading excluded), best of 3. The
engine-level benchmark (700 and 10,000 clients) is benchmarks/bench_sem.py.
"""
import platform
import shutil
import subprocess
import time
import warnings
from pathlib import Path

import pandas as pd

import allianceStats as als

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "panel" / "fixtures"
RESULTS = Path(__file__).resolve().parent / "results" / "panel.md"
V3 = ["alliance", "needs", "outcome"]
MODELS = {
    "own_riclpm": ("RI-CLPM, 3 variables x 5 waves", lambda d: als.fit_riclpm(d, V3)),
    "own_clpm": ("CLPM, 3 variables x 5 waves", lambda d: als.fit_clpm(d, V3)),
    "own_dpm": ("DPM, outcome on alliance, 5 waves", lambda d: als.fit_dpm(d, x="alliance", y="outcome")),
}
R_SCRIPT = """
suppressPackageStartupMessages(library(lavaan))
long <- read.csv("{csv}")
wide <- reshape(long[, c("client", "session", "alliance", "needs", "outcome")], idvar = "client",
                timevar = "session", direction = "wide", sep = "_")
for (name in c({names})) {{
  model <- paste(readLines(file.path("{syntax}", paste0(name, ".lav"))), collapse = "\\n")
  best <- Inf
  for (i in 1:3) best <- min(best, system.time(lavaan(model, data = wide, missing = "ml",
                                                      meanstructure = TRUE))[["elapsed"]])
  cat(name, best, "\\n")
}}
"""


def time_ours(long: pd.DataFrame) -> dict[str, float]:
    out = {}
    for name, (_, fit) in MODELS.items():
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit(long)
            best = min(best, time.perf_counter() - t0)
        out[name] = best
    return out


def time_lavaan() -> dict[str, float]:
    if shutil.which("Rscript") is None:
        return {}
    script = R_SCRIPT.format(csv=FIXTURES / "panel_long.csv", syntax=FIXTURES / "syntax",
                             names=", ".join(f'"{n}"' for n in MODELS))
    proc = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=True)
    return {line.split()[0]: float(line.split()[1]) for line in proc.stdout.splitlines() if line.strip()}


def main() -> None:
    long = pd.read_csv(FIXTURES / "panel_long.csv")
    ours, lav = time_ours(long), time_lavaan()
    rows = ["| model | allianceStats (s) | lavaan 0.6.14 (s) | ratio ours/lavaan |", "| --- | --- | --- | --- |"]
    for name, (label, _) in MODELS.items():
        r = lav.get(name, float("nan"))
        rows.append(f"| {label} | {ours[name]:.2f} | {r:.2f} | {ours[name] / r:.2f} |")
    text = (f"# Panel models: allianceStats vs lavaan (same data, same run)\n\n"
            f"FIML on tests/panel/fixtures/panel_long.csv (400 clients x 5 sessions with dropout), best of 3.\n"
            f"Machine: {platform.platform()}, Python {platform.python_version()}.\n\n" + "\n".join(rows) + "\n")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
