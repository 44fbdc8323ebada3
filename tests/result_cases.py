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


def competing_table() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    d = pd.DataFrame({"alliance": rng.normal(4, 0.6, 200)})
    t_rel = rng.exponential(20 * np.exp(0.8 * (d.alliance - 4)))
    t_drop = rng.exponential(30, 200)
    d["weeks"] = np.minimum(np.minimum(t_rel, t_drop), 26)
    d["outcome"] = np.where(d["weeks"] >= 26, 0, np.where(t_rel < t_drop, 1, 2))
    return d


def incidence():
    from allianceStats.survival import cumulative_incidence

    return cumulative_incidence(competing_table(), "Surv(weeks, outcome) ~ 1")


def cause_specific():
    from allianceStats.survival import fit_cause_specific

    return fit_cause_specific(competing_table(), "Surv(weeks, outcome) ~ alliance")


def discrete_hazard():
    from allianceStats.survival import fit_discrete_hazard, survival_intervals

    sessions = pd.DataFrame({"client": [1, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 5],
                             "session": [1, 2, 3, 1, 2, 1, 2, 3, 4, 1, 2, 1, 2, 3],
                             "alliance": [4.1, 3.2, 2.9, 4.5, 4.6, 3.9, 3.1, 3.0, 2.8, 4.8, 4.2, 3.3, 3.5, 4.0]})
    events = pd.DataFrame({"client": [1, 2, 3, 4, 5], "time": [4, 4, 5, 3, 5], "event": [1, 0, 1, 0, 1]})
    return fit_discrete_hazard(survival_intervals(sessions, events, periods=True), "event ~ alliance")


def joint():
    from allianceStats.simulate.relapse import relapse_times
    from allianceStats.survival import fit_joint

    sessions, events, _ = relapse_times(150, seed=2)
    return fit_joint(sessions, "alliance ~ week + (week | client)", events, "Surv(time, relapse) ~ 1",
                     session="week")


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
    "IncidenceResult": incidence, "CauseSpecificResult": cause_specific, "DiscreteHazardResult": discrete_hazard,
    "JointResult": joint,
}


def build(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CASES[name]()
