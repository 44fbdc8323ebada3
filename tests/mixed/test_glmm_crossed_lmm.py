"""The sparse (crossed / partially crossed) LMM path against lme4 1.1-31 + lmerTest (fixtures/glmm).

Tolerances (element by element): fixed effects, theta, variance components 1e-5 relative; SEs, t statistics
1e-4 relative; Satterthwaite df 1e-3 relative (lmerTest's numDeriv Hessian of the variance parameters vs ours;
both Richardson-extrapolated); REML criterion / deviance and logLik 1e-6 absolute; BLUPs 1e-4 of their largest
absolute value; fitted values 1e-6 relative. Our criterion is at most lme4's default fit's (+1e-8).
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.mixed.result import MixedResult
from allianceStats.mixed.sparse_lmm import fit_sparse_lmm

FIX = Path(__file__).resolve().parent / "fixtures" / "glmm"
REF = json.loads((FIX / "reference.json").read_text())
CASES = {
    "penicillin_reml": ("penicillin.csv", "diameter ~ 1 + (1 | plate) + (1 | sample)", True),
    "penicillin_ml": ("penicillin.csv", "diameter ~ 1 + (1 | plate) + (1 | sample)", False),
    "crossed_ratings_reml": ("sim_crossed_ratings.csv",
                             "rating ~ session0 + (1 + session0 | client) + (1 | therapist) + (1 | rater)", True),
    "crossed_ratings_ml": ("sim_crossed_ratings.csv",
                           "rating ~ session0 + (1 + session0 | client) + (1 | therapist) + (1 | rater)", False),
}


def _a(v):
    return np.atleast_1d(np.array(v, dtype=float))


@pytest.fixture(scope="module")
def fits():
    return {k: fit_sparse_lmm(pd.read_csv(FIX / f), formula, reml=reml) for k, (f, formula, reml) in CASES.items()}


@pytest.mark.parametrize("key", list(CASES))
def test_estimates_match_lme4(fits, key):
    res, ref = fits[key], REF[key]
    assert isinstance(res, MixedResult) and res.converged
    assert res.params.term.tolist() == list(np.atleast_1d(ref["term"]))
    np.testing.assert_allclose(res.params.estimate, _a(ref["estimate"]), rtol=1e-5)
    np.testing.assert_allclose(res.params.std_error, _a(ref["std_error"]), rtol=1e-4)
    np.testing.assert_allclose(res.params.statistic, _a(ref["statistic"]), rtol=1e-4)
    np.testing.assert_allclose(res.params.df, _a(ref["df"]), rtol=1e-3)
    np.testing.assert_allclose(res.theta, _a(ref["theta"]), rtol=1e-5, atol=1e-7)
    assert res.varcomp.group.tolist() == ref["varcomp"]["group"]
    np.testing.assert_allclose(res.varcomp.vcov, _a(ref["varcomp"]["vcov"]), rtol=1e-5)
    np.testing.assert_allclose(res.varcomp.sdcor, _a(ref["varcomp"]["sdcor"]), rtol=1e-5)
    assert abs(res.sigma - ref["sigma"]) < 1e-5 * ref["sigma"]


@pytest.mark.parametrize("key", list(CASES))
def test_criterion_fit_and_blups_match_lme4(fits, key):
    res, ref = fits[key], REF[key]
    assert abs(res.deviance - ref["deviance"]) < 1e-6
    assert res.deviance <= ref["deviance_default"] + 1e-8
    assert abs(res.loglik - ref["loglik"]) < 1e-6
    assert abs(res.aic - ref["aic"]) < 1e-6 and abs(res.bic - ref["bic"]) < 1e-6
    assert res.n_obs == ref["nobs"] and res.n_groups == {k: int(v) for k, v in ref["ngroups"].items()}
    for fac, r in ref["ranef"].items():
        ours = res.ranef()[fac].loc[r["level"]]
        for col, vals in r["values"].items():
            v = _a(vals)
            np.testing.assert_allclose(ours[col], v, atol=1e-4 * np.abs(v).max())
    np.testing.assert_allclose(res.fitted(), _a(ref["fitted"]), rtol=1e-6)


def test_penicillin_values_in_issue_14_scale(fits):
    # issue 14 quotes lme4's SDs .846703, 1.931614, .549923 and REML criterion 330.8606; the JSON holds them
    ref = REF["penicillin_reml"]
    assert round(fits["penicillin_reml"].deviance, 4) == round(ref["deviance"], 4)


# ------------------------------------------------------------------ the crossed path through fit_mlm
def test_fit_mlm_routes_penicillin_to_the_crossed_path():
    """fit_mlm on a crossed design (plates crossed with samples) gives lme4's fit, recorded as fit_mlm."""
    from allianceStats.mixed import fit_mlm

    ref = REF["penicillin_reml"]
    res = fit_mlm(pd.read_csv(FIX / "penicillin.csv"), CASES["penicillin_reml"][1])
    assert res.converged and res.provenance.function == "fit_mlm"
    assert res.provenance.options["engine"].startswith("sparse")
    np.testing.assert_allclose(res.varcomp.sdcor, _a(ref["varcomp"]["sdcor"]), rtol=1e-5)
    assert abs(res.deviance - ref["deviance"]) < 1e-6
    np.testing.assert_allclose(res.params.estimate, _a(ref["estimate"]), rtol=1e-5)
    np.testing.assert_allclose(res.params.df, _a(ref["df"]), rtol=1e-3)


def test_fit_mlm_with_three_grouping_factors_equals_the_sparse_fit(fits):
    from allianceStats.mixed import fit_mlm

    f, formula, reml = CASES["crossed_ratings_ml"]
    res = fit_mlm(pd.read_csv(FIX / f), formula, reml=reml)
    assert res.provenance.function == "fit_mlm"
    np.testing.assert_allclose(res.params.estimate, fits["crossed_ratings_ml"].params.estimate, rtol=1e-7)
    np.testing.assert_allclose(res.theta, fits["crossed_ratings_ml"].theta, rtol=1e-6)
    assert abs(res.deviance - REF["crossed_ratings_ml"]["deviance"]) < 1e-6


def _penicillin():
    return pd.read_csv(FIX / "penicillin.csv")


@pytest.mark.parametrize("fit", ["fit_mlm", "fit_sparse_lmm"])
def test_crossed_path_refuses_a_constant_response_and_a_text_id_predictor(fit):
    from allianceStats.errors import SchemaError
    from allianceStats.mixed import fit_mlm

    fn = fit_mlm if fit == "fit_mlm" else fit_sparse_lmm
    pen = _penicillin()
    with pytest.raises(SchemaError, match=rf"(?s)in {fit}:.*'diameter' \(the response\) has the same value 5"):
        fn(pen.assign(diameter=5.0), "diameter ~ 1 + (1 | plate) + (1 | sample)")
    with pytest.raises(SchemaError, match=r"(?s)column 'tube' is text with 144 distinct values.*\(1 \| tube\)"):
        fn(pen.assign(tube=[f"t{i}" for i in range(144)]), "diameter ~ tube + (1 | plate) + (1 | sample)")
    bad = pen.assign(diameter=pen.diameter.astype(float))
    bad.loc[[3, 7], "diameter"] = np.inf
    with pytest.raises(SchemaError, match=r"(?s)'diameter'.*infinite"):
        fn(bad, "diameter ~ 1 + (1 | plate) + (1 | sample)")


def test_crossed_path_names_a_response_without_residual_variance():
    """A response that is exactly plate effect + sample effect leaves no residual variance: the criterion runs
    to −∞. The crossed path says so (IdentificationError), as the nested engine does."""
    from allianceStats.errors import IdentificationError
    from allianceStats.mixed import fit_mlm

    pen = _penicillin()
    rng = np.random.default_rng(1)
    plate = dict(zip(pen.plate.unique(), rng.normal(size=24)))
    sample = dict(zip(pen["sample"].unique(), rng.normal(size=6)))
    exact = pen.assign(diameter=pen.plate.map(plate) + pen["sample"].map(sample))
    with pytest.raises(IdentificationError, match=r"exact linear function of the fixed effects and the random "
                                                  r"effects of plate, sample"):
        fit_mlm(exact, "diameter ~ 1 + (1 | plate) + (1 | sample)")
    with pytest.raises(IdentificationError, match="reproduce the response 'diameter' exactly"):
        fit_mlm(pen.assign(x=pen.diameter * 2.0 + 1), "diameter ~ x + (1 | plate) + (1 | sample)")


def test_crossed_path_satterthwaite_df_are_scale_free():
    """The variance-parameter covariance is cut on the σ-scaled Hessian, as in the nested engine: a response in
    the millions gets the same df and no spurious 'non-positive eigenvalue' warning."""
    import warnings

    from allianceStats.mixed import fit_mlm

    pen = _penicillin()
    formula = "diameter ~ 1 + (1 | plate) + (1 | sample)"
    base = fit_mlm(pen, formula)
    for factor in (1e6, 1e-4):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            moved = fit_mlm(pen.assign(diameter=pen.diameter * factor), formula)
        np.testing.assert_allclose(moved.params.df, base.params.df, rtol=1e-4)
        np.testing.assert_allclose(moved.params.std_error, factor * base.params.std_error, rtol=1e-6)


def test_crossed_path_does_not_report_df_above_the_number_of_observations(monkeypatch):
    from allianceStats.errors import ConvergenceWarning
    from allianceStats.mixed import fit_mlm, sparse_lmm

    monkeypatch.setattr(sparse_lmm, "satterthwaite_df", lambda vcov, jac, A: np.array([1e6]))
    with pytest.warns(ConvergenceWarning, match=r"Satterthwaite df for '\(Intercept\)' came out larger than the 144"):
        res = fit_mlm(_penicillin(), "diameter ~ 1 + (1 | plate) + (1 | sample)")
    row = res.params.iloc[0]
    assert np.isnan(row["df"]) and np.isnan(row["p_value"]) and np.isnan(row["ci_upper"])
    assert np.isfinite(row["estimate"]) and np.isfinite(row["std_error"])
