"""fit_joint on data with known truth (allianceStats.simulate.relapse): recovery, the naive model's attenuation,
bad input; and the relapse simulator itself (seeded, the same data on every machine)."""
import warnings

import pandas as pd
import pytest

from allianceStats.errors import FormulaError, IdentificationError, OptionError, SchemaError
from allianceStats.simulate.relapse import relapse_times
from allianceStats.survival import fit_cox, fit_joint, survival_intervals

LONG = "alliance ~ week + (week | client)"


@pytest.fixture(scope="module")
def sim():
    sessions, events, truth = relapse_times(2000, seed=20261130)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_joint(sessions, LONG, events, "Surv(time, relapse) ~ female", session="week")
    return sessions, events, truth, fit


def test_recovers_the_truth(sim):
    _, _, truth, fit = sim
    p = fit.params.set_index("term")
    for term, value in [("association", truth["alpha"]), ("female", truth["gamma"]),
                        ("(Intercept)", truth["beta0"]), ("week", truth["beta1"])]:
        z = (p.loc[term, "estimate"] - value) / p.loc[term, "std_error"]
        assert abs(z) < 3.5, f"{term}: estimate {p.loc[term, 'estimate']:.4f}, truth {value}, z = {z:.2f}"
    assert fit.varcomp["sdcor"].iloc[-1] == pytest.approx(truth["sigma"], rel=0.03)
    assert fit.varcomp["sdcor"].iloc[0] == pytest.approx(truth["sd_intercept"], rel=0.1)
    assert fit.converged


def test_naive_cox_on_the_observed_alliance_is_attenuated(sim):
    """Regression dilution: the hazard follows the true alliance, the naive model sees noisy ratings."""
    sessions, events, truth, fit = sim
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iv = survival_intervals(sessions, events, time_scale="week", event="relapse", keep=["female"])
    iv = iv.dropna(subset=["alliance"])
    naive = fit_cox(iv, "Surv(start, stop, event) ~ alliance + female", client="client")
    a_naive = naive.params.set_index("term").loc["alliance", "estimate"]
    assert abs(a_naive) < abs(fit.association)
    assert abs(fit.association - truth["alpha"]) < abs(a_naive - truth["alpha"])


def test_simulator_is_seeded_and_machine_independent():
    s1, e1, t1 = relapse_times(40, seed=5)
    s2, e2, _ = relapse_times(40, seed=5)
    pd.testing.assert_frame_equal(s1, s2)
    pd.testing.assert_frame_equal(e1, e2)
    assert t1["seed"] == 5 and t1["D"].shape == (2, 2)
    # PCG64 and its normal / exponential / uniform draws are the same on every platform (no LAPACK call): a
    # checksum of this draw, recorded when the simulator was written, must not move
    assert (len(s1), int(e1["relapse"].sum())) == (359, 20)
    assert float(s1["alliance"].sum()) == pytest.approx(1280.60324603, abs=1e-7)
    assert float(e1["time"].sum()) == pytest.approx(559.44413554, abs=1e-7)
    assert (s1.groupby("client")["week"].min() == 0).all()
    with pytest.raises(OptionError, match="unknown effect"):
        relapse_times(10, seed=1, alfa=-1)


def test_bad_input():
    sessions, events, _ = relapse_times(60, seed=3)
    with pytest.raises(FormulaError, match="no random term"):
        fit_joint(sessions, "alliance ~ week", events, "Surv(time, relapse) ~ 1", session="week")
    with pytest.raises(FormulaError, match="one row per client"):
        fit_joint(sessions, LONG, events, "Surv(a, time, relapse) ~ 1", session="week")
    with pytest.raises(SchemaError) as err:
        fit_joint(sessions.drop(columns="week"), LONG, events.drop(columns="relapse"), "Surv(time, relapse) ~ 1",
                  session="week")
    assert "'week' not found" in str(err.value)
    dup = pd.concat([events, events.iloc[:2]], ignore_index=True)
    with pytest.raises(SchemaError, match="several rows"):
        fit_joint(sessions, LONG, dup, "Surv(time, relapse) ~ 1", session="week")
    with pytest.raises(IdentificationError, match="no events"):
        fit_joint(sessions, LONG, events.assign(relapse=0), "Surv(time, relapse) ~ 1", session="week")
    with pytest.raises(OptionError, match="baseline='cox'"):
        fit_joint(sessions, LONG, events, "Surv(time, relapse) ~ 1", session="week", baseline="cox")


def test_slope_association_is_null_when_only_the_value_matters(sim):
    sessions, events, truth, _ = sim
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        both = fit_joint(sessions, LONG, events, "Surv(time, relapse) ~ female", session="week", association="both")
    p = both.params.set_index("term")
    assert abs(p.loc["association_slope", "estimate"] / p.loc["association_slope", "std_error"]) < 3.5
    assert abs((p.loc["association", "estimate"] - truth["alpha"]) / p.loc["association", "std_error"]) < 3.5
