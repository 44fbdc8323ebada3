r"""Kenward–Roger small-sample inference for linear mixed models, as pbkrtest computes it.

Kenward & Roger (1997), *Biometrics* 53(3), 983–997, with the implementation of pbkrtest 0.5.2 (Halekoh &
Højsgaard 2014, *J. Stat. Softw.* 59(9): ``vcovAdj``, ``.KR_adjust``, ``Lb_ddf``), which lmerTest calls for
``ddf = "Kenward-Roger"``.

The marginal covariance of y is written linearly in its parameters, :math:`V = \sum_r \gamma_r G_r`: for every
grouping factor and every element (i, j), i ≥ j, of its covariance matrix, :math:`G = Z (I \otimes E_{ij}) Z^\top`
(:math:`E_{ij}` with ones at (i, j) and (j, i)), and :math:`G = I` for the residual variance; γ are the REML
estimates (lme4's ``VarCorr`` and σ²). With Φ = cov(β̂) = (XᵀV⁻¹X)⁻¹,
:math:`P_r = -X^\top V^{-1} G_r V^{-1} X`, :math:`Q_{rs} = X^\top V^{-1} G_r V^{-1} G_s V^{-1} X` and the
expected REML information :math:`I_{rs} = \operatorname{tr}(V^{-1}G_rV^{-1}G_s) - 2\operatorname{tr}(\Phi Q_{rs})
+ \operatorname{tr}(\Phi P_r \Phi P_s)`, :math:`W = 2 I^{-1}` (pbkrtest's scaling) and

.. math:: \Phi_A = \Phi + 2 \Phi U \Phi, \qquad U = \sum_{r,s} W_{rs} (Q_{rs} - P_r \Phi P_s)

(the second-derivative terms vanish because V is linear in γ). For a hypothesis Lβ = 0 of rank q, with
Θ = Lᵀ(LΦLᵀ)⁻¹L, :math:`A_1 = \sum_{rs} W_{rs} \operatorname{tr}(\Theta\Phi P_r\Phi)\operatorname{tr}(\Theta\Phi
P_s\Phi)`, :math:`A_2 = \sum_{rs} W_{rs}\operatorname{tr}(\Theta\Phi P_r\Phi\Theta\Phi P_s\Phi)`, the scaled Wald
statistic :math:`F = \lambda\,(L\hat\beta)^\top (L\Phi_A L^\top)^{-1} L\hat\beta / q` is referred to an
F(q, m) distribution with m and λ from Kenward & Roger's moment matching (:func:`kr_test`).

V is block diagonal over the connected components of the grouping factors (therapists, for clients nested in
therapists), so every product is computed block by block; a crossed design is one block of n rows, refused
above ``MAX_BLOCK`` rows. As pbkrtest, only REML fits without prior weights or a residual AR(1) are covered.

Example
-------
>>> import numpy as np, pandas as pd
>>> from allianceStats.mixed import fit_mlm
>>> rng = np.random.default_rng(3)
>>> g = np.repeat(np.arange(12), 5)
>>> d = pd.DataFrame({"g": g.astype(str), "x": rng.normal(size=60), "arm": np.where(g % 2 == 0, "a", "b")})
>>> d["y"] = 0.5 * d.x + (d.arm == "b") + rng.normal(0, 1, 12)[g] + rng.normal(size=60)
>>> kr = kenward_roger_params(fit_mlm(d, "y ~ x + arm + (1 | g)"))
>>> print(kr[["term", "df"]].round(2).to_string(index=False))     # arm: a between-group comparison
       term   df
(Intercept) 9.98
          x 48.31
       armb 9.98
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import fdtrc, stdtr, stdtrit

from ..errors import OptionError

MAX_BLOCK = 5000   # rows of one block of V (a crossed design is one block): n² doubles beyond this


@dataclass(frozen=True)
class KRAdjustment:
    """pbkrtest's ``vcovAdj``: Φ (``vcov``), Φ_A (``vcov_adjusted``), the P matrices and W (for the df)."""

    vcov: np.ndarray
    vcov_adjusted: np.ndarray
    P: list[np.ndarray]
    W: np.ndarray


def _blocks(groups: pd.DataFrame) -> np.ndarray:
    """Connected components of the rows linked by any grouping factor (union-find), one label per row."""
    n = len(groups)
    parent = np.arange(n)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for col in groups.columns:
        codes = pd.factorize(groups[col])[0]
        first = {}
        for i, c in enumerate(codes):
            if c in first:
                a, b = find(i), find(first[c])
                if a != b:
                    parent[a] = b
            else:
                first[c] = i
    return np.array([find(i) for i in range(n)])


def _require_supported(fit, what: str) -> None:
    opts = fit.provenance.options
    if not fit.reml:
        raise OptionError(f"{what}: Kenward-Roger's method is only available for REML fits (as in lmerTest and "
                          "pbkrtest); refit with reml=True or use ddf='satterthwaite'.")
    if fit.correlation or opts.get("weights"):
        raise OptionError(f"{what}: Kenward-Roger's method is implemented (as pbkrtest) for models without prior "
                          "weights or a residual AR(1); use ddf='satterthwaite'.")


def vcov_adjusted(fit) -> KRAdjustment:
    """Kenward–Roger's adjusted covariance of β̂ and its pieces (pbkrtest's ``vcovAdj``; module docstring).

    Parameters
    ----------
    fit : MixedResult
        A REML fit of :func:`allianceStats.mixed.fit_mlm` (no weights, no AR(1) residual).

    Returns
    -------
    KRAdjustment

    Raises
    ------
    OptionError
        An ML fit, prior weights, a residual AR(1), or a block of V larger than ``MAX_BLOCK`` rows.

    Examples
    --------
    The module docstring has an example; ``vcov_adjusted(fit).vcov_adjusted`` is pbkrtest's ``vcovAdj(fit)``.
    """
    _require_supported(fit, "vcov_adjusted()")
    # once per fit (summary's KR df and every anova(ddf="kenward-roger") share it), as the Satterthwaite pieces
    return fit._cached("kenward-roger", lambda: _vcov_adjusted(fit), fit.X, fit.Z, fit.groups, fit.random_cov,
                       fit.sigma, fit.vcov)


def _vcov_adjusted(fit) -> KRAdjustment:
    X = np.asarray(fit.X, dtype=float)
    n, p = X.shape
    Phi = fit.vcov.to_numpy()
    factors = list(fit.random_terms)
    gamma, specs = [], []
    for f in factors:
        C = fit.random_cov[f].to_numpy()
        q = C.shape[0]
        for j in range(q):
            for i in range(j, q):
                gamma.append(C[i, j])
                specs.append((f, i, j))
    gamma.append(fit.sigma ** 2)
    specs.append(("Residual", 0, 0))
    k = len(specs)
    codes = {f: pd.factorize(fit.groups[f])[0] for f in factors}
    block = _blocks(fit.groups[factors])
    order = np.argsort(block, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(block[order]) != 0])
    bounds = np.r_[starts, n]
    P = np.zeros((k, p, p))
    Q = np.zeros((k, k, p, p))
    Ktrace = np.zeros((k, k))
    for b0, b1 in zip(bounds[:-1], bounds[1:]):
        rows = order[b0:b1]
        m = len(rows)
        if m > MAX_BLOCK:
            raise OptionError(f"Kenward-Roger: the random effects link {m} rows into one block (crossed factors); "
                              f"the method needs {m}x{m} matrices (at most {MAX_BLOCK} rows). Use "
                              "ddf='satterthwaite'.")
        G = []
        for f, i, j in specs:
            if f == "Residual":
                G.append(np.eye(m))
                continue
            Z = fit.Z[f][rows]
            same = codes[f][rows][:, None] == codes[f][rows][None, :]
            if i == j:
                G.append(same * np.outer(Z[:, i], Z[:, i]))
            else:
                G.append(same * (np.outer(Z[:, i], Z[:, j]) + np.outer(Z[:, j], Z[:, i])))
        V = sum(g * Gr for g, Gr in zip(gamma, G))
        Vinv = np.linalg.inv(V)
        Xb = X[rows]
        TT = Vinv @ Xb
        HH = [Gr @ Vinv for Gr in G]
        OO = [H @ Xb for H in HH]
        for r in range(k):
            P[r] -= OO[r].T @ TT
            VO = Vinv @ OO[r]
            for s in range(r, k):
                Q[r, s] += OO[r].T @ Vinv @ OO[s] if s != r else OO[r].T @ VO
                Ktrace[r, s] += np.sum(HH[r].T * HH[s])
    for r in range(k):
        P[r] = (P[r] + P[r].T) / 2
        for s in range(r):
            Ktrace[r, s] = Ktrace[s, r]
            Q[r, s] = Q[s, r].T
    IE2 = np.empty((k, k))
    for i in range(k):
        PhiP = Phi @ P[i]
        for j in range(i, k):
            IE2[i, j] = IE2[j, i] = Ktrace[i, j] - 2 * np.sum(Phi * Q[i, j]) + np.sum(PhiP * (P[j] @ Phi))
    eig = np.linalg.eigvalsh(IE2)
    W = 2 * (np.linalg.inv(IE2) if np.min(np.abs(eig)) > 1e-10 else np.linalg.pinv(IE2))
    W = (W + W.T) / 2
    U = np.zeros((p, p))
    for i in range(k - 1):
        for j in range(i + 1, k):
            U += W[i, j] * (Q[i, j] - P[i] @ Phi @ P[j])
    U = U + U.T
    for i in range(k):
        U += W[i, i] * (Q[i, i] - P[i] @ Phi @ P[i])
    PhiA = Phi + 2 * Phi @ U @ Phi
    out = KRAdjustment(Phi.copy(), PhiA, list(P), W)
    for a in (out.vcov, out.vcov_adjusted, out.W, *out.P):
        a.setflags(write=False)          # kept on the fit: read-only
    return out


def _a1_a2(adj: KRAdjustment, L: np.ndarray) -> tuple[float, float, int]:
    Phi = adj.vcov
    Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
    ThetaPhi = Theta @ Phi
    us = [ThetaPhi @ Pi @ Phi for Pi in adj.P]
    k = len(us)
    A1 = A2 = 0.0
    for i in range(k):
        for j in range(i, k):
            e = 1.0 if i == j else 2.0
            A1 += e * adj.W[i, j] * np.trace(us[i]) * np.trace(us[j])
            A2 += e * adj.W[i, j] * np.sum(us[i] * us[j].T)
    return A1, A2, int(np.linalg.matrix_rank(L))


def _moments(A1: float, A2: float, q: int) -> tuple[float, float]:
    """Kenward & Roger's denominator df and F scaling (pbkrtest's ``.KR_adjust``)."""
    B = (A1 + 6 * A2) / (2 * q)
    g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
    c1 = g / (3 * q + 2 * (1 - g))
    c2 = (q - g) / (3 * q + 2 * (1 - g))
    c3 = (q + 2 - g) / (3 * q + 2 * (1 - g))
    V0 = 1 + c1 * B
    V1 = 1 - c2 * B
    V2 = 1 - c3 * B
    V0 = 0.0 if abs(V0) < 1e-10 else V0
    ratio = 1.0 if (abs(1 - A2 / q) < 1e-14 and abs(V1) < 1e-14) else (1 - A2 / q) / V1
    rho = ratio ** 2 * V0 / V2 / q
    df2 = 4 + (q + 2) / (q * rho - 1)
    scaling = 1.0 if abs(df2 - 2) < 0.01 else df2 * (1 - A2 / q) / (df2 - 2)
    return float(df2), float(scaling)


def kr_test(adj: KRAdjustment, L: np.ndarray, beta: np.ndarray, unscaled: bool = False) -> tuple:
    """Kenward–Roger F test of Lβ = 0: (F, numerator df q, denominator df, p-value), as pbkrtest's
    ``KRmodcomp`` and lmerTest's ``anova(ddf = "Kenward-Roger")`` report it (the scaled statistic); with
    ``unscaled=True`` also the unscaled Wald F (lmerTest's "Mean Sq" is it times σ²).

    >>> adj = KRAdjustment(np.eye(1), np.eye(1), [np.eye(1)], np.zeros((1, 1)))
    >>> F, q, ddf, p = kr_test(adj, np.eye(1), np.array([2.0]))
    >>> F, q
    (4.0, 1)
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    A1, A2, q = _a1_a2(adj, L)
    df2, scaling = _moments(A1, A2, q) if A2 != 0 else (np.inf, 1.0)
    Lb = L @ beta
    wald = float(Lb @ np.linalg.solve(L @ adj.vcov_adjusted @ L.T, Lb))
    F = scaling * wald / q
    p = float(fdtrc(q, df2, F)) if np.isfinite(df2) else float(np.nan)
    return (F, q, df2, p, wald / q) if unscaled else (F, q, df2, p)


def kr_df(adj: KRAdjustment, L: np.ndarray) -> float:
    """Kenward–Roger denominator df of a contrast (pbkrtest's ``Lb_ddf``; lmerTest's single-coefficient df).

    >>> adj = KRAdjustment(np.eye(2), np.eye(2), [np.eye(2)], np.full((1, 1), 0.1))
    >>> round(kr_df(adj, np.array([1.0, 0.0])), 4)
    20.0
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    A1, A2, q = _a1_a2(adj, L)
    return _moments(A1, A2, q)[0]


def kenward_roger_params(fit, conf_level: float | None = None) -> pd.DataFrame:
    """The ``params`` table with Kenward–Roger inference, as lmerTest's ``summary(fit, ddf = "Kenward-Roger")``:
    standard errors from Φ_A (pbkrtest's ``vcovAdj``), df from ``Lb_ddf``, t tests and Wald t intervals.

    Parameters
    ----------
    fit : MixedResult
        A REML fit without weights or AR(1) residual.
    conf_level : float, optional
        Interval level (default: the fit's).

    Returns
    -------
    pandas.DataFrame
        Columns ``term, estimate, std_error, df, statistic, p_value, ci_lower, ci_upper``.

    Examples
    --------
    The module docstring has an example.
    """
    from .result import PARAM_COLUMNS

    conf_level = fit.conf_level if conf_level is None else conf_level
    _require_supported(fit, "ddf='kenward-roger'")
    adj = vcov_adjusted(fit)
    beta = fit.fixef.to_numpy()
    p = len(beta)
    se = np.sqrt(np.diag(adj.vcov_adjusted))
    df = np.array([kr_df(adj, np.eye(p)[j]) for j in range(p)])
    t = beta / se
    tq = stdtrit(df, 0.5 + conf_level / 2)
    return pd.DataFrame({"term": list(fit.fixef.index), "estimate": beta, "std_error": se, "df": df, "statistic": t,
                         "p_value": 2 * stdtr(df, -np.abs(t)), "ci_lower": beta - tq * se,
                         "ci_upper": beta + tq * se}, columns=PARAM_COLUMNS)
