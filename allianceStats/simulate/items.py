"""Simulated Working Alliance Inventory – Short Revised (WAI-SR) ratings in two cultural groups, with one item that
is not invariant: known truth for measurement-invariance analyses.

The WAI-SR (Hatcher & Gillaspy 2006) has 12 items rated 1 ("seldom") to 5 ("always") on three correlated
subscales: goal (items 4, 6, 8, 11), task (1, 2, 10, 12) and bond (3, 5, 7, 9). Each respondent has three
latent alliance factors η ~ N(α_g, Φ) (Φ with unit variances and correlations ``factor_correlation``; α_g = 0 in
group A and ``latent_mean_difference`` on every factor in group B) and for each item a latent response
y*_j = λ_j η_f(j) + ε_j, ε_j ~ N(0, 1 − λ_j²), so that y* has unit variance in group A. A rating is the category
of y* between the thresholds τ_j (the same in both groups), except for the non-invariant item, whose latent
response in group B is shifted by ``item_shift`` (its intercept differs: thresholds/scalar non-invariance). Alliance
ratings lean to the top of the scale, so the thresholds sit low (half the ratings in group A are 4 or 5). By
default the non-invariant item is bond item 7, rated half an SD lower in group B than its factor predicts (an
item whose wording carries a different meaning in that culture), while group B's alliance is 0.2 SD higher.

Machine independence: the normal draws come from ``rng.standard_normal`` and the factor correlations enter through
an explicit Cholesky factor (``z @ chol(Φ).T``), never ``multivariate_normal`` (whose SVD depends on the LAPACK
build), so a seed gives the same data everywhere.

:func:`simulate_alliance_sessions` gives the longitudinal counterpart: the four bond items of the same clients at
several sessions (a long table), the bond factor stable over sessions (AR(1) correlation ``stability``) and rising
by ``growth`` SD per session, each item's residual correlated over time (``residual_correlation``), and one item
drifting: its latent response falls by ``drift`` SD by the last session beyond what the factor predicts.

Example
-------
>>> data, truth = simulate_alliance_items(n_per_group=200, seed=5)
>>> data.shape, truth["non_invariant_item"], sorted(data["culture"].unique())
((400, 14), 'wai7', ['A', 'B'])
>>> int(data["wai7"].min()), int(data["wai7"].max())
(1, 5)
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.checks import check_number, check_positive_int
from ..errors import OptionError
from ._seed import generator

__all__ = ["simulate_alliance_items", "simulate_alliance_sessions", "WAI_SR_SUBSCALES", "WAI_SR_MODEL"]

WAI_SR_SUBSCALES = {"goal": (4, 6, 8, 11), "task": (1, 2, 10, 12), "bond": (3, 5, 7, 9)}
"""WAI-SR subscales and their item numbers (Hatcher & Gillaspy 2006)."""
WAI_SR_MODEL = "\n".join(f"{f} =~ " + " + ".join(f"wai{i}" for i in items) for f, items in WAI_SR_SUBSCALES.items())
"""The three-factor WAI-SR measurement model in lavaan syntax."""
_LOADINGS = {1: 0.72, 2: 0.78, 3: 0.74, 4: 0.70, 5: 0.80, 6: 0.76, 7: 0.71, 8: 0.79, 9: 0.75, 10: 0.73, 11: 0.77,
             12: 0.74}
_THRESHOLDS = np.array([-1.6, -0.8, 0.0, 0.9])   # P(rating >= 4) = 0.5 at the mean of group A


def simulate_alliance_items(n_per_group: int = 500, *, non_invariant: str = "wai7", item_shift: float = -0.5,
                            latent_mean_difference: float = 0.2, factor_correlation: float = 0.65,
                            n_groups: int = 2, seed: int | None = None) -> tuple[pd.DataFrame, dict]:
    """WAI-SR ratings of two cultural groups with one non-invariant item (module docstring).

    Parameters
    ----------
    n_per_group : int
        Respondents per group (groups ``"A"`` and ``"B"``).
    non_invariant : str
        The item (``"wai1"`` … ``"wai12"``) whose latent response is shifted in group B; ``""`` for none.
    item_shift : float
        The shift of that item's latent response in group B (in SDs of y*; negative: rated lower than its factor
        predicts, i.e. its thresholds relative to the factor are higher by this much).
    latent_mean_difference : float
        Mean of each factor in group B (0 in group A).
    factor_correlation : float
        Correlation between the three factors (both groups).
    n_groups : int
        Number of groups (``"A"``, ``"B"``, ``"C"``, …); every group after the first is generated as group B
        (for benchmarks with many groups).
    seed : int, optional
        Seed (recorded in ``truth["seed"]``).

    Returns
    -------
    (pandas.DataFrame, dict)
        ``respondent, culture, wai1 … wai12`` (integer ratings 1-5), and the truth: ``model`` (lavaan syntax),
        ``loadings``, ``thresholds``, ``factor_correlation``, ``latent_means``, ``non_invariant_item``,
        ``item_shift``, ``seed``.
    """
    n = check_positive_int("n_per_group", n_per_group, minimum=10)
    n_groups = check_positive_int("n_groups", n_groups, minimum=2)
    if n_groups > 26:
        raise OptionError(f"n_groups={n_groups} is more than the 26 group letters; use at most 26")
    item_shift = check_number("item_shift", item_shift)
    latent_mean_difference = check_number("latent_mean_difference", latent_mean_difference)
    factor_correlation = check_number("factor_correlation", factor_correlation, minimum=-0.49, maximum=0.99)
    items = [f"wai{i}" for i in range(1, 13)]
    if non_invariant and non_invariant not in items:
        raise OptionError(f"non_invariant={non_invariant!r} is not a WAI-SR item; use one of 'wai1' … 'wai12' or '' "
                          "for none")
    rng, recorded = generator(seed)
    factors = list(WAI_SR_SUBSCALES)
    phi = np.full((3, 3), factor_correlation)
    np.fill_diagonal(phi, 1.0)
    chol = np.linalg.cholesky(phi)
    frames = []
    for g, label in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:n_groups]):
        eta = rng.standard_normal((n, 3)) @ chol.T + (latent_mean_difference if g >= 1 else 0.0)
        eps = rng.standard_normal((n, 12))
        cols = {}
        for f_idx, f in enumerate(factors):
            for i in WAI_SR_SUBSCALES[f]:
                lam = _LOADINGS[i]
                ystar = lam * eta[:, f_idx] + np.sqrt(1.0 - lam ** 2) * eps[:, i - 1]
                if g >= 1 and f"wai{i}" == non_invariant:
                    ystar = ystar + item_shift
                cols[f"wai{i}"] = np.searchsorted(_THRESHOLDS, ystar) + 1
        frame = pd.DataFrame({"respondent": np.arange(g * n + 1, (g + 1) * n + 1), "culture": label})
        frames.append(frame.assign(**{c: cols[c] for c in items}))
    data = pd.concat(frames, ignore_index=True)
    means = {label: (0.0 if g == 0 else latent_mean_difference)
             for g, label in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:n_groups])}
    truth = {"model": WAI_SR_MODEL, "loadings": {f"wai{i}": lam for i, lam in _LOADINGS.items()},
             "thresholds": _THRESHOLDS.tolist(), "factor_correlation": factor_correlation, "latent_means": means,
             "non_invariant_item": non_invariant or None, "item_shift": item_shift if non_invariant else 0.0,
             "seed": recorded}
    return data, truth


def simulate_alliance_sessions(n_clients: int = 400, sessions: int = 3, *, drifting: str = "wai7",
                               drift: float = -0.5, growth: float = 0.15, stability: float = 0.7,
                               residual_correlation: float = 0.3, seed: int | None = None) -> tuple[pd.DataFrame, dict]:
    """The four WAI-SR bond items of the same clients at several sessions, one item drifting (module docstring).

    Parameters
    ----------
    n_clients : int
        Clients, each rated at every session.
    sessions : int
        Sessions (numbered 1, 2, …).
    drifting : str
        The bond item (``"wai3"``, ``"wai5"``, ``"wai7"``, ``"wai9"``) whose latent response shifts over sessions;
        ``""`` for none.
    drift : float
        Its shift at the last session (SDs of y*), reached linearly from 0 at session 1.
    growth : float
        Increase of the bond factor's mean per session (SDs).
    stability : float
        AR(1) correlation of the bond factor between consecutive sessions.
    residual_correlation : float
        Correlation of an item's residuals at any two sessions.
    seed : int, optional
        Seed (recorded in ``truth["seed"]``).

    Returns
    -------
    (pandas.DataFrame, dict)
        ``client, session, wai3, wai5, wai7, wai9`` (ratings 1-5), and the truth: ``model``, ``loadings``,
        ``thresholds``, ``factor_means`` (by session), ``drifting_item``, ``drift``, ``seed``.

    Examples
    --------
    >>> data, truth = simulate_alliance_sessions(n_clients=50, sessions=3, seed=2)
    >>> data.shape, truth["factor_means"]
    ((150, 6), {1: 0.0, 2: 0.15, 3: 0.3})
    """
    n = check_positive_int("n_clients", n_clients, minimum=10)
    T = check_positive_int("sessions", sessions, minimum=2)
    drift = check_number("drift", drift)
    growth = check_number("growth", growth)
    stability = check_number("stability", stability, minimum=-0.99, maximum=0.99)
    residual_correlation = check_number("residual_correlation", residual_correlation, minimum=0.0, maximum=0.99)
    items = [f"wai{i}" for i in WAI_SR_SUBSCALES["bond"]]
    if drifting and drifting not in items:
        raise OptionError(f"drifting={drifting!r} is not a bond item; use one of {items} or '' for none")
    rng, recorded = generator(seed)
    lag = np.abs(np.subtract.outer(np.arange(T), np.arange(T)))
    chol_eta = np.linalg.cholesky(stability ** lag)
    chol_e = np.linalg.cholesky(np.where(lag == 0, 1.0, residual_correlation))
    means = growth * np.arange(T)
    eta = rng.standard_normal((n, T)) @ chol_eta.T + means
    cols = {}
    for item in items:
        lam = _LOADINGS[int(item[3:])]
        e = rng.standard_normal((n, T)) @ chol_e.T
        ystar = lam * eta + np.sqrt(1.0 - lam ** 2) * e
        if item == drifting:
            ystar = ystar + drift * np.arange(T) / (T - 1)
        cols[item] = np.searchsorted(_THRESHOLDS, ystar) + 1
    data = pd.DataFrame({"client": np.repeat(np.arange(1, n + 1), T), "session": np.tile(np.arange(1, T + 1), n)})
    for item in items:
        data[item] = cols[item].reshape(-1)
    truth = {"model": "bond =~ " + " + ".join(items), "loadings": {v: _LOADINGS[int(v[3:])] for v in items},
             "thresholds": _THRESHOLDS.tolist(),
             "factor_means": {t + 1: round(float(m), 12) for t, m in enumerate(means)},
             "drifting_item": drifting or None, "drift": drift if drifting else 0.0, "seed": recorded}
    return data, truth
