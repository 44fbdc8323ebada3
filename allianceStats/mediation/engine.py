"""Recursive observed-variable path models estimated from cross-product matrices, for one sample or thousands.

Model
-----
A recursive system of linear equations ``v_k = alpha_k + sum_j beta_kj p_j + e_k`` (one per endogenous
variable) with the residual covariance ``Psi`` free wherever neither equation's outcome predicts the other.
Such a *saturated* path model has maximum-likelihood estimates equal to equation-by-equation ordinary least
squares (the likelihood of a recursive model factorises into the conditional regressions; equations sharing the
same regressors are seemingly-unrelated regressions with identical regressors, for which GLS = OLS). lavaan
fits the same model with ``sem()`` (ML, ``fixed.x = TRUE``).

Every estimate in a bootstrap resample is a function of the weighted cross-product matrix
``C = D' W D`` of the data matrix ``D = [1, v_1, ..., v_V]`` and a diagonal matrix ``W`` of resample counts. So all
resamples are estimated at once: the counts of ``B`` resamples form a ``B x n`` matrix, ``C`` for all of them is
one matrix product with the row-wise outer products of ``D`` (``B x n`` times ``n x (V+1)^2``), and the
coefficients follow from batched solves of the normal equations. No Python loop runs over resamples.

Standard errors (lavaan's ML standard errors, expected information)
------------------------------------------------------------------
``Cov(b_i, b_j) = psi_ij (X_i'X_i)^-1 X_i'X_j (X_j'X_j)^-1`` with ``psi_ij = e_i'e_j / n``: the residual
(co)variances use the divisor ``n``, not ``n - p`` — the ML estimate, which is what lavaan reports. OLS
software (statsmodels, pingouin) uses ``n - p``, so its standard errors are larger by ``sqrt(n / (n - p))``.

Example: one mediator, ``m ~ x`` and ``y ~ x + m``; the estimates are the OLS slopes.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=200); m = 0.5 * x + rng.normal(size=200); y = 0.3 * m + rng.normal(size=200)
>>> model = PathModel(("x", "m", "y"), (Equation("m", ("x",)), Equation("y", ("x", "m"))), {},
...                   (Effect("x -> m -> y", ((("m", "x"), ("y", "m")),)),))
>>> coefs, vcov, psi = model.fit(data_matrix(np.column_stack([x, m, y])))
>>> bool(np.isclose(coefs[0], np.polyfit(x, m, 1)[0]))
True

Cluster-robust standard errors (``client=``; lavaan's ``cluster=`` with ``estimator = "MLR"``)
--------------------------------------------------------------------------------------------
The sandwich ``V = A^-1 M A^-1 · G / (G - 1)`` over the intercepts and slopes of all equations, with the bread
``A = sum_i X_i' Psi^-1 X_i`` (the information of the mean parameters; ``X_i`` the block-diagonal design row of
observation ``i``), the meat ``M = sum_g s_g s_g'`` of the per-client sums of the scores
``s_i = X_i' Psi^-1 e_i``, and lavaan's small-sample factor ``G / (G - 1)`` for ``G`` clients on the meat
(``lav_mvnorm_information_firstorder``; no ``(n - 1) / (n - p)`` factor). The information is block-diagonal
between these parameters and ``Psi`` at the estimate (the residuals of equations with correlated residuals are
orthogonal to each other's regressors), so the slope block of the full sandwich is this one (Huber 1967;
White 1980; Liang & Zeger 1986; Rosseel 2012).

References: Bollen, K. A. (1989). *Structural Equations with Latent Variables*, ch. 4. Wiley.
Rosseel, Y. (2012). lavaan: An R package for structural equation modeling. *J. Stat. Softw.* 48(2).
Liang, K.-Y., & Zeger, S. L. (1986). Longitudinal data analysis using generalized linear models.
*Biometrika* 73(1), 13-22.
White, H. (1980). A heteroskedasticity-consistent covariance matrix estimator and a direct test for
heteroskedasticity. *Econometrica* 48(4), 817-838.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import IdentificationError

# resamples are processed in chunks so that the B x n count matrix stays near this many doubles
_CHUNK_DOUBLES = 4_000_000


@dataclass(frozen=True)
class Equation:
    """One regression of the system: ``outcome ~ 1 + predictors``."""

    outcome: str
    predictors: tuple[str, ...]


@dataclass(frozen=True)
class Effect:
    """A named effect: a sum of products of path coefficients (each term a tuple of coefficient keys)."""

    name: str
    terms: tuple[tuple[tuple[str, str], ...], ...]


@dataclass(frozen=True)
class PathModel:
    """A recursive path model: its variables, equations, path labels and the effects defined on it."""

    variables: tuple[str, ...]
    equations: tuple[Equation, ...]
    labels: dict[tuple[str, str], str]
    effects: tuple[Effect, ...]
    coef_keys: tuple[tuple[str, str], ...] = field(init=False)

    def __post_init__(self):
        keys = tuple((eq.outcome, p) for eq in self.equations for p in eq.predictors)
        object.__setattr__(self, "coef_keys", keys)

    @property
    def column(self) -> dict[str, int]:
        """Column of each variable in the data matrix ``D`` (column 0 is the intercept)."""
        return {v: i + 1 for i, v in enumerate(self.variables)}

    # ---- estimation from cross-products -------------------------------------------------------------------
    def coefficients(self, cross: np.ndarray) -> np.ndarray:
        """Slope coefficients for a batch of cross-product matrices ``cross`` (B, V+1, V+1) -> (B, n_coef)."""
        col = self.column
        out = np.empty((cross.shape[0], len(self.coef_keys)))
        pos = {k: i for i, k in enumerate(self.coef_keys)}
        groups: dict[tuple[str, ...], list[str]] = {}
        for eq in self.equations:
            groups.setdefault(eq.predictors, []).append(eq.outcome)
        for preds, outcomes in groups.items():
            rows = [0] + [col[p] for p in preds]
            lhs = cross[:, rows][:, :, rows]
            rhs = cross[:, rows][:, :, [col[o] for o in outcomes]]
            beta = np.linalg.solve(lhs, rhs)  # (B, 1 + p, n_outcomes); row 0 is the intercept
            for j, o in enumerate(outcomes):
                for i, p in enumerate(preds, start=1):
                    out[:, pos[(o, p)]] = beta[:, i, j]
        return out

    def effect_values(self, coefs: np.ndarray) -> np.ndarray:
        """Effects (B, n_effects) from coefficients (B, n_coef): sums of products of paths."""
        pos = {k: i for i, k in enumerate(self.coef_keys)}
        out = np.zeros((coefs.shape[0], len(self.effects)))
        for e, eff in enumerate(self.effects):
            for term in eff.terms:
                out[:, e] += np.prod(coefs[:, [pos[k] for k in term]], axis=1)
        return out

    def effect_jacobian(self, coefs: np.ndarray) -> np.ndarray:
        """Exact Jacobian (n_effects, n_coef) of the effects at one coefficient vector (products: analytic)."""
        pos = {k: i for i, k in enumerate(self.coef_keys)}
        jac = np.zeros((len(self.effects), len(self.coef_keys)))
        for e, eff in enumerate(self.effects):
            for term in eff.terms:
                idx = [pos[k] for k in term]
                for j, i in enumerate(idx):
                    jac[e, i] += np.prod(coefs[[q for t, q in enumerate(idx) if t != j]])
        return jac

    # ---- one sample: estimates and the ML covariance matrix --------------------------------------------
    def _regressions(self, design: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
        """Design matrices (intercept first), OLS coefficients and residuals (n, n_equations) of every equation."""
        col = self.column
        xs, betas, resid = [], [], []
        for eq in self.equations:
            x = design[:, [0] + [col[p] for p in eq.predictors]]
            rank = np.linalg.matrix_rank(x)
            if rank < x.shape[1]:
                raise IdentificationError(
                    f"the regression of '{eq.outcome}' on {list(eq.predictors)} is rank deficient (rank {rank} "
                    f"of {x.shape[1]} columns incl. the intercept): a predictor is constant or a linear "
                    "combination of the others; drop or combine it.")
            beta, *_ = np.linalg.lstsq(x, design[:, col[eq.outcome]], rcond=None)
            xs.append(x)
            betas.append(beta)
            resid.append(design[:, col[eq.outcome]] - x @ beta)
        return xs, betas, np.column_stack(resid)

    def _residual_cov(self, resid: np.ndarray) -> np.ndarray:
        """ML residual covariance (divisor n) with the structural zeros of the recursive model."""
        psi = resid.T @ resid / resid.shape[0]
        # an outcome that predicts another equation's outcome has no residual covariance with it
        for i, ei in enumerate(self.equations):
            for j, ej in enumerate(self.equations):
                if ei.outcome in ej.predictors or ej.outcome in ei.predictors:
                    psi[i, j] = 0.0
        return psi

    def fit(self, design: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Estimates, their ML covariance matrix, and the residual covariance ``Psi`` (divisor n)."""
        xs, betas, resid = self._regressions(design)
        coefs = np.concatenate([b[1:] for b in betas])  # same order as coef_keys: equations, then predictors
        psi = self._residual_cov(resid)
        inv = [np.linalg.inv(x.T @ x) for x in xs]
        blocks = []
        for i, xi in enumerate(xs):
            row = []
            for j, xj in enumerate(xs):
                full = psi[i, j] * inv[i] @ (xi.T @ xj) @ inv[j] if psi[i, j] != 0.0 else \
                    np.zeros((xi.shape[1], xj.shape[1]))
                row.append(full[1:, 1:])  # drop intercepts: only slopes are reported
            blocks.append(row)
        vcov = np.block(blocks)
        return coefs, vcov, psi

    def cluster_vcov(self, design: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Cluster-robust (sandwich) covariance of the slopes, clusters given by integer codes ``groups``
        (0..G-1 per row), with lavaan's small-sample factor G / (G - 1) (module docstring)."""
        xs, _, resid = self._regressions(design)
        psi_inv = np.linalg.inv(self._residual_cov(resid))
        weighted = resid @ psi_inv  # (n, k): sum_k Psi^-1_jk e_ik for equation j
        sizes = [x.shape[1] for x in xs]
        start = np.concatenate([[0], np.cumsum(sizes)])
        bread = np.zeros((start[-1], start[-1]))
        for i, xi in enumerate(xs):
            for j, xj in enumerate(xs):
                bread[start[i]:start[i + 1], start[j]:start[j + 1]] = psi_inv[i, j] * xi.T @ xj
        scores = np.column_stack([x * weighted[:, [j]] for j, x in enumerate(xs)])
        n_groups = int(groups.max()) + 1
        summed = np.zeros((n_groups, scores.shape[1]))
        np.add.at(summed, groups, scores)
        inv = np.linalg.inv(bread)
        full = inv @ (summed.T @ summed) @ inv * (n_groups / (n_groups - 1.0))
        slopes = np.concatenate([np.arange(start[j] + 1, start[j + 1]) for j in range(len(xs))])
        return full[np.ix_(slopes, slopes)]


def data_matrix(values: np.ndarray) -> np.ndarray:
    """``[1, centred values]``: centring by the full-sample means keeps the normal equations well conditioned."""
    centred = values - values.mean(axis=0)
    return np.column_stack([np.ones(values.shape[0]), centred])


def outer_rows(design: np.ndarray) -> np.ndarray:
    """Row-wise outer products ``d_i d_i'`` flattened to (n, (V+1)^2)."""
    return (design[:, :, None] * design[:, None, :]).reshape(design.shape[0], -1)


def bootstrap_coefficients(model: PathModel, design: np.ndarray, n_draws: int, rng: np.random.Generator,
                           groups: np.ndarray | None = None) -> np.ndarray:
    """Coefficients in ``n_draws`` case (or cluster) resamples, vectorised over resamples -> (n_draws, n_coef).

    With ``groups`` (integer cluster codes 0..G-1 per row), whole clusters are drawn with replacement
    (Field & Welsh 2007, the "cluster bootstrap"); otherwise rows are.
    """
    n, width = design.shape
    units = n if groups is None else int(groups.max()) + 1
    outer = outer_rows(design)
    if groups is not None:  # per-cluster sums of outer products: resampling clusters only needs these
        summed = np.zeros((units, outer.shape[1]))
        np.add.at(summed, groups, outer)
        outer = summed
    chunk = max(1, min(n_draws, _CHUNK_DOUBLES // units))
    out = np.empty((n_draws, len(model.coef_keys)))
    for start in range(0, n_draws, chunk):  # chunks bound memory; within a chunk everything is batched
        size = min(chunk, n_draws - start)
        idx = rng.integers(0, units, size=(size, units))
        counts = np.bincount((idx + units * np.arange(size)[:, None]).ravel(), minlength=size * units)
        cross = (counts.reshape(size, units).astype(float) @ outer).reshape(size, width, width)
        with np.errstate(all="ignore"):
            try:
                out[start:start + size] = model.coefficients(cross)
            except np.linalg.LinAlgError:
                out[start:start + size] = _solve_singular_safe(model, cross)
    return out


def _solve_singular_safe(model: PathModel, cross: np.ndarray) -> np.ndarray:
    """Resample by resample fallback when a (rare, tiny-sample) resample has a singular design: NaN for it."""
    out = np.full((cross.shape[0], len(model.coef_keys)), np.nan)
    for b in range(cross.shape[0]):
        try:
            out[b] = model.coefficients(cross[b:b + 1])[0]
        except np.linalg.LinAlgError:
            pass
    return out


def jackknife_coefficients(model: PathModel, design: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Leave-one-out (or leave-one-cluster-out) coefficients, vectorised: ``C - d_i d_i'`` for every unit."""
    outer = outer_rows(design)
    if groups is not None:
        summed = np.zeros((int(groups.max()) + 1, outer.shape[1]))
        np.add.at(summed, groups, outer)
        outer = summed
    width = design.shape[1]
    cross = (outer.sum(axis=0)[None, :] - outer).reshape(-1, width, width)
    return model.coefficients(cross)
