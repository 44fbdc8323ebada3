"""lag_sequential, time-based mode: the table-wide G^2 of the time-unit tallies and the permutation test.

LagSequential (the R reference of the event-based fixtures) takes code sequences or transition matrices only and
has no time-based mode, and GSEQ is a closed Windows program, so there is no R fixture here. The checks are
independent computations: the tally table built by a plain loop over time units, its G^2 by
``scipy.stats.chi2_contingency(lambda_="log-likelihood")`` and, with structural zeros, the deviance of a Poisson
log-linear model (rows + columns) over the free cells fitted by statsmodels (tolerance 1e-8 relative: the same
quantity by IRLS instead of iterative proportional fitting).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from allianceStats.errors import OptionError, SchemaError
from allianceStats.process import lag_sequential
from allianceStats.process.sequential import _reorder_in_time


def _stream(rng, n_sessions=5, n_events=60, codes="ABCD", follow=None):
    """Non-overlapping events with gaps; ``follow=(g, t)``: after each g, the next event is t, starting 0.2 s later."""
    rows = []
    for s in range(n_sessions):
        t = float(rng.uniform(0, 2))
        prev = None
        for i in range(n_events):
            c = codes[int(rng.integers(len(codes)))]
            gap = float(rng.exponential(1.5))
            if follow is not None and prev == follow[0]:
                c, gap = follow[1], 0.2
            dur = float(rng.uniform(0.5, 4.0))
            rows.append({"client": s, "session": 1, "order": i, "code": c, "onset": t + gap,
                         "offset": t + gap + dur})
            t += gap + dur
            prev = c
    return pd.DataFrame(rows)


def _tally_by_loop(ev, window, codes, time_unit=1.0):
    """Units in a window of each given with each target on, unit by unit (the definition, written plainly)."""
    table = pd.DataFrame(0, index=codes, columns=codes)
    for _, s in ev.groupby("client"):
        n_units = int(np.ceil(s["offset"].max() / time_unit - 1e-9))
        for u in range(n_units):
            start = u * time_unit
            on = {c for c, a, b in zip(s["code"], s["onset"], s["offset"]) if a <= start < b}
            given = {c for c, b in zip(s["code"], s["offset"]) if b <= start < b + window}
            for g in given:
                for t in on:
                    table.loc[g, t] += 1
    return table


@pytest.fixture(scope="module")
def stream():
    return _stream(np.random.default_rng(8))


def test_table_wide_g2_against_scipy_on_a_loop_built_tally(stream):
    codes = ["A", "B", "C", "D"]
    res = lag_sequential(stream, window=3.0)
    loop = _tally_by_loop(stream, 3.0, codes)
    np.testing.assert_array_equal(res.matrix("observed").to_numpy(), loop.to_numpy())
    g2, p, dof, expected = stats.chi2_contingency(loop.to_numpy(), correction=False, lambda_="log-likelihood")
    assert res.chisq == pytest.approx(g2, rel=1e-10) and res.df == dof == 9
    assert res.p_value == pytest.approx(p, rel=1e-8)
    assert res.converged and res.n_transitions == sum(int(np.ceil(s["offset"].max())) for _, s in
                                                      stream.groupby("client"))
    text = res.summary()
    assert "table-wide likelihood-ratio chi-square" in text and "not independent" in text
    assert "chisq=" in repr(res) and "window=3s" in repr(res)


def test_time_unit_other_than_one_second(stream):
    res = lag_sequential(stream, window=2.0, time_unit=0.5)
    loop = _tally_by_loop(stream, 2.0, ["A", "B", "C", "D"], time_unit=0.5)
    np.testing.assert_array_equal(res.matrix("observed").to_numpy(), loop.to_numpy())
    g2 = stats.chi2_contingency(loop.to_numpy(), correction=False, lambda_="log-likelihood")[0]
    assert res.chisq == pytest.approx(g2, rel=1e-10)


def test_structural_zeros_by_ipf_against_a_poisson_glm():
    # B starts 0.2 s after every A ends, so A's 1-s windows hold little but B: the empty cells are declared zeros
    rng = np.random.default_rng(3)
    ev = _stream(rng, codes="ABCD", follow=("A", "B"))
    codes = ["A", "B", "C", "D"]
    loop = _tally_by_loop(ev, 1.0, codes)
    zeros = [(g, t) for g in codes for t in codes if loop.loc[g, t] == 0]
    assert zeros, "the simulated data need at least one empty cell to declare"
    res = lag_sequential(ev, window=1.0, structural_zeros=zeros)
    free = [(g, t) for g in codes for t in codes if (g, t) not in zeros]
    cells = pd.DataFrame({"count": [loop.loc[g, t] for g, t in free], "row": [g for g, _ in free],
                          "col": [t for _, t in free]})
    x = pd.get_dummies(cells[["row", "col"]], drop_first=True).astype(float)
    glm = sm.GLM(cells["count"].to_numpy(float), sm.add_constant(x), family=sm.families.Poisson()).fit(tol=1e-14)
    assert res.chisq == pytest.approx(glm.deviance, rel=1e-8)
    assert res.df == glm.df_resid == 9 - len(zeros)
    assert res.convergence.optimizer == "iterative proportional fitting" and res.structural_zeros
    t = res.table.set_index(["given", "target"])
    assert (t.loc[zeros, "expected"] == 0).all() and t.loc[zeros, "adjusted_residual"].isna().all()
    with pytest.raises(SchemaError, match="structural zeros"):
        lag_sequential(ev, window=1.0, structural_zeros=[free[0]])


def test_reordering_keeps_durations_gaps_and_session_length(stream):
    s = stream.sort_values(["client", "onset"])
    unit, on, off = s["client"].to_numpy(), s["onset"].to_numpy(), s["offset"].to_numpy()
    perm, new_on, new_off = _reorder_in_time(unit, on, off, 50, np.random.default_rng(1))
    np.testing.assert_allclose(new_off - new_on, (off - on)[perm], atol=1e-9)
    first = np.r_[True, unit[1:] != unit[:-1]]
    gaps = on - np.where(first, 0.0, np.r_[0.0, off[:-1]])
    new_gaps = new_on - np.where(first, 0.0, np.c_[np.zeros((50, 1)), new_off[:, :-1]])
    np.testing.assert_allclose(new_gaps, np.broadcast_to(gaps, new_gaps.shape), atol=1e-9)
    last = np.r_[unit[1:] != unit[:-1], True]
    np.testing.assert_allclose(new_off[:, last], np.broadcast_to(off[last], (50, last.sum())), atol=1e-9)
    assert (unit[perm] == unit).all() and (np.sort(perm, axis=1) == np.arange(unit.size)).all()
    assert (perm != np.arange(unit.size)).any(axis=1).all()


def test_permutation_detects_a_timed_effect_and_not_a_null(stream):
    effect = _stream(np.random.default_rng(4), follow=("A", "B"))
    res = lag_sequential(effect, window=1.0, n_draws=199, seed=2)
    t = res.table.set_index(["given", "target"])
    assert t.loc[("A", "B"), "p_permutation"] == pytest.approx(1 / 200)
    assert res.p_permutation == pytest.approx(1 / 200) and res.provenance.seed == 2
    assert "time-based permutation test: p =" in res.summary() and "durations and gaps kept" in res.summary()
    null = lag_sequential(stream, window=3.0, n_draws=199, seed=2)
    assert null.p_permutation > 0.05 and (null.table["p_permutation"] > 0.01).all()
    again = lag_sequential(stream, window=3.0, n_draws=199, seed=2)
    pd.testing.assert_frame_equal(null.table, again.table)


def test_permutation_refuses_overlaps_and_structural_zeros(stream):
    overlapping = stream.copy()
    overlapping.loc[1, "onset"] = overlapping.loc[0, "offset"] - 0.5
    with pytest.raises(OptionError, match="overlap in time within 1 session"):
        lag_sequential(overlapping, window=3.0, n_draws=10)
    lag_sequential(overlapping, window=3.0)  # the asymptotic test needs no layout
    with pytest.raises(OptionError, match="structural_zeros"):
        lag_sequential(stream, window=3.0, n_draws=10, structural_zeros=[("A", "A")])
    # per_session=True is accepted with window= (tests/process/test_sequential_time_sessions.py); lag= is not
    with pytest.raises(OptionError, match="lag=2 has no meaning with window="):
        lag_sequential(stream, window=3.0, lag=2)
