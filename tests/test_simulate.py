"""The SDT-cycle simulator recovers its own truth on a large draw (tolerance: 4 standard errors, from the data)."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from allianceStats.data.example import EXAMPLE_PATH, make_example
from allianceStats.errors import OptionError
from allianceStats.simulate import sdt_cycle
from allianceStats.simulate.sdt import STATE

Z = 4.0


@pytest.fixture(scope="module")
def big():
    return sdt_cycle(400, 15, 9, seed=20240601, p_missing_measure=0.0)


@pytest.fixture(scope="module")
def big_no_dropout():
    """Without dropout: retention selects on early alliance, which would shrink completers' variances."""
    return sdt_cycle(400, 15, 9, seed=20240602, p_missing_measure=0.0, dropout_intercept=-60.0)


def _within(data, truth, var):
    """Observed value minus its mean, trend, therapist and client parts: the true within-client part."""
    ce = truth["client_effects"].set_index("client")
    te = truth["therapist_effects"].set_index("therapist")
    part = truth["means"][var] + truth["slopes"][var] * (data["session"] - 1) + data["client"].map(ce[var])
    if var in te.columns:
        part = part + data["therapist"].map(te[var])
    return data[var] - part


def test_session_one_means(big):
    data, truth = big
    first = data[data["session"] == 1]
    for var in ("alliance", "motivation", "outcome", "empathy"):
        se = first.groupby("therapist")[var].mean().std(ddof=1) / np.sqrt(first["therapist"].nunique())
        assert abs(first[var].mean() - truth["means"][var]) < Z * se, var


def test_client_level_icc_from_distant_sessions(big_no_dropout):
    """cov(x_1, x_9) of the same client = therapist + client variance + within autocovariance at lag 8."""
    data, truth = big_no_dropout
    for var in ("alliance", "outcome", "motivation"):
        r = data[var] - data.groupby("session")[var].transform("mean")
        wide = (pd.DataFrame({"c": data["client"], "s": data["session"], "r": r})
                .pivot(index="c", columns="s", values="r"))
        pair = wide[[1, 9]].dropna()
        a, b = pair[1].to_numpy(), pair[9].to_numpy()
        prod = (a - a.mean()) * (b - b.mean())
        est, se = prod.mean(), prod.std(ddof=1) / np.sqrt(len(prod))
        sd = truth["sd"]
        k = STATE.index(var)
        phi = np.linalg.matrix_power(_transition(truth), 8)
        autocov = (phi @ truth["stationary_cov"].to_numpy())[k, k]
        expected = sd["therapist"][var] ** 2 + sd["client"][var] ** 2 + autocov
        assert abs(est - expected) < Z * se, (var, est, expected, se)
        total = sd["therapist"][var] ** 2 + sd["client"][var] ** 2 + sd["within"][var] ** 2
        assert truth["icc"][var]["client_and_therapist"] == pytest.approx((total - sd["within"][var] ** 2) / total)


def _transition(truth):
    from allianceStats.simulate.sdt import _within_system
    C, L, _, _ = _within_system(truth["params"])
    return np.linalg.inv(np.eye(7) - C) @ L


def test_therapist_variance_of_outcome(big):
    data, truth = big
    ce = truth["client_effects"]
    # realised therapist effects are in truth; their spread estimates the population SD
    te = truth["therapist_effects"]["outcome"]
    se = te.std(ddof=1) / np.sqrt(2 * (len(te) - 1))
    assert abs(te.std(ddof=1) - truth["sd"]["therapist"]["outcome"]) < Z * se
    assert set(ce["therapist"]) == set(data["therapist"])


def test_within_client_paths_recovered_by_ols_on_true_within_parts(big):
    data, truth = big
    d = data.sort_values(["client", "session"]).copy()
    for v in ("alliance", "engagement", "outcome"):
        d[f"w_{v}"] = _within(d, truth, v)
    te = truth["therapist_effects"].set_index("therapist")
    for b in ("empathy", "autonomy_support"):
        d[f"w_{b}"] = d[b] - truth["means"][b] - d["therapist"].map(te[b])
    g = d.groupby("client")
    consecutive = g["session"].diff() == 1
    for v in ("alliance", "engagement", "outcome"):
        d[f"lag_{v}"] = g[f"w_{v}"].shift(1).where(consecutive)
    d = d.dropna(subset=["lag_alliance"])
    paths = truth["within_paths"]
    fit_y = sm.OLS(d["w_outcome"], d[["lag_outcome", "lag_alliance", "w_engagement"]]).fit()
    expected_y = [paths["lag1"]["outcome -> outcome"], paths["lag1"]["alliance -> outcome"],
                  paths["contemporaneous"]["engagement -> outcome"]]
    assert np.all(np.abs(fit_y.params.to_numpy() - expected_y) < Z * fit_y.bse.to_numpy()), fit_y.params
    fit_a = sm.OLS(d["w_alliance"], d[["lag_alliance", "lag_engagement", "lag_outcome", "w_empathy",
                                       "w_autonomy_support"]]).fit()
    expected_a = [paths["lag1"]["alliance -> alliance"], paths["lag1"]["engagement -> alliance"],
                  paths["lag1"]["outcome -> alliance"], paths["contemporaneous"]["empathy -> alliance"],
                  paths["contemporaneous"]["autonomy_support -> alliance"]]
    assert np.all(np.abs(fit_a.params.to_numpy() - expected_a) < Z * fit_a.bse.to_numpy()), fit_a.params


def test_dropout_hazard_recovered_by_discrete_time_logit(big):
    data, truth = big
    ce = truth["client_effects"]
    n_sessions = int(data["session"].max())
    rows = []
    for t in range(2, n_sessions):
        at_risk = ce[ce["last_session"] >= t]
        event = (at_risk["dropped_out"] & (at_risk["last_session"] == t)).astype(float)
        rows.append(pd.DataFrame({"event": event.to_numpy(), "x": at_risk["early_alliance"].to_numpy()
                                  - truth["dropout"]["centre"]}))
    pp = pd.concat(rows)
    fit = sm.Logit(pp["event"], sm.add_constant(pp["x"])).fit(disp=0)
    expected = [truth["dropout"]["intercept"], truth["dropout"]["early_alliance"]]
    assert np.all(np.abs(fit.params.to_numpy() - expected) < Z * fit.bse.to_numpy())
    # dropout is flagged once, on the client's last observed row
    flagged = data[data["dropout"] == 1]
    assert flagged["client"].is_unique
    last = data.groupby("client")["session"].max()
    assert (flagged.set_index("client")["session"] == last[flagged["client"]]).all()


def test_same_seed_same_data_and_bad_arguments():
    a, _ = sdt_cycle(2, 3, 4, seed=9)
    b, _ = sdt_cycle(2, 3, 4, seed=9)
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(OptionError, match="unknown effect"):
        sdt_cycle(2, 3, 4, seed=1, alliance_to_nothing=1.0)
    with pytest.raises(OptionError, match="n_sessions"):
        sdt_cycle(2, 3, 1, seed=1)
    with pytest.raises(OptionError, match="explosive"):
        sdt_cycle(2, 3, 4, seed=1, phi_alliance=1.2)


def test_bundled_example_equals_its_generator():
    shipped = pd.read_csv(EXAMPLE_PATH)
    regenerated, _ = make_example()
    pd.testing.assert_frame_equal(shipped, regenerated, check_dtype=False, atol=1e-9, rtol=0)


# --- issue 11: the seed each data set was drawn with is recorded; option errors; the designs' vocabulary ----

def test_truth_records_the_seed_and_an_unseeded_draw_can_be_repeated():
    from allianceStats.simulate import designs

    assert sdt_cycle(2, 3, 4, seed=8)[1]["seed"] == 8
    data, truth = sdt_cycle(2, 3, 4, seed=None)
    assert isinstance(truth["seed"], int)
    pd.testing.assert_frame_equal(sdt_cycle(2, 3, 4, seed=truth["seed"])[0], data)
    seq = np.random.SeedSequence(5, spawn_key=(40, 0))
    d1, t1 = designs.mediation(40, seed=seq)
    assert t1["seed"] == {"entropy": 5, "spawn_key": (40, 0)}
    again = np.random.SeedSequence(t1["seed"]["entropy"], spawn_key=t1["seed"]["spawn_key"])
    pd.testing.assert_frame_equal(designs.mediation(40, seed=again)[0], d1)
    for make in (lambda s: designs.regression(10, seed=s), lambda s: designs.within_between(5, 3, seed=s),
                 lambda s: designs.riclpm(10, 3, seed=s), lambda s: designs.multilevel_mediation(5, 3, seed=s)):
        assert make(3)[1]["seed"] == 3
    with pytest.raises(OptionError, match="seed=-1"):
        designs.regression(10, seed=-1)
    with pytest.raises(OptionError, match="seed=1.5"):
        sdt_cycle(2, 3, 4, seed=1.5)


def test_riclpm_design_counts_sessions_and_the_old_argument_warns():
    from allianceStats.simulate import designs

    new, _ = designs.riclpm(20, 4, seed=2)
    with pytest.warns(FutureWarning, match="argument n_waves= is renamed n_sessions="):
        old, _ = designs.riclpm(20, n_waves=4, seed=2)
    pd.testing.assert_frame_equal(new, old)
    assert sorted(new["session"].unique()) == [1, 2, 3, 4]
    with pytest.raises(OptionError, match="3 waves"):
        designs.riclpm(20, 2, seed=2)
    with pytest.raises(OptionError, match="not stationary"):
        designs.riclpm(20, 4, lagged=[[1.1, 0], [0, 0.2]], seed=2)


# --- issue 12: the same seed gives the same data on every machine (no LAPACK-dependent factorisation) --------

class _NoMultivariateNormal:
    """A Generator stand-in whose multivariate_normal fails: the simulators must draw through a Cholesky factor."""

    def __init__(self, rng):
        self._rng = rng

    def multivariate_normal(self, *args, **kwargs):
        raise AssertionError("multivariate_normal was called: its SVD depends on the LAPACK build")

    def __getattr__(self, name):
        return getattr(self._rng, name)


@pytest.fixture
def no_multivariate_normal(monkeypatch):
    from allianceStats.simulate import _seed, designs, sdt

    def guarded(seed):
        rng, recorded = _seed.generator(seed)
        return _NoMultivariateNormal(rng), recorded

    monkeypatch.setattr(sdt, "generator", guarded)
    monkeypatch.setattr(designs, "generator", guarded)


def test_simulators_never_call_multivariate_normal(no_multivariate_normal):
    from allianceStats.simulate import designs

    data, _ = sdt_cycle(3, 4, 5, seed=1)
    assert len(data) > 0
    assert len(designs.riclpm(30, 4, seed=1)[0]) == 120
    assert len(designs.multilevel_mediation(10, 3, seed=1)[0]) == 30
    assert len(make_example()[0]) == len(pd.read_csv(EXAMPLE_PATH))


def test_no_multivariate_normal_in_the_simulation_and_power_sources():
    import pathlib

    import allianceStats

    root = pathlib.Path(allianceStats.__file__).parent
    offenders = [str(p.relative_to(root)) for folder in ("simulate", "power_analysis")
                 for p in (root / folder).glob("*.py")
                 if "multivariate_normal(" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_correlated_draws_are_z_times_the_cholesky_factor():
    """The draw is a fixed function of the standard normals: z @ chol(S).T (unique for a PD matrix)."""
    from allianceStats.simulate._seed import correlated_normal

    S = np.array([[1.0, 0.3, 0.2], [0.3, 2.0, -0.4], [0.2, -0.4, 0.5]])
    x = correlated_normal(np.random.default_rng(4), S, 7, mean=[1.0, 2.0, 3.0])
    z = np.random.default_rng(4).standard_normal((7, 3))
    np.testing.assert_array_equal(x, z @ np.linalg.cholesky(S).T + [1.0, 2.0, 3.0])


def test_semidefinite_covariance_gets_a_deterministic_factor_and_impossible_ones_an_error():
    from allianceStats.simulate import designs
    from allianceStats.simulate._seed import cholesky_factor, correlated_normal

    S = np.array([[1.0, 1.0, 0.5], [1.0, 1.0, 0.5], [0.5, 0.5, 1.0]])  # correlation 1 between the first two
    L = cholesky_factor(S)
    np.testing.assert_allclose(L @ L.T, S, atol=1e-12)
    assert np.all(np.triu(L, 1) == 0) and L[1, 1] == 0
    x = correlated_normal(np.random.default_rng(2), S, 50)
    np.testing.assert_allclose(x[:, 0], x[:, 1], atol=1e-12)
    d, _ = designs.riclpm(20, 3, ri_cor=1.0, seed=3)  # perfectly correlated random intercepts are allowed
    assert len(d) == 60
    with pytest.raises(OptionError, match="not positive semi-definite .smallest eigenvalue"):
        cholesky_factor([[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]], what="trait covariance")
    with pytest.raises(OptionError, match="trait covariance"):
        sdt_cycle(2, 3, 4, seed=1, trait_correlation=-0.9)
    with pytest.raises(OptionError, match="sigma_ab"):
        designs.multilevel_mediation(10, 3, sigma_ab=0.5, seed=1)


def test_codebook_states_the_numpy_version_method_and_counts_of_the_shipped_file():
    text = (EXAMPLE_PATH.parent / "codebook.md").read_text(encoding="utf-8")
    shipped = pd.read_csv(EXAMPLE_PATH)
    assert "numpy 2." in text and "Cholesky" in text and "multivariate_normal" in text
    n_drop = int(shipped.groupby("client")["dropout"].max().sum())
    assert f"{len(shipped)} rows (attended sessions), {shipped['client'].nunique()} clients" in text
    assert f"{n_drop} clients drop out" in text
