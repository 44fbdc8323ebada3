"""allianceStats.mediation against lavaan 0.6 (fixtures written by fixtures/make_fixtures.R) and pingouin.

Tolerances (per quantity, never averaged):
- estimates: 1e-7 relative — OLS and lavaan's ML optimum agree to ~1e-12 here; lavaan stops its optimiser
  at a relative gradient ~1e-8 on the defined parameters, so 1e-7 is safe and still catches any model difference.
- standard errors (paths, delta-method effects; ``ci="delta"``) and Wald limits: 1e-6 relative — lavaan inverts
  its expected information numerically (observed agreement ~3e-9); an n - p instead of n divisor would be off by ~1e-2.
- bootstrap percentile limits: within Monte Carlo error. Two independent percentile bootstraps estimate the same
  2.5% / 97.5% quantile with standard error ``s * sqrt(q (1 - q) / B) / phi(z_q)`` each (normal approximation
  of the bootstrap distribution, ``s`` = lavaan's bootstrap SE), i.e. 0.0598 s for lavaan's B = 2000 and
  0.0378 s for our B = 5000; their difference has SD 0.0707 s. We allow 4 SD = 0.283 s per limit.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from allianceStats.mediation import fit_mediation

MODELS = {
    "parallel": dict(x="support", mediators=["autonomy", "competence", "relatedness"], y="motivation",
                     covariates=["baseline"], serial=False),
    "serial": dict(x="support", mediators=["alliance", "needs"], y="engagement", covariates=[], serial=True),
}


def _fit(data, name, **kw):
    spec = dict(MODELS[name])
    return fit_mediation(data, spec.pop("x"), spec.pop("mediators"), spec.pop("y"), **spec, **kw)


@pytest.fixture(scope="module", params=list(MODELS))
def fitted(request, paths_data, lavaan_paths):
    res = _fit(paths_data, request.param, n_draws=5000, seed=20261125)
    return request.param, res, lavaan_paths[request.param]


@pytest.fixture(scope="module", params=list(MODELS))
def fitted_delta(request, paths_data, lavaan_paths):
    """ci="delta": lavaan's ML standard errors (paths) and delta-method ones (effects), Wald tests and intervals."""
    return request.param, _fit(paths_data, request.param, ci="delta"), lavaan_paths[request.param]


def test_effect_estimates_and_delta_se_match_lavaan(fitted_delta):
    _, res, ref = fitted_delta
    want = pd.DataFrame(ref["effects"]).set_index("effect")
    got = res.effects.set_index("effect").loc[want.index]
    np.testing.assert_allclose(got["estimate"], want["estimate"], rtol=1e-7)
    np.testing.assert_allclose(got["std_error"], want["std_error"], rtol=1e-6)
    assert set(res.effects["effect"]) == set(want.index)


def test_paths_match_lavaan_regressions(fitted_delta):
    _, res, ref = fitted_delta
    pe = pd.DataFrame(ref["params"])
    reg = pe[pe["op"] == "~"].set_index(["lhs", "rhs"])
    got = res.paths.set_index(["lhs", "rhs"]).loc[reg.index]
    assert len(got) == len(res.paths)  # every lavaan regression is reported, nothing more
    np.testing.assert_allclose(got["estimate"], reg["est"], rtol=1e-7)
    np.testing.assert_allclose(got["std_error"], reg["se"], rtol=1e-6)
    np.testing.assert_allclose(got["ci_lower"], reg["ci.lower"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got["ci_upper"], reg["ci.upper"], rtol=1e-6, atol=1e-9)
    labelled = reg[reg["label"] != ""]
    assert got.loc[labelled.index, "label"].tolist() == labelled["label"].tolist()


def test_residual_variances_use_ml_divisor_n(fitted):
    _, res, ref = fitted
    pe = pd.DataFrame(ref["params"])
    var = pe[(pe["op"] == "~~") & (pe["lhs"] == pe["rhs"])].set_index("lhs")["est"]
    endogenous = [v for v in var.index if v in res.residual_cov.index]
    assert endogenous, "lavaan reports a residual variance for each endogenous variable"
    np.testing.assert_allclose(np.diag(res.residual_cov.loc[endogenous, endogenous]), var[endogenous], rtol=1e-7)


def test_bootstrap_percentile_limits_within_monte_carlo_error_of_lavaan(fitted):
    _, res, ref = fitted
    boot = pd.DataFrame(ref["bootstrap"]).set_index("effect")
    got = res.effects.set_index("effect").loc[boot.index]
    q = 0.025
    per_draw = np.sqrt(q * (1 - q)) / stats.norm.pdf(stats.norm.ppf(q))
    sd_diff = per_draw * np.sqrt(1 / ref["n_boot"] + 1 / res.n_draws)
    allowed = 4 * sd_diff * boot["boot_se"]
    assert np.all(np.abs(got["ci_lower"] - boot["ci_lower"]) <= allowed)
    assert np.all(np.abs(got["ci_upper"] - boot["ci_upper"]) <= allowed)
    # the bootstrap SD of our draws estimates the same quantity as lavaan's bootstrap SE (SE of an SD ~ s/sqrt(2B))
    sd = res.draws["effects"].std(dim="draw", ddof=1).to_series().loc[boot.index]
    assert np.all(np.abs(sd / boot["boot_se"] - 1) <= 4 * np.sqrt(1 / (2 * ref["n_boot"]) + 1 / (2 * res.n_draws)))


def test_lavaan_tutorial_example_and_pingouin(tutorial):
    import pingouin

    data, ref = tutorial
    pe = pd.DataFrame(ref["params"]).set_index("label")
    res = fit_mediation(data, "X", ["M"], "Y", ci="delta")
    eff = res.effects.set_index("effect")
    for ours, theirs in [("X -> M -> Y", "ab"), ("total", "total"), ("direct", "c")]:
        assert eff.loc[ours, "estimate"] == pytest.approx(pe.loc[theirs, "est"], rel=1e-7)
        assert eff.loc[ours, "std_error"] == pytest.approx(pe.loc[theirs, "se"], rel=1e-6)
    paths = res.paths.set_index("label")
    assert paths.loc["a1", "estimate"] == pytest.approx(pe.loc["a", "est"], rel=1e-7)
    assert paths.loc["b1", "estimate"] == pytest.approx(pe.loc["b", "est"], rel=1e-7)

    ping = pingouin.mediation_analysis(data=data, x="X", m="M", y="Y", n_boot=200, seed=1).set_index("path")
    # pingouin's point estimates are OLS, identical to ours; its SEs use n - p (not compared)
    assert ping.loc["M ~ X", "coef"] == pytest.approx(paths.loc["a1", "estimate"], rel=1e-9)
    # (pingouin's "Y ~ M" row is the regression of Y on M alone, not the b path, so it is not compared)
    assert ping.loc["Direct", "coef"] == pytest.approx(eff.loc["direct", "estimate"], rel=1e-9)
    assert ping.loc["Total", "coef"] == pytest.approx(eff.loc["total", "estimate"], rel=1e-9)
    assert ping.loc["Indirect", "coef"] == pytest.approx(eff.loc["X -> M -> Y", "estimate"], rel=1e-9)
    # lavaan's z test of the := effects, with ci="delta" (a bootstrap result's p-value inverts its interval)
    pe_p = pd.DataFrame(ref["params"]).set_index("label")
    assert eff.loc["X -> M -> Y", "statistic"] == pytest.approx(pe_p.loc["ab", "est"] / pe_p.loc["ab", "se"], rel=1e-6)


def test_serial_routes_written_out(paths_data):
    res = _fit(paths_data, "serial", n_draws=200, seed=1)
    assert res.effects["effect"].tolist() == [
        "support -> alliance -> engagement", "support -> needs -> engagement",
        "support -> alliance -> needs -> engagement", "total indirect", "direct", "total"]
    eff = res.effects.set_index("effect")["estimate"]
    assert eff["total"] == pytest.approx(eff["direct"] + eff["total indirect"], rel=1e-12)


def test_exported_lavaan_syntax_is_the_fitted_lavaan_model(fitted):
    _, res, ref = fitted
    pe = pd.DataFrame(ref["params"])
    endogenous = set(res.residual_cov.index)
    theirs = {(r.lhs, r.op, r.rhs) for r in pe.itertuples()
              if r.op == "~" or (r.op == "~~" and r.lhs != r.rhs and {r.lhs, r.rhs} <= endogenous)}
    ours = set()
    for line in res.to_lavaan().splitlines():
        for op in ("~~", "~"):
            if f" {op} " in line and ":=" not in line:
                lhs, rhs = line.split(f" {op} ")
                ours |= {(lhs, op, term.split("*")[-1]) for term in rhs.split(" + ")}
                break
    assert ours == theirs
    defined = {r.lhs for r in pe.itertuples() if r.op == ":="}
    assert {"total_indirect", "total"} <= defined
    # lavaan stores the := expression without spaces
    lavaan_total = pe.loc[pe["lhs"] == "total_indirect", "rhs"].iloc[0]
    assert "total_indirect := " + lavaan_total.replace("+", " + ") in res.to_lavaan()
