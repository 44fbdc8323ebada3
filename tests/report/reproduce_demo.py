"""The part of the demo report that reproduce/reproduce.R refits, written to a folder (shared by the R reference
generator in fixtures/ and tests/report/test_reproduce.py)."""
from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

#: the demo's steps that have R calls in reproduce.R
REPRODUCED = ("mlm", "glmm", "riclpm", "mediation", "wave_mediation", "cox", "invariance")


def write_reproducible_demo(folder: Path):
    """Run the demo analysis file's REPRODUCED steps (mediation with few bootstrap draws: only the point estimates
    are refitted in R) and write their report, with reproduce/, to ``folder``; return the folder."""
    from allianceStats.analysis import DEMO_ANALYSIS, load_analysis, load_data, run_analysis
    from allianceStats.report import build_report, write_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = load_analysis(DEMO_ANALYSIS)
        options = {**spec.options, "mediation": [{**m, "n_draws": 200} for m in spec.options["mediation"]]}
        spec = replace(spec, steps=[s for s in spec.steps if s in REPRODUCED], options=options)
        run = run_analysis(spec, load_data(spec))
        write_report(build_report(run), folder)
    return folder
