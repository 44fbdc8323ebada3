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

__all__ = ["simulate_alliance_items", "WAI_SR_SUBSCALES", "WAI_SR_MODEL"]

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
