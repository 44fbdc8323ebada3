"""The panel fits follow the package vocabulary: session=, conf_level=, n_draws=, a recorded seed, OptionError,
the result protocol with one paths schema, fit_dpm(data, x, y), ComparisonResult; old names warn."""
import warnings

import numpy as np
import pandas as pd
import pytest

import allianceStats as als
from allianceStats.comparison import ComparisonResult
from allianceStats.errors import OptionError, SchemaError
from allianceStats.panel import compare_panel, dpm_syntax
from allianceStats.results import Result, data_sha256

V2 = ["alliance", "outcome"]
KW = dict(waves=[1, 2, 3], constraints="lagged")


@pytest.fixture(scope="module")
def small(panel_long):
    return panel_long[panel_long["session"] <= 3].reset_index(drop=True)


@pytest.fixture(scope="module")
def riclpm(small):
    return als.fit_riclpm(small, V2, **KW)


def test_result_protocol_and_provenance(riclpm, small):
    assert isinstance(riclpm, Result)
    assert isinstance(riclpm.n_obs, int) and riclpm.n_obs == small["client"].nunique()
    assert riclpm.n_obs_by_group == (riclpm.n_obs,)
    assert riclpm.converged is True and riclpm.conf_level == 0.95
    prov = riclpm.provenance
    assert prov.function == "fit_riclpm" and prov.elapsed_seconds > 0 and prov.seed is None
    assert prov.data_sha256 == data_sha256(small)  # the table the user passed, not the pivoted one
    assert prov.options["model"] == "RI-CLPM" and prov.options["constraints"] == "lagged"
    assert repr(riclpm).startswith("<PanelResult: RI-CLPM of alliance, outcome, 3 waves")
    assert "95% confidence intervals" in riclpm.summary()


def test_paths_schema_covers_every_lagged_path(riclpm):
    paths = riclpm.paths
    assert list(paths.columns[:10]) == ["lhs", "op", "rhs", "label", "estimate", "std_error", "statistic",
                                        "p_value", "ci_lower", "ci_upper"]
    assert len(paths) == 2 * 4 and set(paths["kind"]) == {"autoregressive", "cross-lagged"}
    row = paths.query("lhs == 'w_outcome_3' and rhs == 'w_alliance_2'").iloc[0]
    assert (row["outcome"], row["predictor"], row["wave_from"], row["wave_to"]) == ("outcome", "alliance", 2, 3)
    assert row["estimate"] == riclpm.params.query("lhs == 'w_outcome_3' and rhs == 'w_alliance_2'")["estimate"].item()


def test_conf_level_reaches_every_table(small, riclpm):
    narrow = als.fit_riclpm(small, V2, conf_level=0.5, **KW)
    assert narrow.conf_level == 0.5 and narrow.cross_lagged.attrs["conf_level"] == 0.5
    a, b = riclpm.cross_lagged, narrow.cross_lagged
    np.testing.assert_allclose(a["estimate"], b["estimate"])
    assert ((b["ci_upper"] - b["ci_lower"]) < (a["ci_upper"] - a["ci_lower"])).all()
    assert narrow.provenance.options["conf_level"] == 0.5


def test_old_argument_names_warn_and_give_the_same_fit(small, riclpm):
    visits = small.rename(columns={"session": "visit"})
    with pytest.warns(FutureWarning, match="wave= is renamed session="):
        old = als.fit_riclpm(visits, V2, wave="visit", **KW)
    new = als.fit_riclpm(visits, V2, session="visit", **KW)
    assert old.fit["loglik"] == new.fit["loglik"] == pytest.approx(riclpm.fit["loglik"], rel=1e-12)
    with pytest.warns(FutureWarning, match="n_boot= is renamed n_draws="):
        als.fit_clpm(small, V2, n_boot=5, se="bootstrap", seed=1, **KW)
    with pytest.warns(FutureWarning, match="PanelResult.level is renamed PanelResult.conf_level"):
        assert riclpm.level == 0.95


def test_bootstrap_seed_is_recorded(small):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.ConvergenceWarning)
        res = als.fit_clpm(small, V2, se="bootstrap", n_draws=10, **KW)
        again = als.fit_clpm(small, V2, se="bootstrap", n_draws=10, seed=res.provenance.seed, **KW)
    assert isinstance(res.provenance.seed, int) and res.provenance.seed == res.sem.provenance.seed
    pd.testing.assert_frame_equal(res.cross_lagged, again.cross_lagged)


def test_fit_dpm_takes_x_then_y(panel_long):
    by_keyword = als.fit_dpm(panel_long, x="alliance", y="outcome")
    assert by_keyword.variables == ("outcome", "alliance")
    assert by_keyword.cross_lagged["predictor"].eq("alliance").all()
    with pytest.warns(FutureWarning, match=r"read in the order \(data, x, y\).*x='alliance' is the predictor"):
        positional = als.fit_dpm(panel_long, "alliance", "outcome")
    assert positional.fit["loglik"] == by_keyword.fit["loglik"]
    with pytest.raises(OptionError, match=r"since allianceStats 0.2.0 the order is fit_dpm\(data, x, y\)"):
        als.fit_dpm(panel_long, "outcome", ["alliance", "needs"])  # an old-order call with two predictors
    with pytest.warns(FutureWarning, match=r"order \(x, y\)"):
        text = dpm_syntax("alliance", "outcome", 4)
    assert text == dpm_syntax(x="alliance", y="outcome", waves=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # keywords: no warning
        dpm_syntax(x="alliance", y="outcome", waves=4)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(constraints="equal"), OptionError, "constraints='equal' is not supported"),
    (dict(predictors_on="both", predictors="severity"), OptionError, "predictors_on='both' is not supported"),
    (dict(ri_variances="none"), OptionError, "ri_variances='none' is not supported"),
    (dict(wide="no"), OptionError, "wide='no' must be True or False"),
    (dict(equal_means=1), OptionError, "equal_means=1 must be True or False"),
    (dict(conf_level=1.5), OptionError, "conf_level=1.5 must be a number between 0 and 1"),
    (dict(se="jackknife"), OptionError, "se='jackknife' is not supported"),
    (dict(client="id"), SchemaError, "column 'id' not found"),
])
def test_bad_values(small, kwargs, error, match):
    with pytest.raises(error, match=match):
        als.fit_riclpm(small, V2, waves=[1, 2, 3], **kwargs)


def test_float_session_numbers_name_columns_as_integers(small, riclpm):
    res = als.fit_riclpm(small.assign(session=small["session"].astype(float)), V2, **KW)
    assert "alliance_1" in res.data.columns and res.waves == (1, 2, 3)
    assert res.fit["loglik"] == pytest.approx(riclpm.fit["loglik"], rel=1e-12)


def test_compare_panel_result(small, riclpm):
    clpm = als.fit_clpm(small, V2, **KW)
    result = compare_panel(clpm, riclpm)
    assert isinstance(result, ComparisonResult) and isinstance(result, Result)
    assert result.table["model"].tolist() == ["RI-CLPM", "CLPM"] and result.n_obs == riclpm.n_obs
    assert result.provenance.data_sha256 == riclpm.provenance.data_sha256
    assert np.isfinite(result.table["p_value_chibar"].iloc[1])
    with pytest.raises(OptionError, match="compare_panel\\(\\) compares results of fit_riclpm"):
        compare_panel(riclpm, riclpm.sem)


# ---------------------------------------------------------------------------------------------- issue 12
def _few_clients(n_clients=20, n_waves=6, p_missing=0.15, seed=0):
    """Two variables over ``n_waves`` sessions for few clients, sessions after the first missing at random."""
    rng = np.random.default_rng(seed)
    stable = rng.normal(size=(n_clients, 2))
    rows = []
    for i in range(n_clients):
        within = np.zeros(2)
        for t in range(1, n_waves + 1):
            within = 0.4 * within + rng.normal(size=2)
            if t > 1 and rng.random() < p_missing:
                continue
            rows.append({"client": f"c{i:02d}", "session": t, "alliance": 4 + stable[i, 0] + within[0],
                         "outcome": 20 + 3 * (stable[i, 1] + within[1])})
    return pd.DataFrame(rows)


def test_riclpm_on_20_clients_by_6_waves_is_fitted_not_an_einsum_error():
    """Issue 12: 20 clients x 6 waves (12 observed variables, FIML) stopped in numpy's einsum: the saturated
    model's EM drove its covariance matrix singular (its likelihood has no maximum here) and the pattern inverse
    was None. Now the model is fitted, and the chi-square, which needs that saturated model, is NaN with a
    DataWarning saying why."""
    from allianceStats.errors import DataWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("always", DataWarning)
        with pytest.warns(DataWarning, match=r"saturated model \(H1\) has no maximum-likelihood estimate"):
            res = als.fit_riclpm(_few_clients(), V2)
    assert res.n_obs == 20 and res.waves == (1, 2, 3, 4, 5, 6)
    assert np.isnan(res.fit["chisq"]) and np.isfinite(res.fit["loglik"])
    assert np.isfinite(res.cross_lagged["estimate"]).all()


def test_complete_data_with_fewer_clients_than_variables_has_no_chi_square():
    """Complete data, 8 clients, 12 observed variables: the sample covariance is singular, so the saturated
    log-likelihood is unbounded; the chi-square was reported as 0 (p = 1, a perfect fit) and is NaN now."""
    from allianceStats.errors import DataWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("always", DataWarning)
        with pytest.warns(DataWarning, match=r"covariance matrix is singular"):
            res = als.fit_clpm(_few_clients(n_clients=8, p_missing=0.0), V2)
    assert np.isnan(res.fit["chisq"]) and not res.fit["pvalue"] == 1.0


@pytest.mark.parametrize("waves", [0, 3, 2.5, True, "12", [0], [], [1], [1, 1, 2]])
def test_waves_that_are_not_session_numbers_are_an_option_error(small, waves):
    """Issue 12: waves=0 must not mean "every wave" (it raised a TypeError from the reshape)."""
    with pytest.raises(OptionError, match=r"waves="):
        als.fit_riclpm(small, V2, waves=waves)
    with pytest.raises(OptionError, match=r"waves="):
        als.fit_clpm(small, V2, waves=waves)


@pytest.mark.filterwarnings("ignore:the information matrix is singular")
def test_an_unidentified_model_is_not_reported_as_converged(small):
    """Issue 12: an RI-CLPM over 2 waves (17 parameters, 14 moments) said converged: True with NaN SEs."""
    from allianceStats.errors import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match="the RI-CLPM is not identified: it has 17 free parameters but "
                                                "the data give only 14"):
        res = als.fit_riclpm(small, V2, waves=[1, 2])
    assert res.converged is False and res.convergence.converged is False
    assert "not identified" in res.convergence.message and "at least 3 waves" in res.convergence.message
    assert "converged: False" in res.summary() and "NOT converged" in repr(res)
    # just identified (df = 0) is identified: the 2-wave CLPM stays converged
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert als.fit_clpm(small, V2, waves=[1, 2]).converged is True
