"""lag_sequential's permutation test with structural zeros: the swap chain and Besag & Clifford's exact p.

The constrained reference set is every within-session order of the codes with no structural-zero transition at the
lag analysed. No R package computes it (LagSequential's constrained shuffle has no known distribution), so the
checks are properties: no draw breaks a structural zero, every draw keeps its session's codes, every permitted
order of a small session is reached, a strong effect gets the smallest p possible, and null data give p-values
whose distribution is uniform within binomial bands.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from allianceStats.errors import DataWarning
from allianceStats.process import lag_sequential
from allianceStats.process.sequential import _constrained_permutations, _structural


def _no_repeat_sessions(rng, n_sessions, length, k, strength=0.0):
    """Markov chains that never repeat a code. strength 0: the next code uniform over the k - 1 others, so every
    order with these code counts is equally likely (the null of the constrained test); strength > 0: code i is
    followed by i + 1 (mod k) with that extra probability (a strong sequential effect)."""
    rows = []
    for s in range(n_sessions):
        x = [int(rng.integers(k))]
        for _ in range(length - 1):
            p = np.full(k, (1.0 - strength) / (k - 1))
            p[x[-1]] = 0.0
            p[(x[-1] + 1) % k] += strength
            x.append(int(rng.choice(k, p=p / p.sum())))
        rows += [{"client": s, "session": 1, "order": t, "code": "ABCDEF"[c]} for t, c in enumerate(x)]
    return pd.DataFrame(rows)


def _forbidden_count(draws, unit, lag, zero):
    same = unit[lag:] == unit[:-lag]
    return int(zero[draws[:, :-lag][:, same], draws[:, lag:][:, same]].sum())


@pytest.mark.parametrize("lag, zeros", [(1, "diagonal"), (2, "diagonal"), (1, [("A", "B"), ("B", "A"), ("C", "C")])])
def test_no_draw_contains_a_structural_zero_and_sessions_keep_their_codes(lag, zeros):
    rng = np.random.default_rng(11)
    zero = _structural(zeros, ("A", "B", "C"))
    rows = []
    for s in range(3):  # data that respect these zeros: each code drawn among those allowed after t - lag
        x = list(rng.integers(3, size=lag))
        for _ in range(40 - lag):
            x.append(int(rng.choice(np.flatnonzero(~zero[x[-lag]]))))
        rows += [{"client": s, "session": 1, "order": t, "code": "ABC"[c]} for t, c in enumerate(x)]
    ev = pd.DataFrame(rows)
    x = ev["code"].map({"A": 0, "B": 1, "C": 2}).to_numpy()
    unit = ev["client"].to_numpy()
    assert _forbidden_count(x[None], unit, lag, zero) == 0
    draws = np.concatenate(list(_constrained_permutations(x, unit, lag, zero, 500, seed=3)))
    assert draws.shape == (500, x.size)
    assert _forbidden_count(draws, unit, lag, zero) == 0
    for s in np.unique(unit):
        np.testing.assert_array_equal(np.sort(draws[:, unit == s], axis=1),
                                      np.broadcast_to(np.sort(x[unit == s]), (500, (unit == s).sum())))
    # the chains move: most draws differ from the data
    assert (draws != x).any(axis=1).mean() > 0.9


def test_every_permitted_order_of_a_small_session_is_reached():
    x = np.array([0, 1, 0, 1, 2, 0, 1, 2])
    unit = np.zeros(8, np.int64)
    zero = np.eye(3, dtype=bool)
    permitted = {p for p in itertools.permutations(x) if not zero[np.array(p[:-1]), np.array(p[1:])].any()}
    draws = np.concatenate(list(_constrained_permutations(x, unit, 1, zero, 20_000, seed=1)))
    seen = {tuple(r) for r in draws}
    assert seen == permitted and len(permitted) == 74


def test_strong_effect_gets_a_small_p():
    ev = _no_repeat_sessions(np.random.default_rng(2), 4, 60, 4, strength=0.6)
    res = lag_sequential(ev, structural_zeros="diagonal", n_draws=199, seed=5)
    assert res.p_permutation == pytest.approx(1 / 200)
    t = res.table.set_index(["given", "target"])
    assert (t.loc[[("A", "B"), ("B", "C"), ("C", "D"), ("D", "A")], "p_permutation"] == 1 / 200).all()
    assert t.loc[[("A", "A"), ("B", "B")], "p_permutation"].isna().all()
    assert res.provenance.seed == 5 and "structural zeros kept empty" in res.summary()
    again = lag_sequential(ev, structural_zeros="diagonal", n_draws=199, seed=5)
    pd.testing.assert_frame_equal(res.table, again.table)


def test_null_p_values_are_uniform():
    """Under the null each data set's table-wide p is exactly (discretely) uniform on {1/100, ..., 1} up to ties
    (Besag & Clifford's parallel method). 60 seeded null data sets: the number with p <= 0.1 is Binomial(60, 0.1)
    at most, p <= 0.5 Binomial(60, 0.5); both must lie inside their central 99.8% ranges, and the mean p inside
    0.5 +- 3.3 SE (SE = sqrt(1/12 / 60))."""
    rng = np.random.default_rng(2024)
    ps = np.array([lag_sequential(_no_repeat_sessions(rng, 3, 30, 4), structural_zeros="diagonal", n_draws=99,
                                  seed=i).p_permutation for i in range(60)])
    lo10, hi10 = stats.binom.ppf([0.001, 0.999], 60, 0.1)
    lo50, hi50 = stats.binom.ppf([0.001, 0.999], 60, 0.5)
    assert lo10 <= (ps <= 0.1).sum() <= hi10
    assert lo50 <= (ps <= 0.5).sum() <= hi50
    assert abs(ps.mean() - 0.5) < 3.3 * np.sqrt(1 / 12 / 60)
    assert stats.kstest(ps, "uniform").pvalue > 0.001


def test_a_session_with_no_permitted_swap_warns():
    # A B A B with no code following itself: the only other permitted order (B A B A) differs everywhere
    ev = pd.DataFrame({"session": 1, "order": range(4), "code": list("ABAB")})
    with pytest.warns(DataWarning, match="every draw is the observed order"):
        res = lag_sequential(ev, client=None, structural_zeros="diagonal", n_draws=20, seed=1)
    assert res.p_permutation == 1.0
