"""GLMMResult: the result protocol, predictions, random effects, effect sizes and text output."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats import decompose
from allianceStats.errors import OptionError, SchemaError
from allianceStats.mixed.glmm import fit_glmm
from allianceStats.results import Result

FIX = Path(__file__).resolve().parent / "fixtures" / "glmm"
REF = json.loads((FIX / "reference.json").read_text())


@pytest.fixture(scope="module")
def cbpp():
    return pd.read_csv(FIX / "cbpp.csv", dtype={"herd": str, "period": str})


@pytest.fixture(scope="module")
def res(cbpp):
    return fit_glmm(cbpp, "cbind(incidence, size - incidence) ~ period + (1 | herd)", family="binomial",
                    conf_level=0.9)


def test_result_protocol(res, cbpp):
    assert isinstance(res, Result)
    assert res.converged is True and isinstance(res.n_obs, int) and res.n_obs == 56
    assert res.conf_level == 0.9
    assert res.provenance.function == "fit_glmm" and res.provenance.elapsed_seconds > 0
    assert res.provenance.options["family"] == "binomial" and res.provenance.options["hessian"] == "expected"
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.loglik = 0.0
    assert list(res.params.columns) == ["term", "estimate", "std_error", "statistic", "p_value", "ci_lower",
                                        "ci_upper"]
    assert list(res.varcomp.columns) == ["group", "var1", "var2", "vcov", "sdcor"]
    z = 1.6448536269514722
    np.testing.assert_allclose(res.params.ci_upper - res.params.estimate, z * res.params.std_error)


def test_predictions_link_response_and_newdata(res, cbpp):
    eta = res.predict()
    np.testing.assert_allclose(res.predict(type="response"), 1 / (1 + np.exp(-eta)))
    np.testing.assert_allclose(res.fitted(), REF["cbpp_laplace"]["fitted"], rtol=1e-5)
    new = pd.DataFrame({"herd": ["1", "99"], "period": ["2", "2"]})
    p = res.predict(new)
    b = res.ranef()["herd"].loc["1", "(Intercept)"]
    fixed = res.fixef["(Intercept)"] + res.fixef["period2"]
    np.testing.assert_allclose(p, [fixed + b, fixed])          # unseen herd: population prediction
    np.testing.assert_allclose(res.predict(new, include_random=False), [fixed, fixed])
    with pytest.raises(OptionError, match="type='mean'"):
        res.predict(type="mean")
    r = res.residuals("pearson")
    mu = res.fitted()
    np.testing.assert_allclose(r, (cbpp.incidence / cbpp["size"] - mu) / np.sqrt(mu * (1 - mu) / cbpp["size"]))


def test_offset_and_zero_inflation_in_predictions():
    d = pd.read_csv(FIX / "cbpp.csv", dtype={"herd": str, "period": str})
    res = fit_glmm(d, "incidence ~ period + offset(log(size)) + (1 | herd)", family="poisson")
    new = d.iloc[:3].copy()
    np.testing.assert_allclose(res.predict(new, type="response"), res.fitted()[:3], rtol=1e-12)
    with pytest.raises(OptionError, match="offset column 'size'"):
        res.predict(new.drop(columns="size"))
    sal = pd.read_csv(FIX / "salamanders.csv")
    zi = fit_glmm(sal, "count ~ mined + (1 | site)", family="poisson", zi="~ mined")
    pi = 1 / (1 + np.exp(-zi.zi_params.estimate.sum()))                 # zero-inflation probability, mined "yes"
    row = sal[sal.mined == "yes"].iloc[[0]]
    mu = np.exp(zi.predict(row))
    np.testing.assert_allclose(zi.predict(row, type="response"), (1 - pi) * mu)
    with pytest.raises(OptionError, match="not defined for zero-inflated models"):
        zi.icc()


def test_ratios_and_icc(res):
    r = res.ratios()
    assert r.attrs["kind"] == "odds ratio" and r.attrs["conf_level"] == 0.9
    np.testing.assert_allclose(r.ratio, np.exp(res.params.estimate))
    np.testing.assert_allclose(np.log(r.ci_lower), res.params.ci_lower)
    r95 = res.ratios(conf_level=0.95)
    assert (r95.ci_lower < r.ci_lower).all()
    icc = res.icc()
    v = res.varcomp.vcov[0]
    np.testing.assert_allclose(icc.icc[0], v / (v + np.pi ** 2 / 3))
    assert icc.group.tolist() == ["herd", "distribution"]


def test_probit_has_no_ratios_and_cloglog_gives_hazard_ratios(cbpp):
    f = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    with pytest.raises(OptionError, match="link='probit'"):
        fit_glmm(cbpp, f, family="binomial", link="probit").ratios()
    assert fit_glmm(cbpp, f, family="binomial", link="cloglog").ratios().attrs["kind"] == "hazard ratio"


def test_summary_and_repr(res):
    text = res.summary()
    assert "Laplace approximation" in text and "Family: binomial ( logit )" in text
    assert "herd" in text and "period4" in text and "Pr(>|z|)" in text
    assert repr(res).startswith("GLMMResult(binomial/logit, 'cbind(incidence, size - incidence) ~ period + (1 | herd)'")
    assert len(repr(res)) < 200


def test_within_between_decomposition_feeds_fit_glmm():
    rng = np.random.default_rng(9)
    cl = np.repeat(np.arange(80), 8)
    trait = rng.normal(0, 1, 80)[cl]
    data = pd.DataFrame({"client": [f"c{i}" for i in cl], "session": np.tile(np.arange(1, 9), 80),
                         "alliance": trait + rng.normal(0, 1, len(cl))})
    eta = -0.5 + 0.7 * (data.alliance - trait) - 0.3 * trait + rng.normal(0, 0.8, 80)[cl]
    data["use"] = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    parts = decompose(data, "alliance", client="client", session="session")
    res = fit_glmm(parts, "use ~ alliance_within + alliance_between + (1 | client)", family="binomial")
    est = res.params.set_index("term").estimate
    assert 0.4 < est["alliance_within"] < 1.0 and est["alliance_between"] < 0.1


def test_zero_inflation_covariates_needed_in_newdata():
    sal = pd.read_csv(FIX / "salamanders.csv")
    zi = fit_glmm(sal, "count ~ spp + (1 | site)", family="poisson", zi="~ mined")
    with pytest.raises(SchemaError, match="column 'mined' not found in newdata"):
        zi.predict(sal[["spp", "site"]].iloc[:2], type="response")
