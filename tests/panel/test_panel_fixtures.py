"""Our fit functions vs lavaan 0.6.14 on our own generated session data (FIML, dropout, scattered missing).

``fixtures/panel_long.csv`` (400 clients x 5 sessions, long, dropout and 5% missing values) and
``fixtures/lavaan_panel.json`` come from ``fixtures/make_fixtures.R``, which fitted the syntax our builders
wrote (``fixtures/syntax/*.lav``) with ``lavaan(model, data, missing = "ml", meanstructure = TRUE)``.
Here the same models are fitted from the LONG table through our pivot, so the test covers pivot, syntax,
engine and tidy tables together.

Tolerances (per quantity, never averaged): estimates 1e-5 relative, or 2e-5 of the SE for estimates near 0
(lavaan's optimiser precision); standard errors 1e-4 relative; log-likelihood, chi-square, AIC, BIC 1e-6
relative; CFI, TLI, RMSEA, SRMR 1e-5 absolute. Our log-likelihood must be at least lavaan's (minus 1e-8).

One looser tolerance, justified: on the CLPM, lavaan's nlminb stops 8e-8 log-likelihood units below our
maximum (a restart from its own solution does not move it; a tighter rel.tol makes nlminb fail), so its
estimates sit up to 3e-4 SE from ours along a flat direction. For the CLPM and the RI-CLPM with zero
random-intercept variances (the same model) estimates are compared to 5e-4 SE (SEs still to 1e-4 relative);
that the maximum is ours is asserted through the log-likelihood.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from panel_reference import lavaan_params

import allianceStats as als
from allianceStats.comparison import COMPARISON_COLUMNS
from allianceStats.errors import SchemaError
from allianceStats.panel import compare_panel

V3 = ["alliance", "needs", "outcome"]
V2 = ["alliance", "outcome"]

MODELS = {
    "own_riclpm": lambda d: als.fit_riclpm(d, V3),
    "own_clpm": lambda d: als.fit_clpm(d, V3),
    "own_riclpm_lagged": lambda d: als.fit_riclpm(d, V3, constraints="lagged"),
    "own_riclpm_stationary": lambda d: als.fit_riclpm(d, V3, constraints="stationary"),
    "own_riclpm_ri0": lambda d: als.fit_riclpm(d, V3, ri_variances="zero"),
    "own_riclpm_z": lambda d: als.fit_riclpm(d, V2, predictors="severity", predictors_on="ri"),
    "own_riclpm_mg": lambda d: als.fit_riclpm(d, V2, group="arm"),
    "own_riclpm_mg_lagged": lambda d: als.fit_riclpm(d, V2, group="arm", group_equal="lagged"),
    "own_dpm": lambda d: als.fit_dpm(d, x="alliance", y="outcome"),
}


@pytest.fixture(scope="module")
def fits(panel_long):
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", als.ConvergenceWarning)  # every reference model must converge here
        for name, fit in MODELS.items():
            out[name] = fit(panel_long)
    return out


def _close(ours, theirs, rel, floor):
    return abs(ours - theirs) <= rel * abs(theirs) + floor


# (estimate floor in SEs, SE relative tolerance) per model; see the module docstring for the looser pair
TOLERANCE = {"own_clpm": (5e-4, 1e-4), "own_riclpm_ri0": (5e-4, 1e-4)}


def test_pivot_matches_r_reshape(panel_long, lavaan_panel):
    wide = als.to_wide(panel_long, V3, keep=["severity", "arm"])
    assert len(wide) == lavaan_panel["n_clients"] == panel_long["client"].nunique()
    assert list(wide.columns[:8]) == ["client", "severity", "arm", "alliance_1", "alliance_2", "alliance_3",
                                      "alliance_4", "alliance_5"]
    dropped_out = panel_long.groupby("client")["session"].max() < 5
    assert dropped_out.sum() > 40  # the fixture has real dropout: those clients keep their row, later waves NaN
    some = dropped_out[dropped_out].index[0]
    last = panel_long.loc[panel_long["client"] == some, "session"].max()
    assert wide.loc[wide["client"] == some, f"outcome_{last + 1}"].isna().all()
    assert wide[[f"outcome_{t}" for t in range(1, 6)]].isna().to_numpy().mean() > 0.1


@pytest.mark.parametrize("name", sorted(MODELS))
def test_against_lavaan(name, fits, lavaan_panel):
    res = fits[name]
    ref = lavaan_panel["models"][name]
    f = ref["fit"]
    assert res.sem.convergence.converged and ref["converged"]
    assert res.fit["loglik"] >= f["logl"] - 1e-8  # we reach at least lavaan's maximum
    est_floor, se_rel = TOLERANCE.get(name, (2e-5, 1e-4))
    assert res.n_obs == sum(np.atleast_1d(ref["nobs"])) == sum(res.n_obs_by_group)
    assert res.fit["npar"] == f["npar"] and res.fit["df"] == f["df"]
    for ours, theirs in (("loglik", "logl"), ("chisq", "chisq"), ("aic", "aic"), ("bic", "bic"),
                         ("baseline_chisq", "baseline.chisq")):
        if f.get(theirs) is None:
            continue  # lavaan's baseline fit failed when started from user values (stationary model)
        assert res.fit[ours] == pytest.approx(f[theirs], rel=1e-6), ours
    for key in ("cfi", "tli", "rmsea", "srmr"):
        if f.get(key) is None:
            assert name == "own_riclpm_stationary"  # started from user values: lavaan fits no baseline model
            continue
        assert res.fit[key] == pytest.approx(f[key], abs=1e-5), key
    labels = list(res.sem.group_labels)
    ref_labels = list(np.atleast_1d(ref["group_labels"])) or [None]
    ours = res.params.set_index(["lhs", "op", "rhs", "group"])
    n = 0
    for row in lavaan_params(ref).itertuples(index=False):
        if not row.se:
            continue
        g = row.group if labels == [None] or len(labels) == 1 else labels.index(ref_labels[row.group - 1]) + 1
        key = (row.lhs, row.op, row.rhs or "", g)
        if key not in ours.index and row.op == "~~":
            key = (row.rhs, row.op, row.lhs, g)  # a covariance may be stored in either order
        got = ours.loc[key]
        assert _close(got["estimate"], row.est, 1e-5, est_floor * row.se), (key, got["estimate"], row.est)
        assert _close(got["std_error"], row.se, se_rel, 0.0), (key, got["std_error"], row.se)
        n += 1
    assert n == f["npar"] or "lagged" in name or "stationary" in name or name == "own_dpm"


def test_stationary_reaches_the_maximum_lavaan_misses_by_default(fits, lavaan_panel):
    """lavaan's default start ends at chi-square 308 with negative RI variances; ours finds the maximum."""
    ri = fits["own_riclpm_stationary"].params.query("op == '~~' and lhs == rhs and lhs.str.startswith('RI_')")
    assert (ri["estimate"] > 0).all()
    assert fits["own_riclpm_stationary"].fit["chisq"] < 100


def test_riclpm_without_random_intercepts_equals_clpm(fits):
    """RI-CLPM with the RI variances and covariances fixed to 0 is the CLPM (Hamaker et al. 2015)."""
    ri0, clpm = fits["own_riclpm_ri0"], fits["own_clpm"]
    assert ri0.fit["df"] == clpm.fit["df"]
    assert ri0.fit["loglik"] == pytest.approx(clpm.fit["loglik"], rel=1e-9)
    a = ri0.cross_lagged.set_index(["outcome", "predictor", "wave_to"])
    b = clpm.cross_lagged.set_index(["outcome", "predictor", "wave_to"])
    assert len(a) == len(b) == 3 * 2 * 4
    np.testing.assert_allclose(a["estimate"], b.loc[a.index, "estimate"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(a["std_error"], b.loc[a.index, "std_error"], rtol=1e-5)


def test_tidy_tables_and_naming(fits):
    res = fits["own_riclpm"]
    cl = res.cross_lagged
    assert list(cl.columns) == ["group", "outcome", "predictor", "wave_from", "wave_to", "lhs", "op", "rhs", "label",
                                "estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper", "std_all"]
    row = cl.query("outcome == 'alliance' and predictor == 'outcome' and wave_to == 3").iloc[0]
    assert (row["lhs"], row["op"], row["rhs"], row["wave_from"]) == ("w_alliance_3", "~", "w_outcome_2", 2)
    assert len(cl) == 6 * 4 and len(res.autoregressive) == 3 * 4
    assert res.conf_level == 0.95 and (cl["ci_lower"] < cl["estimate"]).all()
    summary = res.path_summary()
    assert len(summary) == 9 and set(summary["kind"]) == {"autoregressive", "cross-lagged"}
    paths = res.paths
    assert list(paths.columns[:10]) == ["lhs", "op", "rhs", "label", "estimate", "std_error", "statistic", "p_value",
                                        "ci_lower", "ci_upper"]
    assert len(paths) == len(cl) + len(res.autoregressive) == 9 * 4 and (paths["op"] == "~").all()
    assert set(paths.query("kind == 'cross-lagged'")["lhs"]) == set(cl["lhs"])
    assert "w_alliance_3 ~ w_alliance_2 + w_needs_2 + w_outcome_2" in res.to_lavaan()
    assert "lavaan::lavaan(model" in res.r_call() and 'missing = "ml"' in res.r_call()
    assert "Cross-lagged effects" in res.summary()
    clpm = fits["own_clpm"]
    assert "alliance_3 ~ outcome_2" in {f"{r.lhs} ~ {r.rhs}" for r in clpm.cross_lagged.itertuples()}
    assert not clpm.params["lhs"].str.startswith("ph_").any()  # the single-indicator scaffolding is hidden
    dpm = fits["own_dpm"]
    assert dpm.autoregressive["estimate"].nunique() == 1 and dpm.cross_lagged["label"].eq("beta_alliance").all()


def test_compare_clpm_riclpm(fits):
    result = compare_panel(fits["own_clpm"], fits["own_riclpm"])
    table = result.table
    assert list(table.columns) == [*COMPARISON_COLUMNS, "cfi", "rmsea", "rmsea_diff", "p_value_chibar", "note"]
    assert "chi-bar-square" in result.method and result.notes and result.provenance.function == "compare_panel"
    expected = fits["own_clpm"].fit["chisq"] - fits["own_riclpm"].fit["chisq"]
    assert table["chisq_diff"].iloc[1] == pytest.approx(expected)
    assert table["df_diff"].iloc[1] == 54 - 48
    assert 0 <= table["p_value_chibar"].iloc[1] <= table["p_value"].iloc[1]
    # models that differ by more than the random intercepts get no boundary correction
    mixed = compare_panel(fits["own_clpm"], fits["own_riclpm_lagged"]).table
    assert np.isnan(mixed["p_value_chibar"]).all() and (mixed["note"] == "").all()
    # als.compare dispatches panel fits to the SEM chi-square difference test
    generic = als.compare(fits["own_clpm"], fits["own_riclpm"])
    assert generic.table["chisq_diff"].iloc[1] == pytest.approx(expected)


def test_inputs_not_modified_and_wide_input_equivalent(panel_long, fits):
    before = panel_long.copy()
    wide = als.to_wide(panel_long, V2, keep=["severity"])
    res = als.fit_riclpm(wide, V2, wide=True, predictors="severity", predictors_on="ri")
    pd.testing.assert_frame_equal(panel_long, before)
    assert res.fit["loglik"] == pytest.approx(fits["own_riclpm_z"].fit["loglik"], rel=1e-10)


def test_bad_input(panel_long):
    with pytest.raises(SchemaError, match="'motivation' not found"):
        als.fit_riclpm(panel_long, ["alliance", "motivation"])
    dup = pd.concat([panel_long, panel_long.head(1)])
    with pytest.raises(SchemaError, match="more than one row"):
        als.fit_riclpm(dup, V2)
    with pytest.raises(als.AllianceStatsError, match="distinct value"):
        als.fit_riclpm(panel_long.assign(arm="A"), V2, group="arm")
    with pytest.raises(SchemaError, match="'alliance_7' has no observed value"):
        als.fit_riclpm(panel_long, V2, waves=range(1, 8))
    varying = panel_long.assign(severity=np.arange(len(panel_long)))
    with pytest.raises(SchemaError, match="varies within client"):
        als.fit_riclpm(varying, V2, predictors="severity")
