r"""Residual AR(1) within client: whitening of the per-client rows (nlme's ``corAR1``).

Model: within client i the residuals have covariance σ² R_i with ``R_i[s, t] = φ^|t_s − t_t|`` in session
time t (Pinheiro & Bates 2000, *Mixed-Effects Models in S and S-PLUS*, sec. 5.3.1; nlme
``corAR1(form = ~ session | client)``, which becomes ``corARMA(p = 1)`` on the session times when sessions
are missing, giving the same φ^|lag| correlation). This is a Markov process, so R_i^{-1/2} is bidiagonal:

    w_1 = v_1,   w_k = (v_k − φ^{d_k} v_{k−1}) / √(1 − φ^{2 d_k}),   d_k = t_k − t_{k−1} ≥ 1,

and log|R_i| = Σ_k log(1 − φ^{2 d_k}). Applying it to every column of [Z, X, y] turns the model into an
ordinary LMM with independent residuals (the random-effects structure is unchanged), whose deviance gets
``+ Σ_i log|R_i|``. Clients stay separate blocks, so the nested block elimination applies unchanged.

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


def lags(time: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gaps d_k between consecutive sessions of each client and their validity mask.

    Parameters
    ----------
    time : ndarray (m, T)
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
    d = np.diff(time, axis=1)
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
