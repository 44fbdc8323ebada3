r"""Residual AR(1) within client: whitening of the per-client rows (nlme's ``corAR1``).

Model: within client i the residuals have covariance σ² R_i with ``R_i[s, t] = φ^|t_s − t_t|`` in session
time t (Pinheiro & Bates 2000, *Mixed-Effects Models in S and S-PLUS*, sec. 5.3.1; nlme
``corAR1(form = ~ session | client)``, which becomes ``corARMA(p = 1)`` on the session times when sessions
are missing, giving the same φ^|lag| correlation). This is a Markov process, so R_i^{-1/2} is bidiagonal:

    w_1 = v_1,   w_k = (v_k − φ^{d_k} v_{k−1}) / √(1 − φ^{2 d_k}),   d_k = t_k − t_{k−1} ≥ 1,

and log|R_i| = Σ_k log(1 − φ^{2 d_k}). Applying it to every column of [Z, X, y] turns the model into an
ordinary LMM with independent residuals (the random-effects structure is unchanged), whose deviance gets
``+ Σ_i log|R_i|``. Clients stay separate blocks, so the nested block elimination applies unchanged.

Conventions, as nlme 3.1 reports them (Pinheiro & Bates 2000, sec. 2.4.2): the REML BIC penalises with
log(N − p), not log(N) (lme4's convention for models without AR(1)): :func:`bic`. Under ML, nlme's fixed-effect
standard errors are larger than these by √(N / (N − p)) (nlme scales cov(β̂) with the REML-type residual
degrees of freedom); ``fit_mlm`` reports the ML (lme4) ones, so multiply by :func:`nlme_ml_se_factor` to
reproduce nlme's. When every gap between consecutive sessions of every client is even (sessions 2, 4, 6 or ages
8, 10, 12), the likelihood depends on φ only through even powers and φ's sign is not identified:
:func:`sign_identified`.

Examples
--------
>>> import numpy as np
>>> t = np.array([[1.0, 2.0, 4.0]]); v = np.array([[[1.0], [0.5], [0.25]]])
>>> d, valid = lags(t, np.ones((1, 3), bool))
>>> w, logdet = whiten(v, np.ones((1, 3), bool), d, valid, 0.5)
>>> R = 0.5 ** np.abs(t[0][:, None] - t[0][None, :])
>>> bool(np.isclose(logdet, np.linalg.slogdet(R)[1]))
True
>>> bool(np.isclose((w[0] ** 2).sum(), v[0, :, 0] @ np.linalg.solve(R, v[0, :, 0])))
True
"""
from __future__ import annotations

import numpy as np

from ..errors import IdentificationError


def bic(deviance: float, npar: int, n: int, p: int, reml: bool) -> float:
    """BIC as nlme's ``BIC(lme)``: −2ℓ + k log(N − p) under REML, −2ℓ + k log N under ML.

    >>> round(bic(437.3968, 6, 108, 3, True), 4)        # Orthodont, corAR1 by REML: nlme's 465.3206
    465.3206
    """
    return float(deviance + npar * np.log(n - p if reml else n))


def nlme_ml_se_factor(n: int, p: int) -> float:
    """The ratio of nlme's ML fixed-effect standard errors to lme4's (and these): √(N / (N − p)).

    >>> round(nlme_ml_se_factor(108, 3), 6)
    1.014185
    """
    return float(np.sqrt(n / (n - p)))


def sign_identified(times: np.ndarray, clients: np.ndarray) -> bool:
    """False when every gap between consecutive session times of every client is even (φ's sign then cancels).

    >>> sign_identified(np.array([8.0, 10, 12, 8, 10]), np.array(["a", "a", "a", "b", "b"]))
    False
    >>> sign_identified(np.array([1.0, 2, 4]), np.array(["a", "a", "a"]))
    True
    """
    order = np.lexsort((times, clients))
    t, c = times[order], clients[order]
    same = c[1:] == c[:-1]
    gaps = np.diff(t)[same]
    return bool(len(gaps) == 0 or np.any(np.mod(gaps, 2) != 0))


def lags(times: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gaps d_k between consecutive sessions of each client and their validity mask.

    Parameters
    ----------
    times : ndarray (m, T)
        Session times per client, rows padded to the longest client (sorted within client).
    mask : ndarray of bool (m, T)
        True for real (not padded) rows.

    Returns
    -------
    d, valid : ndarray (m, T − 1)
        Gap to the previous session (1 where not valid) and whether both sessions are real.

    Raises
    ------
    IdentificationError
        A client has two rows with the same session time.

    Examples
    --------
    >>> d, valid = lags(np.array([[1.0, 2.0, 5.0]]), np.array([[True, True, True]]))
    >>> d.tolist(), valid.tolist()
    ([[1.0, 3.0]], [[True, True]])
    """
    d = np.diff(times, axis=1)
    valid = mask[:, 1:]
    if np.any(valid & (d <= 0)):
        raise IdentificationError("correlation='ar1': session times must be distinct within each client; "
                                  "found a repeated session number (check for duplicated rows).")
    return np.where(valid, d, 1.0), valid


def whiten(W: np.ndarray, mask: np.ndarray, d: np.ndarray, valid: np.ndarray, phi: float):
    """Apply R_i(φ)^{-1/2} to the padded rows of every client (see the module docstring).

    Parameters
    ----------
    W : ndarray (m, T, k)
        Padded rows [Z, X, y] per client.
    mask, d, valid : ndarray
        Real-row mask (m, T) and the output of :func:`lags`.
    phi : float
        The AR(1) parameter, in (−1, 1).

    Returns
    -------
    whitened : ndarray (m, T, k)
    logdet : float
        Σ_i log|R_i(φ)|.

    Examples
    --------
    >>> w, logdet = whiten(np.ones((1, 2, 1)), np.ones((1, 2), bool), np.ones((1, 1)), np.ones((1, 1), bool), 0.5)
    >>> np.round(w[0, :, 0], 4).tolist(), round(logdet, 4)
    ([1.0, 0.5774], -0.2877)
    """
    a = np.where(valid, phi ** d, 0.0)
    s2 = np.where(valid, 1.0 - phi ** (2 * d), 1.0)
    out = W.copy()
    out[:, 1:] = (W[:, 1:] - a[..., None] * W[:, :-1]) / np.sqrt(s2)[..., None]
    out[~mask] = 0.0
    return out, float(np.log(s2).sum())
