"""One small fitted instance of every result type, for the display, table and plot tests (seeded, a few seconds).

Loaded by path from the tests that use it (the suite runs with ``--import-mode=importlib``). Each builder returns
a result; ``CASES`` maps the result class name to its builder.
"""
from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd

import allianceStats as als


@functools.cache
def example() -> pd.DataFrame:
    return als.load_example()


@functools.cache
def mixed():
    parts = als.decompose(example(), "alliance").dropna(subset=["alliance_within_lag1"])
    return als.fit_mlm(parts, "outcome ~ alliance_within_lag1 + alliance_between + session + (1 | client)")


def mixed_base():
    parts = als.decompose(example(), "alliance").dropna(subset=["alliance_within_lag1"])
    return als.fit_mlm(parts, "outcome ~ session + (1 | client)")


def glmm():
    return als.fit_glmm(example(), "dropout ~ alliance + (1 | client)", family="binomial")


def icc():
    return als.icc(example(), "alliance", therapist="therapist")


def r2():
    return als.r2(mixed())


def alliance_outcome():
    return als.fit_alliance_outcome(example())


def comparison():
    return als.compare(mixed_base(), mixed())


@functools.cache
def mediation_data() -> pd.DataFrame:
    return als.simulate.designs.mediation(300, seed=1)[0]


def sem():
    return als.fit_sem(mediation_data(), "m ~ a*x\ny ~ b*m + x\nind := a*b", meanstructure=True)  # with intercepts


def cfa():
    data, _ = __import__("allianceStats.simulate.items", fromlist=["x"]).simulate_alliance_items(n_per_group=300,
                                                                                                    seed=3)
    return als.fit_sem(data, "bond =~ wai3 + wai5 + wai7 + wai9\ntask =~ wai1 + wai2 + wai4")


@functools.cache
def riclpm(variables=("alliance", "outcome"), waves=4):
    return als.fit_riclpm(example(), list(variables), waves=range(1, waves + 1))


def invariance():
    from allianceStats.sem.invariance import measurement_invariance
    from allianceStats.simulate.items import simulate_alliance_items

    data, _ = simulate_alliance_items(n_per_group=300, seed=3)
    return measurement_invariance(data, "bond =~ wai3 + wai5 + wai7 + wai9", group="culture",
                                  steps=("configural", "metric"))


def mediation(mediators=("autonomy", "competence", "relatedness")):
    return als.fit_mediation(example(), "autonomy_support", list(mediators), "motivation", ci="delta")


def multilevel_mediation():
    return als.fit_multilevel_mediation(example(), "alliance", "needs", "motivation", ci="delta", random_slopes=False)


def wave_mediation():
    return als.fit_wave_mediation(example(), "alliance", "needs", "motivation", waves=[1, 2, 3, 4], ci="delta")


def hypotheses():
    return als.evaluate_hypotheses(example(), {"empathic_attunement": "empathy", "relatedness": "relatedness"},
                                   ci="delta")


def ruptures():
    return als.detect_ruptures(example(), "alliance")


def sudden_gains():
    return als.detect_sudden_gains(example(), "outcome", better="higher", min_change=15)


def dropout():
    return als.fit_dropout(example(), predictors=["alliance"])


def level_variability_repair():
    return als.fit_level_variability_repair(example(), rupture_options={"sd": "pooled", "k": 1})


def reliability():
    return als.reliability(example(), "wai", client="client", session="session")


def power_result():
    return als.power("regression", n_clients=[20, 40], effects={"slope": 0.5}, reps=20, seed=1, dask_client="sync",
                     progress=False)


def events() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    codes = ["Q", "CT", "R", "ST", "MI+"]
    rows = [{"client": f"c{c}", "session": 1, "order": i + 1, "code": codes[int(rng.integers(0, 5))]}
            for c in range(6) for i in range(60)]
    return pd.DataFrame(rows)


def lag_sequential():
    from allianceStats.process import lag_sequential as fit

    return fit(events())


def synchrony():
    from allianceStats.process import window_cross_correlation

    rng = np.random.default_rng(1)
    x = rng.normal(size=1200)
    y = np.r_[np.zeros(10), x[:-10]] + rng.normal(size=1200)
    return window_cross_correlation(x, y, sampling_rate=10, lag_seconds=2, window_seconds=30, step_seconds=15)


def surrogate():
    from allianceStats.process import surrogate_synchrony

    rng = np.random.default_rng(2)
    sig = pd.DataFrame({"client": np.repeat(["a", "b", "c"], 600), "session": 1,
                        "x": rng.normal(size=1800)})
    sig["y"] = sig["x"] * 0.5 + rng.normal(size=1800)
    return surrogate_synchrony(sig, x="x", y="y", dyad="client", sampling_rate=5, lag_seconds=1, window_seconds=20,
                               step_seconds=10, n_draws=20, seed=1)


def anova():
    return als.anova(mixed())


def cox():
    from allianceStats.survival import fit_cox

    return fit_cox(survival_table(), "Surv(time, event) ~ alliance")


def survival_table() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 120
    alliance = rng.normal(size=n)
    time = rng.exponential(np.exp(-0.5 * alliance)) * 10
    return pd.DataFrame({"client": [f"c{i}" for i in range(n)], "alliance": alliance,
                         "time": np.minimum(time, 15.0), "event": (time < 15.0).astype(int)})


def survival_curve():
    from allianceStats.survival import survival_curve as curve

    return curve(survival_table(), "Surv(time, event) ~ 1")


def zph():
    from allianceStats.survival import cox_zph

    return cox_zph(cox())


CASES = {
    "MixedResult": mixed, "GLMMResult": glmm, "ICCResult": icc, "R2Result": r2,
    "AllianceOutcomeResult": alliance_outcome, "ComparisonResult": comparison, "SEMResult": sem,
    "PanelResult": riclpm, "InvarianceResult": invariance, "MediationResult": mediation,
    "MultilevelMediationResult": multilevel_mediation, "WaveMediationResult": wave_mediation,
    "HypothesesResult": hypotheses, "RuptureResult": ruptures, "SuddenChangeResult": sudden_gains,
    "DropoutResult": dropout, "LevelVariabilityRepairResult": level_variability_repair,
    "ReliabilityResult": reliability, "PowerResult": power_result, "LagSequentialResult": lag_sequential,
    "SynchronyResult": synchrony, "SurrogateResult": surrogate,
    "AnovaResult": anova, "CoxResult": cox, "SurvivalCurveResult": survival_curve, "ZphResult": zph,
}


def build(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CASES[name]()
