r"""Cluster-robust (CR2) standard errors with Satterthwaite degrees of freedom, as clubSandwich's ``coef_test``.

For designs with few clusters — therapists randomised to a training programme, a dozen sites — model-based
standard errors rely on the random-effects structure being right, and the usual sandwich estimator is biased
downwards. The bias-reduced linearisation estimator CR2 (Bell & McCaffrey 2002, *Survey Methodology* 28(2);
Pustejovsky & Tipton 2018, *J. Bus. Econ. Stat.* 36(4)) with clubSandwich 0.5.8's choices for ``lmerMod``
fits (working model = the fitted one, clusters = the outermost grouping factor by default):

For cluster j with rows X_j, residuals r_j = y_j − X_jβ̂ (marginal) and working covariance
V_j = Z_jΛΛᵀZ_jᵀ + I (relative to σ², from the fit), W_j = V_j⁻¹ and M = (Σ_j X_jᵀW_jX_j)⁻¹:

.. math:: A_j = R_j^\top \left[R_j (I - X_j M X_j^\top W_j) V_j R_j^\top\right]^{-1/2} R_j, \qquad
          \widehat{V}^{CR2} = M \Big(\sum_j X_j^\top W_j A_j r_j r_j^\top A_j W_j X_j\Big) M,

with R_j the upper Cholesky factor of V_j (R_jᵀR_j = V_j) and the symmetric inverse square root taken over
the eigenvalues above 1e-12. The test of coefficient i uses Satterthwaite df 2E²/V... in clubSandwich's form
ν = (tr P_i)² / Σ (P_i)²_{jk}, where, with L the lower Cholesky factor of M, h_ij = (M X_jᵀW_jA_j X_j L)_{i·}
and g_ij = (M X_jᵀW_jA_j R_jᵀ)_{i·}, P_i[j, k] = −h_ijᵀh_ik + [j = k] ‖g_ij‖² (Pustejovsky & Tipton 2018, sec. 3).

Requirements, as clubSandwich: every grouping factor nested within the clusters; no prior weights (clubSandwich
refuses them for lmer fits); here also no residual AR(1).

Example
-------
>>> import numpy as np, pandas as pd
>>> from allianceStats.mixed import fit_mlm
>>> rng = np.random.default_rng(6)
>>> ther = np.repeat(np.arange(10), 30); cli = np.repeat(np.arange(50), 6)
>>> d = pd.DataFrame({"therapist": ther.astype(str), "client": cli.astype(str),
...                   "trained": (ther % 2).astype(float), "session0": np.tile(np.arange(6.0), 50)})
>>> d["y"] = (1 + 0.4 * d.trained - 0.3 * d.session0 + rng.normal(0, 0.5, 10)[ther] + rng.normal(0, 1, 50)[cli]
...           + rng.normal(size=300))
>>> res = coef_test(fit_mlm(d, "y ~ trained + session0 + (1 | therapist/client)"))
>>> res.attrs["cluster"], res.attrs["n_clusters"]
('therapist', 10)
>>> print(res[["term", "std_error", "df"]].round(3).to_string(index=False))
       term  std_error    df
(Intercept)      0.498 4.177
    trained      0.604 8.000
   session0      0.026 9.000
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import stdtr, stdtrit

from ..data.checks import check_choice, check_conf_level
from ..errors import OptionError
from .result import PARAM_COLUMNS, MixedResult


def _inv_sqrt(G: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((G + G.T) / 2)
    with np.errstate(divide="ignore"):
        p = np.where(vals > 1e-12, vals ** -0.5, 0.0)
    return (vecs * p) @ vecs.T


def _cluster_labels(fit: MixedResult, therapist, client) -> tuple[np.ndarray, str]:
    given = [(role, v) for role, v in (("therapist", therapist), ("client", client)) if v is not None]
    if len(given) > 1:
        raise OptionError("coef_test(): give the clusters once, as therapist= or client=, not both.")
    if not given:
        name = min(fit.n_groups, key=lambda f: fit.n_groups[f])      # clubSandwich: the outermost factor
        return fit.groups[name].to_numpy(), name
    role, v = given[0]
    if isinstance(v, str):
        if v not in fit.model_frame.columns:
            raise OptionError(f"coef_test(): {role}={v!r} is not a column of the fit's model frame "
                              f"({list(fit.model_frame.columns)}); pass the cluster labels as a Series indexed like "
                              "the data instead.")
        return fit.model_frame[v].astype(str).to_numpy(), v
    labels = pd.Series(v)
    try:
        labels = labels.loc[fit.model_frame.index]
    except KeyError as exc:
        raise OptionError(f"coef_test(): {role}= values must be indexed like the data (one label per row of the "
                          "table given to fit_mlm).") from exc
    if labels.isna().any():
        raise OptionError(f"coef_test(): {role}= has missing labels on rows the fit used.")
    return labels.astype(str).to_numpy(), str(labels.name or role)


def coef_test(fit: MixedResult, *, vcov: str = "CR2", therapist=None, client=None,
              conf_level: float = 0.95) -> pd.DataFrame:
    """Cluster-robust t tests of the fixed effects, as clubSandwich's ``coef_test(fit, vcov = "CR2",
    test = "Satterthwaite")`` (model and references: module docstring).

    Parameters
    ----------
    fit : MixedResult
        A fit of :func:`allianceStats.mixed.fit_mlm` (REML or ML; no weights or AR(1) residual).
    vcov : {"CR2"}, default "CR2"
        The cluster-robust estimator (clubSandwich's ``type``).
    therapist, client : str or pandas.Series, optional
        The clusters: a column of the fit's model frame (e.g. ``therapist="therapist"``) or labels indexed like
        the data. Default: the outermost grouping factor of the model (the one with fewest levels), as
        clubSandwich. Every grouping factor of the model must be nested in the clusters.
    conf_level : float, default 0.95
        Level of the t intervals.

    Returns
    -------
    pandas.DataFrame
        Columns ``term, estimate, std_error, df, statistic, p_value, ci_lower, ci_upper`` (``df``: clubSandwich's
        Satterthwaite df); ``attrs``: ``cluster`` (the clustering column), ``n_clusters``, ``vcov`` (the CR2
        covariance matrix as a DataFrame) and ``method``.

    Raises
    ------
    OptionError
        Both ``therapist`` and ``client``; an unknown column; a grouping factor not nested in the clusters; fewer
        than two clusters; prior weights or a residual AR(1).

    Notes
    -----
    ``fit_mlm(..., vcov="CR2")`` puts these tests in ``params``. Validated against clubSandwich 0.5.8
    (``tests/mixed/fixtures/habits``: 12 therapists, random intercepts and a random slope): standard errors and
    the CR2 covariance to 1e-5 relative, df to 1e-4 relative.

    Examples
    --------
    The module docstring has an example.
    """
    if not isinstance(fit, MixedResult):
        raise OptionError(f"coef_test() takes a fit of fit_mlm(); got {type(fit).__name__}")
    check_choice("vcov", vcov, ("CR2",))
    conf_level = check_conf_level(conf_level)
    opts = fit.provenance.options
    if fit.correlation or opts.get("weights"):
        raise OptionError("coef_test(): CR2 is implemented for fits without prior weights or a residual AR(1) "
                          "(clubSandwich refuses weighted lmer fits).")
    cluster, cname = _cluster_labels(fit, therapist, client)
    for f in fit.groups.columns:
        per = pd.DataFrame({"g": fit.groups[f].to_numpy(), "c": cluster}).groupby("g")["c"].nunique()
        if (per > 1).any():
            raise OptionError(f"coef_test(): the grouping factor {f!r} is not nested in the clusters {cname!r} "
                              f"({f} {per.index[per > 1][0]!r} spans several); clubSandwich's methods need every "
                              "random effect nested within a cluster.")
    codes, uniq = pd.factorize(cluster)
    J = len(uniq)
    if J < 2:
        raise OptionError("coef_test(): cluster-robust variance estimation needs at least two clusters.")
    X = np.asarray(fit.X, dtype=float)
    y = np.asarray(fit.y, dtype=float)
    beta = fit.fixef.to_numpy()
    resid = y - X @ beta
    p = X.shape[1]
    s2 = fit.sigma ** 2
    factor_codes = {f: pd.factorize(fit.groups[f])[0] for f in fit.random_terms}
    rel_cov = {f: fit.random_cov[f].to_numpy() / s2 for f in fit.random_terms}
    pieces = []
    XWX = np.zeros((p, p))
    for j in range(J):
        rows = np.flatnonzero(codes == j)
        V = np.eye(len(rows))
        for f, C in rel_cov.items():
            Z = fit.Z[f][rows]
            same = factor_codes[f][rows][:, None] == factor_codes[f][rows][None, :]
            V += same * (Z @ C @ Z.T)
        W = np.linalg.inv(V)
        Xj = X[rows]
        XWX += Xj.T @ W @ Xj
        pieces.append((rows, V, W, Xj))
    M = np.linalg.inv(XWX)
    Lm = np.linalg.cholesky(M)
    meat = np.zeros((p, p))
    H = np.zeros((p, p, J))
    Gnorm = np.zeros((p, J))
    for j, (rows, V, W, Xj) in enumerate(pieces):
        R = np.linalg.cholesky(V).T                       # upper: RᵀR = V
        IH = np.eye(len(rows)) - Xj @ M @ Xj.T @ W
        G = R @ IH @ V @ R.T
        A = R.T @ _inv_sqrt(G) @ R
        E = Xj.T @ W @ A                                  # p × n_j
        u = E @ resid[rows]
        meat += np.outer(u, u)
        ME = M @ E
        H[:, :, j] = ME @ Xj @ Lm
        Gnorm[:, j] = ((ME @ R.T) ** 2).sum(axis=1)
    V_cr2 = M @ meat @ M
    se = np.sqrt(np.diag(V_cr2))
    df = np.empty(p)
    for i in range(p):
        Hi = H[i]                                         # (p, J): column j is h_ij
        P = -Hi.T @ Hi
        P[np.diag_indices(J)] += Gnorm[i]
        df[i] = np.trace(P) ** 2 / np.sum(P ** 2)
    t = beta / se
    tq = stdtrit(df, 0.5 + conf_level / 2)
    names = list(fit.fixef.index)
    out = pd.DataFrame({"term": names, "estimate": beta, "std_error": se, "df": df, "statistic": t,
                        "p_value": 2 * stdtr(df, -np.abs(t)), "ci_lower": beta - tq * se, "ci_upper": beta + tq * se},
                       columns=PARAM_COLUMNS)
    out.attrs.update(cluster=cname, n_clusters=J, vcov=pd.DataFrame(V_cr2, index=names, columns=names),
                     method="CR2, Satterthwaite df (clubSandwich)", conf_level=conf_level)
    return out
