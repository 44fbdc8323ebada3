"""Internal consistency of the GLMM engine: the sparse random-effects block against dense algebra, analytic
gradients against numerical ones, the conditional log-likelihoods against scipy, AGQ against Laplace."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from allianceStats.mixed.families import Response, get_family
from allianceStats.mixed.glmm import fit_glmm
from allianceStats.mixed.glmm_design import GroupingFactor, build_glmm_design
from allianceStats.mixed.glmm_formula import parse_glmm_formula
from allianceStats.mixed.glmm_laplace import LaplaceProblem
from allianceStats.mixed.sparse import RandomEffectsBlock

FIX = Path(__file__).resolve().parent / "fixtures" / "glmm"
DESIGNS = {
    "one_scalar": [(40, 1)],
    "one_vector": [(40, 2)],
    "crossed": [(40, 1), (7, 1)],
    "crossed_slopes": [(40, 2), (7, 2)],
    "three_factors": [(40, 2), (7, 1), (5, 2)],
    "largest_second": [(5, 1), (40, 3)],
}


def _factors(spec, n=300, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i, (m, q) in enumerate(spec):
        codes = rng.integers(0, m, size=n)
        Z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(q - 1)])
        out.append(GroupingFactor(f"f{i}", [str(j) for j in range(m)], codes, Z, [f"z{j}" for j in range(q)]))
    return out, rng


@pytest.mark.parametrize("dense_max", [3000, 0], ids=["dense_schur", "sparse_lu_schur"])
@pytest.mark.parametrize("name", list(DESIGNS))
def test_random_effects_block_matches_dense_algebra(name, dense_max):
    spec = DESIGNS[name]
    fs, rng = _factors(spec)
    blk = RandomEffectsBlock(fs, dense_max=dense_max)
    lams = [np.tril(rng.normal(size=(q, q))) + 2 * np.eye(q) for _, q in spec]
    w = rng.uniform(0.1, 2, size=300)
    Z, Lam = blk.Z.toarray(), blk.lambda_matrix(lams).toarray()
    ZL = Z @ Lam
    A = ZL.T @ (w[:, None] * ZL) + np.eye(blk.q_total)
    fac = blk.factor(lams, w)
    assert abs(fac.logdet - np.linalg.slogdet(A)[1]) < 1e-10
    r = rng.normal(size=(blk.q_total, 3))
    np.testing.assert_allclose(A @ fac.solve(r), r, atol=1e-10)
    u = rng.normal(size=blk.q_total)
    np.testing.assert_allclose(blk.eta(lams, u), ZL @ u, atol=1e-12)
    np.testing.assert_allclose(blk.zt(lams, w), ZL.T @ w, atol=1e-10)
    h, ys = fac.row_solves(lams)
    Y = np.linalg.solve(A, ZL.T).T
    np.testing.assert_allclose(h, np.einsum("ij,ij->i", ZL, Y), atol=1e-12)
    for f, start, y in zip(fs, blk.starts, ys):
        own = np.stack([Y[np.arange(300), start + f.codes * f.q + k] for k in range(f.q)], axis=1)
        np.testing.assert_allclose(y, own, atol=1e-12)


def test_nested_design_uses_a_diagonal_schur_complement():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 50, size=300)
    outer = np.arange(50) % 6
    fs = [GroupingFactor("client", [str(i) for i in range(50)], codes, np.ones((300, 1)), ["(Intercept)"]),
          GroupingFactor("therapist", [str(i) for i in range(6)], outer[codes], np.ones((300, 1)), ["(Intercept)"])]
    blk = RandomEffectsBlock(fs)
    lams = [np.eye(1) * 0.7, np.eye(1) * 1.3]
    w = rng.uniform(0.1, 2, size=300)
    fac = blk.factor(lams, w)
    ZL = blk.Z.toarray() @ blk.lambda_matrix(lams).toarray()
    A = ZL.T @ (w[:, None] * ZL) + np.eye(56)
    assert fac._S_diag is not None
    assert abs(fac.logdet - np.linalg.slogdet(A)[1]) < 1e-10
    np.testing.assert_allclose(fac.row_solves(lams)[0], np.einsum("ij,ji->i", ZL, np.linalg.solve(A, ZL.T)),
                               atol=1e-12)


@pytest.mark.parametrize("family,link", [("binomial", "logit"), ("binomial", "probit"), ("binomial", "cloglog"),
                                         ("poisson", "log"), ("negative_binomial", "log")])
def test_conditional_loglik_and_derivatives(family, link):
    rng = np.random.default_rng(5)
    eta = rng.normal(size=9) * 2
    fam = get_family(family, link)
    if family == "binomial":
        m = rng.integers(1, 8, size=9).astype(float)
        y = np.floor(m * rng.uniform(size=9))
        resp = Response(fam, y, m, hessian="observed")
        ref = stats.binom.logpmf(y, m, fam.linkinv(eta))
    else:
        y = rng.poisson(3, size=9).astype(float)
        resp = Response(fam, y, hessian="observed")
        mu = np.exp(eta)
        if family == "poisson":
            ref = stats.poisson.logpmf(y, mu)
        else:
            resp.set_extra(nb_theta=1.7)
            ref = stats.nbinom.logpmf(y, 1.7, 1.7 / (1.7 + mu))
    ll, score, w = resp.derivatives(eta)
    np.testing.assert_allclose(ll, ref, atol=1e-12)
    h = 1e-5
    np.testing.assert_allclose(score, (resp.loglik(eta + h) - resp.loglik(eta - h)) / (2 * h), atol=1e-8)
    second = (resp.loglik(eta + h) - 2 * resp.loglik(eta) + resp.loglik(eta - h)) / h ** 2
    np.testing.assert_allclose(w, -second, atol=1e-3, rtol=1e-4)


def _salamanders():
    ref = json.loads((FIX / "reference.json").read_text())
    d = pd.read_csv(FIX / "salamanders.csv")
    d["spp"] = pd.Categorical(d["spp"], categories=ref["salamanders_levels"]["spp"])
    d["mined"] = pd.Categorical(d["mined"], categories=ref["salamanders_levels"]["mined"])
    return d


GRADIENT_CASES = {
    "logit_slopes_two_factors": ("sim_binary.csv", "use ~ x + session0 + (1 + session0 | client) + (1 | therapist)",
                                 "binomial", None, None),
    "probit": ("cbpp.csv", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "binomial", "probit", None),
    "cloglog": ("cbpp.csv", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "binomial", "cloglog", None),
    "nb2": ("salamanders", "count ~ spp + mined + (1 | site)", "negative_binomial", None, None),
    "zinb2": ("salamanders", "count ~ spp + mined + (1 | site)", "negative_binomial", None, "~ mined"),
    "zip": ("salamanders", "count ~ spp + (1 | site)", "poisson", None, "~ spp"),
}


@pytest.mark.parametrize("name", list(GRADIENT_CASES))
def test_analytic_gradient_matches_numerical(name):
    file, formula, family, link, zi = GRADIENT_CASES[name]
    data = _salamanders() if file == "salamanders" else pd.read_csv(FIX / file, dtype={"herd": str, "period": str})
    d = build_glmm_design(parse_glmm_formula(formula), data, family=family, zi=zi)
    hess = "expected" if family != "negative_binomial" and zi is None else "observed"
    prob = LaplaceProblem(d, get_family(family, link), hessian=hess, zi=zi is not None)
    rng = np.random.default_rng(2)
    lay = prob.layout
    x = np.zeros(lay.size)
    x[lay.theta] = np.where(np.isfinite(lay.theta_lower()), 0.6, 0.2)
    x[lay.beta] = rng.normal(0, 0.2, lay.p)
    if lay.nb:
        x[lay.log_nb] = 0.3
    if lay.p_zi:
        x[lay.zi] = rng.normal(-1, 0.3, lay.p_zi)
    f, g = prob.gradient(x)
    num = np.empty_like(g)
    for j in range(len(x)):
        e = np.zeros(len(x))
        e[j] = 1e-5
        num[j] = (prob.objective(x + e) - prob.objective(x - e)) / 2e-5
    np.testing.assert_allclose(g, num, atol=2e-4, rtol=1e-5)
    assert abs(f - prob.objective(x)) < 1e-8   # the same objective (up to the warm-started inner solve)


def test_agq_with_one_node_is_laplace_and_more_nodes_converge():
    data = pd.read_csv(FIX / "cbpp.csv", dtype={"herd": str, "period": str})
    f = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    lap = fit_glmm(data, f, family="binomial")
    d = build_glmm_design(parse_glmm_formula(f), data, family="binomial")
    x = np.r_[lap.re_theta, lap.fixef.to_numpy()]
    one = LaplaceProblem(d, get_family("binomial"), n_agq=1).objective(x)
    agq1 = LaplaceProblem(d, get_family("binomial"), n_agq=2)
    agq1.n_agq, agq1._gh = 2, (np.array([0.0]), np.array([1.0]))   # a one-point rule through the AGQ code
    assert abs(agq1.objective(x) - one) < 1e-10
    vals = [LaplaceProblem(d, get_family("binomial"), n_agq=k).objective(x) for k in (5, 11, 25)]
    assert abs(vals[1] - vals[2]) < 1e-6 < abs(vals[0] - one)


def test_proportions_with_weights_equal_cbind():
    data = pd.read_csv(FIX / "cbpp.csv", dtype={"herd": str, "period": str})
    data["prop"] = data.incidence / data["size"]
    a = fit_glmm(data, "cbind(incidence, size - incidence) ~ period + (1 | herd)", family="binomial")
    b = fit_glmm(data, "prop ~ period + (1 | herd)", family="binomial", weights="size")
    np.testing.assert_allclose(a.params.estimate, b.params.estimate, rtol=1e-6)
    np.testing.assert_allclose(a.params.std_error, b.params.std_error, rtol=1e-5)
    assert abs(a.loglik - b.loglik) < 1e-8


def test_optimiser_leaves_a_variance_started_at_its_bound():
    """At θ_jj = 0 the gradient in θ_jj is 0 by symmetry; without the inward probe L-BFGS-B stays there."""
    from allianceStats.mixed.glmm_optim import minimise

    ref = json.loads((FIX / "reference.json").read_text())["sim_binary"]
    data = pd.read_csv(FIX / "sim_binary.csv")
    d = build_glmm_design(parse_glmm_formula("use ~ x + session0 + (1 + session0 | client) + (1 | therapist)"),
                          data, family="binomial")
    prob = LaplaceProblem(d, get_family("binomial"))
    lay = prob.layout
    x0 = np.r_[ref["theta"], ref["estimate"]]
    x0[1] = x0[2] = 0.0                                  # client slope column of Λ at zero
    assert abs(prob.gradient(x0)[1][2]) < 1e-8
    run = minimise(prob.objective, x0, lay.lower(), lay.upper(), np.full(lay.size, 0.1), fun_grad=prob.gradient)
    assert abs(run.f - ref["devfun"]) < 1e-5 and run.x[2] > 0.5


# ------------------------------------------------------------------ NB2 at large θ (issue 14 follow-up)
@pytest.mark.parametrize("theta", [1e-3, 0.7, 9.99, 10.0, 50.0, 1e4, 1e7, 1e10, 1e13, 1e16])
def test_log_rising_ratio_is_the_sum_of_log1p(theta):
    """log Γ(y+θ) − log Γ(θ) − y log θ = Σ_{k<y} log1p(k/θ), without the cancellation of gammaln differences."""
    import math

    from allianceStats.mixed.families import log_rising_ratio

    y = np.array([0, 1, 2, 3, 7, 30, 250, 3000], dtype=float)
    exact = np.array([math.fsum(np.log1p(np.arange(int(v)) / theta)) for v in y])
    # rounding of terms of size y: absolute error ~ machine epsilon times y (1e-13 at y = 3000), never relative
    # to a difference of two log-gamma values (θ = 1e13: ~1e-2 with gammaln)
    assert np.all(np.abs(log_rising_ratio(y, theta) - exact) <= 1e-15 * (1 + y) + 1e-12 * np.abs(exact))


def test_nb2_loglik_tends_to_poisson_without_cancellation():
    """ℓ_NB − ℓ_Poisson = ((y − μ)² − y) / (2θ) + O(θ⁻²) per observation, to 1e-3 relative up to θ = 1e10, and
    within 1e-12 of Poisson beyond (the old form, gammaln(y+θ) − gammaln(θ) + θ log(θ/(θ+μ)) + …, was off by
    1e-3 at θ = 1e13 and by 1 at 1e16); the saturated ℓ likewise."""
    y = np.array([0.0, 1, 2, 5, 9, 14])
    eta = np.log(np.array([0.3, 1.2, 2.0, 4.0, 7.5, 11.0]))
    mu = np.exp(eta)
    pois = Response(get_family("poisson"), y)
    nb = Response(get_family("negative_binomial"), y, hessian="observed")
    for theta in (1e5, 1e8, 1e10):
        nb.set_extra(nb_theta=theta)
        diff = (nb.loglik(eta) - pois.loglik(eta)) * theta
        np.testing.assert_allclose(diff, ((y - mu) ** 2 - y) / 2, rtol=1e-3)
        sat = (nb.saturated_loglik() - pois.saturated_loglik()) * theta
        np.testing.assert_allclose(sat[y > 0], -y[y > 0] / 2, rtol=1e-3)
    for theta in (1e13, 1e16, 1e20):
        nb.set_extra(nb_theta=theta)
        assert np.max(np.abs(nb.loglik(eta) - pois.loglik(eta))) < 1e-12
        assert np.max(np.abs(nb.saturated_loglik() - pois.saturated_loglik())) < 1e-12
    nb.set_extra(nb_theta=3.0)          # moderate θ: the NB2 pmf itself (scipy's nbinom: n = θ, p = θ/(θ+μ))
    np.testing.assert_allclose(nb.loglik(eta), stats.nbinom.logpmf(y, 3.0, 3.0 / (3.0 + mu)), rtol=1e-12)
