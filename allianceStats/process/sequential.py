r"""Lag-sequential analysis of coded events: what tends to follow what.

Definitions (Bakeman & Quera, 2011, ch. 9-11; Bakeman & Gottman, 1997)
---------------------------------------------------------------------
**Event-based.** Within each session the events are put in order and every pair (event *t*, event *t* + *k*) is a
*transition* from the *given* code to the *target* code at lag *k*; no pair crosses a session boundary. The
transition table :math:`O` (given × target) is pooled over sessions by summing the sessions' tables. With row
totals :math:`r_i`, column totals :math:`c_j` and :math:`N` transitions:

- expected frequencies under independence :math:`E_{ij} = r_i c_j / N`; when some transitions cannot occur
  (*structural zeros*, e.g. a code that cannot follow itself because consecutive codes of one kind were merged),
  :math:`E` is the maximum-likelihood fit of the quasi-independence model, found by iterative proportional
  fitting over the other cells, as GSEQ does (Wickens, 1989, pp. 107-112; Bakeman & Quera, 2011, ch. 10);
- the likelihood-ratio statistic :math:`G^2 = 2\sum O_{ij}\ln(O_{ij}/E_{ij})` on
  :math:`(R-1)(C-1) - z` degrees of freedom, with *R* and *C* the codes that occur as given and as target and
  *z* the structural zeros among them;
- adjusted residuals (Allison & Liker, 1982; Haberman, 1979)
  :math:`(O_{ij}-E_{ij}) / \sqrt{E_{ij}(1-r_i/N)(1-c_j/N)}`, and with structural zeros the standardized Pearson
  residual of the quasi-independence log-linear model :math:`(O_{ij}-E_{ij})/\sqrt{E_{ij}(1-h_{ij})}` with
  :math:`h` the leverage (Christensen, 1997, p. 357) — the two agree when there are no structural zeros;
  ``p_value`` is the two-sided normal p of the adjusted residual;
- transitional probabilities :math:`O_{ij}/r_i`;
- Yule's Q of the 2 × 2 table (given *i* or not) × (target *j* or not), :math:`Q = (ad-bc)/(ad+bc)`, with its
  standard error :math:`\tfrac12(1-Q^2)\sqrt{1/a+1/b+1/c+1/d}` (delta method from the log odds ratio; missing
  when a cell is 0).

**Permutation test** (``n_draws=``): the codes are shuffled within each session (keeping every session's code
frequencies), the table is tallied again, and each cell's p is the share of draws whose count lies at least as
far from the permutation mean as the observed count, :math:`(1+\#)/(1+n_{draws})`; the table-wide p compares
:math:`G^2` in the same way (Bakeman, Robinson & Quera, 1996). Such a p-value is exact whatever ``n_draws``; another
seed moves it by about its Monte Carlo standard error :math:`\sqrt{p(1-p)/n_{draws}}` (``p_permutation_mc_se``,
printed by ``summary()``; Davison & Hinkley, 1997, sec. 4.2.5): 0.007 at p = .05 with 999 draws.

**Constrained permutations** (``n_draws=`` with ``structural_zeros=``): a free shuffle would create the transitions
declared impossible (a code following itself when repeats were merged), so the reference set is the orders of each
session's codes with *no* structural-zero transition at the lag analysed, all equally likely — the constrained
shuffling that sampled permutation tests need for such data (Bakeman, Robinson & Quera, 1996). Rejection of whole
shuffles is hopeless (a 500-event session of four codes shuffled freely has about 125 repeats, so almost no shuffle
is free of them), and LagSequential's swap-until-allowed Fisher-Yates shuffle (O'Connor, 1999) has no known
distribution over the permitted orders. Here a Markov chain of swaps does it: at each step the events at positions
*p* and *p* + *d* of a session are exchanged for a grid of *p* (every :math:`2k+3` positions, each swap proposed
with probability 1/2, *d* log-uniform on 1 … the session length), and a swap is made only when none of the
transitions it touches is a structural zero. Each step is its own inverse, so the uniform distribution over the
permitted orders is stationary. P-values follow Besag & Clifford's (1989) parallel method: one chain runs the steps
backwards from the observed order to a state :math:`x^*`, and ``n_draws`` independent chains run them forwards from
:math:`x^*`; under the null the observed order and the draws are exchangeable, so :math:`(1+\#)/(1+n_{draws})` is an
exact p-value whatever the chain's mixing (``SWAP_SWEEPS`` × (2k + 3) steps, about 20 proposals per event; mixing
only costs power). The swaps need not connect all permitted orders of a session (with no code following itself,
*ABAB*'s only other permitted order *BABA* differs in every position, so no single swap reaches it); the test is
then conditional on the orders reachable from the data, which keeps it exact but costs power. When no swap is ever
permitted, every draw is the data, the p-values are 1, and a :class:`~allianceStats.errors.DataWarning` says so.

**Per session** (``per_session=True``): every session's table on its own (``.sessions``) and a summary across
sessions (``.session_summary``): the mean Yule's Q of each transition over the sessions where it is defined,
with a one-sample *t* test and interval, as Bakeman & Quera (2011, ch. 11) recommend for analysing sessions as
units rather than pooling their events. Columns of ``session_summary``: ``n_sessions`` (sessions with a defined
Q), ``estimate`` (their mean Q), ``std_error`` (SD / :math:`\sqrt{n}`), ``statistic`` (*t* on *n* − 1 df against
Q = 0), ``p_value``, ``ci_lower``, ``ci_upper``, ``sd``, and the mean transitional probability and adjusted
residual over the sessions. The same in both modes: in time-based mode each session's statistics are those of
its own 2 × 2 time-unit tables (below), with the session's time units as *N*, and the pooled tallies are the sums
of the sessions'. Yule's Q has no continuity correction in any mode: a 2 × 2 table with one empty cell gives
Q = ±1 (as LagSequential reports it), and Q is missing only when :math:`ad + bc = 0` — in time-based mode e.g. a
session where the given code has no window or the target is never on; such sessions are left out of that
transition's ``n_sessions``.

**Time-based** (``window=`` seconds, needs ``onset`` / ``offset``): time is cut into units of ``time_unit``
seconds. For each given code its *window* is the ``window`` seconds after each of its events ends; for each target
code a unit counts when an event of that code is going on at its start. Each (given, target) pair is then a 2 × 2
table of time units (in the given's window or not × target on or not), giving ``observed`` (units in the window
with the target on), ``expected``, ``transitional_probability`` P(target on | in window), the adjusted residual
and Yule's Q of that 2 × 2 table (Bakeman & Quera, 2011, ch. 10-11, time-window tallies, as GSEQ tallies them).
With ``per_session=True`` every session gets its own 2 × 2 tables (and its own table-wide :math:`G^2`), summarised
across sessions as above (Bakeman & Quera, 2011, ch. 11: sessions as the units of analysis).

*Table-wide test, time-based.* The ``observed`` column, arranged given × target, is a table of time-unit
co-occurrence tallies: cell (*i*, *j*) counts the units that lie in a window of *i* with *j* on. ``chisq`` is its
likelihood-ratio :math:`G^2 = 2\sum O_{ij}\ln(O_{ij}/E_{ij})` with :math:`E_{ij} = r_i c_j / N` from the table's
own margins (or, with ``structural_zeros=``, the quasi-independence fit by the same iterative proportional
fitting), on :math:`(R-1)(C-1) - z` degrees of freedom (*R*, *C*: codes with a non-empty row / column; *z*: the
structural zeros among them) — the event-based test applied to GSEQ's time-window table (Bakeman & Quera, 2011,
ch. 10-11). Its *p* from :math:`\chi^2` is approximate: time units are not independent observations (a window of
*w* seconds puts runs of consecutive units into one cell, and one unit can be in the windows of several givens and
have several targets on), so :math:`G^2` is usually larger than its :math:`\chi^2` reference and the asymptotic p
too small. The permutation test is the check: ``n_draws=`` with ``window=`` reorders each session's events at
random, keeping every event's code and duration and the session's sequence of gaps (before the first event and
between consecutive events), lays them end to end, and tallies again; the p-values are computed as in event mode.
It needs events that do not overlap within a session (one stream; otherwise there is no single end-to-end layout,
and an :class:`~allianceStats.errors.OptionError` says so) and is not combined with ``structural_zeros=``.

Validated against LagSequential 0.1.1 (O'Connor, 1999) on the examples of Bakeman & Quera (2011, p. 159),
Griffin & Gottman (1990) and Wampold (1984), and against R's ``loglin`` / Poisson ``glm`` for structural zeros
(``tests/process/fixtures/make_lag_fixtures.R``).

References
----------
Allison, P. D., & Liker, J. K. (1982). Analyzing sequential categorical data on dyadic interaction. *Psychological
Bulletin, 91*, 393-403. Davison, A. C., & Hinkley, D. V. (1997). *Bootstrap methods and their application*.
Cambridge University Press. Bakeman, R., Robinson, B. F., & Quera, V. (1996). Testing sequential association: Estimating
exact p values using sampling permutations. *Psychological Methods, 1*, 4-15. Besag, J., & Clifford, P. (1989).
Generalized Monte Carlo significance tests. *Biometrika, 76*, 633-642. Bakeman, R., & Quera, V. (2011). *Sequential
analysis and observational methods for the behavioral sciences*. Cambridge University Press. Christensen, R. (1997).
*Log-linear models and logistic regression* (2nd ed.). Springer. O'Connor, B. P. (1999). Simple and flexible SAS and
SPSS programs for analyzing lag-sequential categorical data. *Behavior Research Methods, 31*, 718-726. Wickens, T.
D. (1989). *Multiway contingency tables analysis for the social sciences*. Erlbaum.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, special, stats

from ..data.checks import (
    check_bool,
    check_conf_level,
    check_positive_int,
    first_labels,
    require_columns,
    require_numeric,
    resolve_seed,
)
from ..errors import DataWarning, OptionError, SchemaError
from ..results import CLOSED_FORM, Convergence, Provenance, ResultDisplay, make_provenance

__all__ = ["lag_sequential", "lag_sequential_from_table", "LagSequentialResult", "TABLE_COLUMNS"]

TABLE_COLUMNS = ["given", "target", "observed", "expected", "transitional_probability", "adjusted_residual",
                 "yules_q", "p_value", "yules_q_se"]
IPF_TOL = 1e-10
IPF_MAX_ITER = 10_000
_BATCH_CELLS = 4_000_000  # events x draws shuffled at once in the permutation test
_MAX_DRAW_CELLS = 250_000_000  # draws x codes^2 permutation counts kept (2 GB of float64)
_MAX_TIME_CELLS = 100_000_000  # codes x time units of one time-based tally (several arrays of 8 bytes each)
SWAP_SWEEPS = 20  # steps of the constrained permutation chain, in units of 2 lag + 3 (one proposal per position)


# --------------------------------------------------------------------------------------------------- input
def _rows_of(mask: np.ndarray, limit: int = 10) -> str:
    rows = np.flatnonzero(mask) + 1
    return ", ".join(map(str, rows[:limit])) + (f" … ({rows.size} rows in all)" if rows.size > limit else "")


def _code_ints(values: pd.Series, codes, where: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes as integers 0..K-1 and their labels (``codes`` order, else sorted)."""
    problems = []
    if values.isna().any():
        problems.append(f"column {values.name!r}: missing code at rows {_rows_of(values.isna().to_numpy())}; every "
                        "event needs a code (drop uncoded events first).")
    if codes is None:
        if isinstance(values.dtype, pd.CategoricalDtype):
            labels = tuple(map(str, values.cat.categories))
            ints = values.cat.codes.to_numpy().astype(np.int64)
        else:
            ints, uniq = pd.factorize(values.astype(str) if values.dtype != object else values, sort=True)
            labels = tuple(map(str, uniq))
    else:
        if hasattr(codes, "labels"):
            codes = codes.labels
        if isinstance(codes, str):
            raise OptionError(f"codes={codes!r} must be a list of codes (or a CodeSet); for a shipped code set use "
                              f"codes=load_code_set({codes!r})")
        if not isinstance(codes, Iterable) or isinstance(codes, Mapping):
            raise OptionError(f"codes={codes!r} must be a list of codes (or a CodeSet), e.g. codes=['R', 'Q', 'CT'] "
                              "(their order is the order of the table), or None for the codes found")
        labels = tuple(dict.fromkeys(map(str, codes)))
        text = values.astype(str)
        ints = pd.Index(labels).get_indexer(text).astype(np.int64)
        unknown = (ints < 0) & values.notna().to_numpy()
        for code in pd.unique(text[unknown]):
            problems.append(f"column {values.name!r}: unknown code {code!r} at rows "
                            f"{_rows_of((text == code).to_numpy())}; codes= lists {first_labels(labels, 20)}.")
    if problems:
        raise SchemaError(problems, source=where)
    return ints, labels


def _units(data: pd.DataFrame, client: str | None, session: str) -> tuple[np.ndarray, pd.DataFrame]:
    """One integer per session (client x session) and the key table of the units."""
    cols = [c for c in (client, session) if c is not None]
    if len(cols) == 1:
        ids, uniq = pd.factorize(data[cols[0]], sort=True)
        keys = pd.DataFrame({cols[0]: uniq})
        return ids.astype(np.int64), keys
    a, ua = pd.factorize(data[cols[0]], sort=True)
    b, ub = pd.factorize(data[cols[1]], sort=True)
    joint, uniq = pd.factorize(a.astype(np.int64) * (len(ub) + 1) + b, sort=True)
    keys = pd.DataFrame({cols[0]: ua[uniq // (len(ub) + 1)], cols[1]: ub[uniq % (len(ub) + 1)]})
    return joint.astype(np.int64), keys


def _structural(structural_zeros, labels: Sequence[str]) -> np.ndarray:
    """Boolean K x K matrix, True where a transition cannot occur."""
    k = len(labels)
    zero = np.zeros((k, k), bool)
    if structural_zeros is None:
        return zero
    if isinstance(structural_zeros, str):
        if structural_zeros != "diagonal":
            raise OptionError(f"structural_zeros={structural_zeros!r} is not supported; use 'diagonal' (no code "
                              "follows itself), a list of (given, target) pairs, or None")
        np.fill_diagonal(zero, True)
        return zero
    if not isinstance(structural_zeros, Iterable) or isinstance(structural_zeros, Mapping):
        raise OptionError(f"structural_zeros={structural_zeros!r} is not supported; use 'diagonal' (no code follows "
                          "itself), a list of (given, target) pairs such as [('R', 'R'), ('Q', 'Q')], or None")
    pos = {c: i for i, c in enumerate(labels)}
    bad = []
    for pair in structural_zeros:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise OptionError(f"structural_zeros: {pair!r} is not a (given, target) pair")
        g, t = map(str, pair)
        if g not in pos or t not in pos:
            bad.append((g, t))
            continue
        zero[pos[g], pos[t]] = True
    if bad:
        raise OptionError(f"structural_zeros names codes that are not in the data or in codes=: {bad}; codes are "
                          f"{list(labels)}")
    return zero


# ---------------------------------------------------------------------------------------------- statistics
def _yules_q(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Yule's Q of 2 x 2 tables with cells ``a`` (given and target), ``b`` (given, not target), ``c`` (target, not
    given), ``d`` (neither), element by element, and its standard error.

    :math:`Q = (ad - bc)/(ad + bc)`, missing when :math:`ad + bc = 0`; no continuity correction (a table with one
    empty cell gives Q = ±1, as LagSequential reports it). The standard error
    :math:`\\tfrac12(1-Q^2)\\sqrt{1/a+1/b+1/c+1/d}` (delta method from the log odds ratio) is missing when a cell is 0
    (Bakeman & Quera, 2011, ch. 9-11). One function for every mode (event-based, time-based; pooled, per session).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        num, den = a * d - b * c, a * d + b * c
        q = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        allpos = (a > 0) & (b > 0) & (c > 0) & (d > 0)
        safe = lambda m: np.where(allpos, m, 1.0)  # noqa: E731
        se = np.where(allpos, 0.5 * (1 - q**2) * np.sqrt(1 / safe(a) + 1 / safe(b) + 1 / safe(c) + 1 / safe(d)),
                      np.nan)
    return q, se


def _lr_df(obs: np.ndarray, zero: np.ndarray) -> np.ndarray:
    """Degrees of freedom of G^2 for a stack of tables (S, K, K): (R - 1)(C - 1) - z over the non-empty rows and
    columns, z the structural zeros among them."""
    rows, cols = obs.sum(2) > 0, obs.sum(1) > 0
    zeros_in = (zero[None] & rows[:, :, None] & cols[:, None, :]).sum((1, 2))
    # an empty row/column set has no parameters to lose; a table whose structural zeros leave it saturated has df 0
    return np.maximum(np.maximum(rows.sum(1) - 1, 0) * np.maximum(cols.sum(1) - 1, 0) - zeros_in, 0)


def _ipf(obs: np.ndarray, free: np.ndarray) -> tuple[np.ndarray, int, bool]:
    """Quasi-independence fit by iterative proportional fitting over a stack of tables (S, K, K)."""
    r, c = obs.sum(2), obs.sum(1)
    e = np.broadcast_to(free, obs.shape).astype(float).copy()
    ok = False
    iterations = 0
    for iterations in range(1, IPF_MAX_ITER + 1):  # noqa: B007 - the count is returned
        rs = e.sum(2)
        e *= np.divide(r, rs, out=np.zeros_like(rs), where=rs > 0)[:, :, None]
        cs = e.sum(1)
        e *= np.divide(c, cs, out=np.zeros_like(cs), where=cs > 0)[:, None, :]
        if np.abs(e.sum(2) - r).max() < IPF_TOL and np.abs(e.sum(1) - c).max() < IPF_TOL:
            ok = True
            break
    return e, iterations, ok


def _leverage(exp: np.ndarray, free: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Leverages h of the quasi-independence Poisson log-linear model (rows + columns) at its fit ``exp``."""
    k = exp.shape[0]
    h = np.full((k, k), np.nan)
    ri, ci = np.flatnonzero(rows), np.flatnonzero(cols)
    cells = [(i, j) for i in ri for j in ci if free[i, j]]
    if not cells:
        return h
    x = np.zeros((len(cells), len(ri) + len(ci) - 1))
    rpos = {i: n for n, i in enumerate(ri)}
    cpos = {j: n for n, j in enumerate(ci)}
    for n, (i, j) in enumerate(cells):
        x[n, 0] = 1.0
        if rpos[i] > 0:
            x[n, rpos[i]] = 1.0
        if cpos[j] > 0:
            x[n, len(ri) - 1 + cpos[j]] = 1.0
    w = np.array([exp[i, j] for i, j in cells])
    m = x.T @ (w[:, None] * x)
    lev = w * np.einsum("ij,ij->i", x @ np.linalg.pinv(m), x)
    for n, (i, j) in enumerate(cells):
        h[i, j] = lev[n]
    return h


def _table_stats(obs: np.ndarray, zero: np.ndarray) -> dict:
    """Every statistic of a stack of transition tables ``obs`` (S, K, K) with structural zeros ``zero``."""
    obs = obs.astype(float)
    s, k, _ = obs.shape
    r, c = obs.sum(2), obs.sum(1)
    n = r.sum(1)
    iterations, converged = 0, True
    if zero.any():
        exp, iterations, converged = _ipf(obs, ~zero)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            exp = np.where(n[:, None, None] > 0, r[:, :, None] * c[:, None, :] / n[:, None, None], 0.0)
    rows, cols = r > 0, c > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        term = np.where((obs > 0) & (exp > 0), obs * np.log(obs / np.where(exp > 0, exp, 1.0)), 0.0)
    chisq = 2.0 * term.sum((1, 2))
    df = _lr_df(obs, zero)
    with np.errstate(invalid="ignore", divide="ignore"):
        if zero.any():
            lev = np.stack([_leverage(exp[i], ~zero, rows[i], cols[i]) for i in range(s)])
            var = exp * (1.0 - lev)
        else:
            pr, pc = r / n[:, None], c / n[:, None]
            var = exp * (1.0 - pr)[:, :, None] * (1.0 - pc)[:, None, :]
        adj = np.where(var > 1e-300, (obs - exp) / np.sqrt(np.where(var > 1e-300, var, 1.0)), np.nan)
        tprob = np.where(rows[:, :, None], obs / np.where(rows, r, 1.0)[:, :, None], np.nan)
    q, se = _yules_q(obs, r[:, :, None] - obs, c[:, None, :] - obs,
                     n[:, None, None] - r[:, :, None] - c[:, None, :] + obs)
    exp = np.where(zero[None], 0.0, exp)
    for m in (adj, q, se):
        m[:, zero] = np.nan
    p = 2.0 * special.ndtr(-np.abs(adj))
    p_table = np.where(df > 0, stats.chi2.sf(chisq, np.maximum(df, 1)), np.nan)
    return dict(observed=obs, expected=exp, transitional_probability=tprob, adjusted_residual=adj, yules_q=q,
                p_value=p, yules_q_se=se, chisq=chisq, df=df, p_table=p_table, n=n,
                iterations=iterations, converged=converged)


def _long(st: dict, labels: Sequence[str], index: int | None = None) -> pd.DataFrame:
    k = len(labels)
    sl = slice(None) if index is None else index
    reps = 1 if index is not None else st["observed"].shape[0]
    out = {"given": np.tile(np.repeat(np.asarray(labels, dtype=object), k), reps),
           "target": np.tile(np.asarray(labels, dtype=object), k * reps)}
    for name in TABLE_COLUMNS[2:]:
        v = st[name][sl]
        out[name] = v.reshape(-1, k * k).ravel() if index is None else v.ravel()
    frame = pd.DataFrame(out)
    frame["observed"] = frame["observed"].astype(np.int64)
    return frame


# ---------------------------------------------------------------------------------------------- the result
#: the permutation tests of :func:`lag_sequential` (``LagSequentialResult.permutation``): name, what one draw is
PERMUTATION_TESTS = {
    "free": ("permutation test", "shuffles of the codes within sessions"),
    "constrained": ("constrained permutation test", "reorderings within sessions with the structural zeros kept "
                                                    "empty: a chain of swaps, exact p by Besag & Clifford's parallel "
                                                    "method"),
    "time": ("time-based permutation test", "reorderings of the events within sessions, durations and gaps kept"),
}


@dataclass(frozen=True, repr=False)
class LagSequentialResult(ResultDisplay):
    """Lag-sequential statistics from :func:`lag_sequential`.

    ``table`` has one row per (given, target) with the columns of ``TABLE_COLUMNS`` (plus ``p_permutation``
    after a permutation test); ``chisq``, ``df`` and ``p_value`` are the table-wide likelihood-ratio test.
    ``sessions`` / ``session_summary`` are filled with ``per_session=True``. ``matrix(column)`` shows one column
    as a given x target matrix. ``mode`` is ``"event"`` or ``"time"`` (``window=``); ``permutation`` names the
    reference set of ``p_permutation`` (``"free"``, ``"constrained"`` with structural zeros, ``"time"``), and
    ``p_permutation_mc_se`` its Monte Carlo standard error.
    """

    table: pd.DataFrame
    chisq: float
    df: int
    p_value: float
    codes: tuple[str, ...]
    lag: int
    mode: str
    window: float | None
    structural_zeros: tuple[tuple[str, str], ...]
    n_obs: int
    n_transitions: int
    n_sessions: int
    sessions: pd.DataFrame | None
    session_summary: pd.DataFrame | None
    p_permutation: float | None
    n_draws: int | None
    convergence: Convergence
    provenance: Provenance
    conf_level: float = 0.95

    @property
    def permutation(self) -> str | None:
        """Which permutation test gave ``p_permutation``: ``"free"`` (codes shuffled within sessions),
        ``"constrained"`` (the swap chain that keeps the structural zeros empty; Besag & Clifford's parallel
        method), ``"time"`` (events reordered within sessions, durations and gaps kept), or None (no test)."""
        if self.p_permutation is None:
            return None
        if self.mode != "event":
            return "time"
        return "constrained" if self.structural_zeros else "free"

    @property
    def p_permutation_mc_se(self) -> float | None:
        """Monte Carlo standard error of the table-wide ``p_permutation``: the binomial
        :math:`\\sqrt{p(1-p)/n_{draws}}` at the estimate (Davison & Hinkley, 1997, sec. 4.2.5). It measures how far
        another seed would move the p-value, not the p-value's validity (exact in every mode). For the constrained
        test the draws share the chain's starting state :math:`x^*`, so they are not independent and the error can be
        larger; run the test with two seeds when a p-value sits near a threshold."""
        if self.p_permutation is None or not self.n_draws:
            return None
        p = float(self.p_permutation)
        return float(np.sqrt(p * (1.0 - p) / self.n_draws))

    @property
    def permutation_draws(self) -> str | None:
        """What one draw of the permutation test is (:data:`PERMUTATION_TESTS`), or None without a test."""
        return None if self.permutation is None else PERMUTATION_TESTS[self.permutation][1]

    def _permutation_text(self) -> str:
        name = PERMUTATION_TESTS[self.permutation][0]
        return (f"{name}: p = {self.p_permutation:.4g} (Monte Carlo SE "
                f"{self.p_permutation_mc_se:.3f}; {self.n_draws} {self.permutation_draws})")

    def matrix(self, column: str = "adjusted_residual") -> pd.DataFrame:
        """One column of ``table`` as a given (rows) x target (columns) matrix in code order."""
        if column not in self.table.columns:
            raise OptionError(f"column={column!r} is not a column of the table; choose one of "
                              f"{list(self.table.columns[2:])}")
        m = self.table.pivot(index="given", columns="target", values=column)
        return m.loc[list(self.codes), list(self.codes)]

    def summary(self) -> str:
        """The tables as text: observed counts, transitional probabilities, adjusted residuals, Yule's Q."""
        if self.mode == "event":
            head = (f"Lag-sequential analysis, event-based, lag {self.lag}: {self.n_transitions} transitions "
                    f"from {self.n_obs} events in {self.n_sessions} session(s), {len(self.codes)} codes")
            test = f"likelihood-ratio chi-square = {self.chisq:.4f}, df = {self.df}, p = {self.p_value:.5g}"
        else:
            head = (f"Lag-sequential analysis, time-based: window of {self.window:g} s after each given event, "
                    f"{self.n_transitions} time units from {self.n_obs} events in {self.n_sessions} session(s)")
            test = ("one 2 x 2 table of time units per (given, target) pair; table-wide likelihood-ratio "
                    f"chi-square of the time-unit tallies = {self.chisq:.4f}, df = {self.df}, p = {self.p_value:.5g} "
                    "(approximate: time units are not independent, so this p tends to be too small"
                    + ("" if self.p_permutation is not None else "; n_draws= gives a permutation p") + ")")
        lines = [head, test]
        if self.p_permutation is not None:
            lines.append(self._permutation_text())
        if self.structural_zeros:
            lines.append(f"structural zeros: {', '.join(f'{g}->{t}' for g, t in self.structural_zeros)} "
                         f"(expected frequencies by iterative proportional fitting, {self.convergence.iterations} "
                         f"iterations{'' if self.converged else ', NOT converged'})")
        fmt = {"observed": "{:.0f}", "transitional_probability": "{:.3f}", "adjusted_residual": "{:.2f}",
               "yules_q": "{:.3f}"}
        for col, f in fmt.items():
            lines.append(f"\n{col.replace('_', ' ')} (rows: given, columns: target)")
            lines.append(self.matrix(col).to_string(float_format=lambda v, f=f: f.format(v), na_rep="."))
        if self.session_summary is not None:
            of = "" if self.mode == "event" else " of each session's 2 x 2 time-unit tables"
            lines.append(f"\nacross {self.session_summary['n_sessions'].max()} sessions: mean Yule's Q{of} with "
                         f"{self.conf_level:.0%} t interval")
            show = self.session_summary.loc[self.session_summary["n_sessions"] > 1,
                                            ["given", "target", "n_sessions", "estimate", "ci_lower", "ci_upper",
                                             "p_value"]]
            lines.append(show.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        return "\n".join(lines)

    def __repr__(self) -> str:
        test = f"chisq={self.chisq:.2f}, df={self.df}, p={self.p_value:.4g}"
        if self.mode != "event":
            test = f"window={self.window:g}s, {test}"
        what = (f"lag={self.lag}, n_obs={self.n_obs}, codes={len(self.codes)}, transitions={self.n_transitions}"
                if self.mode == "event" else
                f"n_obs={self.n_obs}, codes={len(self.codes)}, time_units={self.n_transitions}")
        if self.structural_zeros:
            what += f", structural_zeros={len(self.structural_zeros)}"
        if self.p_permutation is not None:
            test += f", {self.permutation} permutation p={self.p_permutation:.4g} (n_draws={self.n_draws})"
        return f"LagSequentialResult({self.mode}-based, {what}, {test})"


# ------------------------------------------------------------------------------------------ the analysis
def _permutation_p(counts: np.ndarray, obs: np.ndarray, perm_chisq: np.ndarray, chisq: float,
                   n_draws: int) -> tuple[np.ndarray, float]:
    """Monte Carlo p of every cell (two-sided around the permutation mean) and of the table's G^2."""
    centre = counts.mean(0)
    tol = 1e-9
    far = np.abs(counts - centre) >= np.abs(obs - centre) - tol
    p_cells = (1.0 + far.sum(0)) / (1.0 + n_draws)
    p_table = (1.0 + np.sum(perm_chisq >= chisq - tol)) / (1.0 + n_draws)
    return p_cells, float(p_table)


def _permutation(x: np.ndarray, unit: np.ndarray, same: np.ndarray, lag: int, k: int, obs: np.ndarray,
                 chisq: float, n_draws: int, seed: int) -> tuple[np.ndarray, float]:
    rng = np.random.default_rng(seed)
    n = x.size
    offset = unit.astype(float)  # units are sorted and contiguous: adding them keeps shuffles within a unit
    counts = np.empty((n_draws, k, k))
    batch = max(1, min(n_draws, _BATCH_CELLS // max(n, 1)))
    done = 0
    while done < n_draws:
        b = min(batch, n_draws - done)
        keys = rng.random((b, n)) + offset
        perm = x[np.argsort(keys, axis=1, kind="stable")]
        g = perm[:, :-lag][:, same]
        t = perm[:, lag:][:, same]
        flat = (np.arange(b)[:, None] * (k * k) + g * k + t).ravel()
        counts[done:done + b] = np.bincount(flat, minlength=b * k * k).reshape(b, k, k)
        done += b
    perm_chisq = _table_stats(counts, np.zeros((k, k), bool))["chisq"]
    return _permutation_p(counts, obs, perm_chisq, chisq, n_draws)


def _lr_chisq(obs: np.ndarray, zero: np.ndarray) -> np.ndarray:
    """G^2 of a stack of tables (S, K, K) under (quasi-)independence, without the cell statistics."""
    if zero.any():
        exp = _ipf(obs, ~zero)[0]
    else:
        r, c = obs.sum(2), obs.sum(1)
        n = np.maximum(r.sum(1), 1e-300)
        exp = r[:, :, None] * c[:, None, :] / n[:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        term = np.where((obs > 0) & (exp > 0), obs * np.log(obs / np.where(exp > 0, exp, 1.0)), 0.0)
    return 2.0 * term.sum((1, 2))


# Constrained permutations (structural zeros): a Markov chain of swaps, used by Besag & Clifford's parallel method.
def _swap_layout(unit: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Positions of the events in a padded layout with ``lag`` empty slots before every session and at the end.

    The empty slots hold a sentinel code that may precede and follow anything, so a swap never has to ask whether
    a neighbour lies in the same session. Returns the events' positions, the session of every slot (-1 for the
    empty ones) and the length of the longest session.
    """
    n = unit.size
    starts = np.r_[0, np.flatnonzero(unit[1:] != unit[:-1]) + 1]
    session_of = np.searchsorted(starts, np.arange(n), side="right")  # 1-based session number of each event
    pos = np.arange(n) + lag * session_of
    sid = np.full(n + lag * (starts.size + 1), -1, np.int64)
    sid[pos] = session_of
    return pos, sid, int(np.diff(np.r_[starts, n]).max())


def _swap_plan(lag: int, longest: int, n_steps: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """The (offset, distance) of every step: distances log-uniform in [1, longest - 1] that keep the swaps apart.

    With period ``P = 2 lag + 3`` a step swaps the codes at positions ``p`` and ``p + d`` for every ``p`` that is
    ``offset`` modulo ``P``. A distance ``d = lag``, or one that is not 0, ``lag`` or ``-lag`` modulo ``P``, keeps
    every changed position from being the lag-neighbour of another swap's changed position, so the swaps of one
    step touch disjoint transitions and can be checked all at once.
    """
    period = 2 * lag + 3
    top = max(longest - 1, 1)
    plan: list[tuple[int, int]] = []
    while len(plan) < n_steps:
        d = int(np.exp(rng.random() * np.log(top + 0.999)))
        if longest <= lag:  # no session has two events ``lag`` apart: nothing can move
            plan.append((lag, 0))
            continue
        if d != lag and d % period in (0, lag, period - lag):
            continue
        plan.append((lag + int(rng.integers(period)), d))
    return plan


def _swap_chains(start: np.ndarray, sid: np.ndarray, lag: int, zero: np.ndarray, plan: Sequence[tuple[int, int]],
                 n_chains: int, rng: np.random.Generator) -> np.ndarray:
    """Run ``n_chains`` independent swap chains through ``plan`` from the padded sequence ``start``.

    At each step, every candidate swap (``p``, ``p + d``) within a session is proposed with probability 1/2 (the
    chains' own coins) and made when none of the four lag-``lag`` transitions it touches is a structural zero. The
    step is its own inverse given its coins, so its kernel is symmetric and the uniform distribution over the
    permitted orders is stationary.
    """
    k = zero.shape[0]
    z = np.zeros((k + 1, k + 1), bool)
    z[:k, :k] = zero
    zflat = z.ravel()
    dtype = np.int16 if k < 180 else np.int32
    width = dtype(k + 1)
    # positions along the first axis and chains along the second: every slice below is a block of whole rows
    y = np.broadcast_to(start.astype(dtype)[:, None], (start.size, n_chains)).copy()
    period = 2 * lag + 3
    size = start.size
    for o, d in plan:
        if d == 0:
            continue
        cnt = (size - 1 - lag - d - o) // period + 1
        if cnt <= 0:
            continue
        stop = o + period * cnt
        ok = (sid[o:stop:period] >= 0) & (sid[o:stop:period] == sid[o + d:stop + d:period])
        if not ok.any():
            continue
        yp, yq = y[o:stop:period], y[o + d:stop + d:period]
        bad = zflat[y[o - lag:stop - lag:period] * width + yq]
        bad |= zflat[yp * width + y[o + d + lag:stop + d + lag:period]]
        if d == lag:  # the two positions are each other's lag-neighbours: the pair between them turns round
            bad |= zflat[yq * width + yp]
        else:
            bad |= zflat[yq * width + y[o + lag:stop + lag:period]]
            bad |= zflat[y[o + d - lag:stop + d - lag:period] * width + yp]
        coins = np.unpackbits(np.frombuffer(rng.bytes((n_chains * cnt + 7) // 8), np.uint8),
                              count=n_chains * cnt).reshape(cnt, n_chains).view(bool)
        swap = coins & ~bad
        swap &= ok[:, None]
        delta = (yp ^ yq) * swap
        yp ^= delta
        yq ^= delta
    return y.T


def _constrained_permutations(x: np.ndarray, unit: np.ndarray, lag: int, zero: np.ndarray, n_draws: int,
                              seed: int, n_steps: int | None = None):
    """Batches of within-session reorderings of ``x`` with no structural-zero transition at lag ``lag``.

    Besag & Clifford's (1989) parallel method: one chain runs the step plan backwards from the observed order to
    a state x*, then ``n_draws`` independent chains run it forwards from x*. Under the null the observed order and
    the draws are exchangeable, so ``(1 + #)/(1 + n_draws)`` is an exact p-value however well the chain mixes.
    Yields arrays (batch, n) in the order of ``x``.
    """
    rng = np.random.default_rng(seed)
    k = zero.shape[0]
    pos, sid, longest = _swap_layout(unit, lag)
    base = np.full(sid.size, k, np.int64)
    base[pos] = x
    steps = (2 * lag + 3) * SWAP_SWEEPS if n_steps is None else n_steps
    plan = _swap_plan(lag, longest, steps, rng)
    start = _swap_chains(base, sid, lag, zero, plan[::-1], 1, rng)[0]
    batch = max(1, min(n_draws, _BATCH_CELLS // max(sid.size, 1)))
    done = 0
    while done < n_draws:
        b = min(batch, n_draws - done)
        yield _swap_chains(start, sid, lag, zero, plan, b, rng)[:, pos]
        done += b


def _permutation_constrained(x: np.ndarray, unit: np.ndarray, same: np.ndarray, lag: int, k: int, obs: np.ndarray,
                             zero: np.ndarray, chisq: float, n_draws: int, seed: int) -> tuple[np.ndarray, float]:
    counts = np.empty((n_draws, k, k))
    done = 0
    for perm in _constrained_permutations(x, unit, lag, zero, n_draws, seed):
        b = perm.shape[0]
        g = perm[:, :-lag][:, same]
        t = perm[:, lag:][:, same]
        flat = (np.arange(b)[:, None] * (k * k) + g * k + t).ravel()
        counts[done:done + b] = np.bincount(flat, minlength=b * k * k).reshape(b, k, k)
        done += b
    if np.all(counts == obs):
        warnings.warn("permutation test with structural zeros: no swap of two events within a session keeps every "
                      "declared structural zero empty, so every draw is the observed order and the permutation "
                      "p-values are 1; the data allow no other permitted order to compare with",
                      DataWarning, stacklevel=3)
    p_cells, p_table = _permutation_p(counts, obs, _lr_chisq(counts, zero), chisq, n_draws)
    p_cells[zero] = np.nan
    return p_cells, p_table


# Time-based tallies -------------------------------------------------------------------------------------------
def _time_frame(onset: np.ndarray, offset: np.ndarray, unit: np.ndarray, time_unit: float):
    """Time units of every session: the count per session, the first unit's index, and the total."""
    n_units_sess = np.zeros(unit.max() + 1, np.int64)
    end_unit = np.ceil(offset / time_unit - 1e-9).astype(np.int64)
    np.maximum.at(n_units_sess, unit, end_unit)
    start_of = np.r_[0, np.cumsum(n_units_sess)]
    return n_units_sess, start_of, int(start_of[-1])


def _time_indicators(codes_int: np.ndarray, onset: np.ndarray, offset: np.ndarray, unit: np.ndarray, k: int,
                     n_units_sess: np.ndarray, start_of: np.ndarray, total: int, window: float, time_unit: float):
    """For a stack of layouts (B, n): ``on`` and ``win`` (B, K, units), 1.0 where code *i* is on / where the unit lies
    in a window of code *i*; the sessions' units follow one another (session *s* from ``start_of[s]``)."""
    b = codes_int.shape[0]
    base = start_of[unit][None, :]
    end_unit = np.ceil(offset / time_unit - 1e-9).astype(np.int64)
    on_lo = base + np.ceil(onset / time_unit - 1e-9).astype(np.int64)
    on_hi = base + end_unit
    win_hi = base + np.minimum(np.ceil((offset + window) / time_unit - 1e-9).astype(np.int64),
                               n_units_sess[unit][None, :])
    width = total + 1
    lane = (np.arange(b)[:, None] * k + codes_int) * width

    def indicator(lo, hi):
        plus = np.bincount((lane + lo).ravel(), minlength=b * k * width)
        minus = np.bincount((lane + np.maximum(hi, lo)).ravel(), minlength=b * k * width)
        return np.cumsum((plus - minus).reshape(b, k, width), axis=2)[:, :, :total] > 0

    return indicator(on_lo, on_hi).astype(np.float64), indicator(on_hi, win_hi).astype(np.float64)


def _time_tally(codes_int: np.ndarray, onset: np.ndarray, offset: np.ndarray, unit: np.ndarray, k: int,
                n_units_sess: np.ndarray, start_of: np.ndarray, total: int, window: float, time_unit: float):
    """Co-occurrence tallies of time units for a stack of layouts (B, n): ``a`` (B, K, K), windows and ons (B, K).

    ``a[b, i, j]`` counts the time units that lie in a window of code *i* and have code *j* on.
    """
    on, win = _time_indicators(codes_int, onset, offset, unit, k, n_units_sess, start_of, total, window, time_unit)
    return np.einsum("bit,bjt->bij", win, on), win.sum(2), on.sum(2)


def _time_session_tallies(on: np.ndarray, win: np.ndarray, n_units_sess: np.ndarray):
    """Each session's tallies from one layout's indicators ``on``, ``win`` (K, units): ``a`` (S, K, K), units in
    each code's windows and with each code on (S, K), and the session's time units (S,)."""
    n_sess, k = n_units_sess.size, on.shape[0]
    sess_of_unit = np.repeat(np.arange(n_sess), n_units_sess)
    wi, wt = np.nonzero(win)
    rows = sess_of_unit[wt] * k + wi  # (session, given) of every unit in a window
    # a[s, i, j] = sum over the units t of session s of win[i, t] on[j, t]: a sparse (S K x units) @ (units x K)
    wsp = sparse.csr_matrix((np.ones(wi.size), (rows, wt)), shape=(n_sess * k, on.shape[1]))
    a = np.asarray(wsp @ on.T).reshape(n_sess, k, k)
    n_win = np.bincount(rows, minlength=n_sess * k).reshape(n_sess, k).astype(float)
    oi, ot = np.nonzero(on)
    n_on = np.bincount(sess_of_unit[ot] * k + oi, minlength=n_sess * k).reshape(n_sess, k).astype(float)
    return a, n_win, n_on, n_units_sess.astype(float)


def _time_cell_stats(a: np.ndarray, n_win: np.ndarray, n_on: np.ndarray, n: np.ndarray, zero: np.ndarray) -> dict:
    """Cell statistics of time-unit tallies, one 2 x 2 table per (given, target), for a stack of tallies: ``a``
    (S, K, K), ``n_win``, ``n_on`` (S, K), ``n`` (S,) time units. The columns of ``TABLE_COLUMNS`` (module
    docstring, time-based)."""
    n3 = np.asarray(n, float)[:, None, None]
    w3, o3 = n_win[:, :, None], n_on[:, None, :]
    n3safe = np.where(n3 > 0, n3, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        exp = np.where(n3 > 0, w3 * o3 / n3safe, 0.0)
        var = np.where(n3 > 0, exp * (1 - w3 / n3safe) * (1 - o3 / n3safe), 0.0)
        adj = np.where(var > 0, (a - exp) / np.sqrt(np.where(var > 0, var, 1.0)), np.nan)
        tprob = np.where(w3 > 0, a / np.where(w3 > 0, w3, 1.0), np.nan)
    b = w3 - a
    c = o3 - a
    q, se = _yules_q(a, b, c, n3 - a - b - c)
    exp = np.where(zero[None], 0.0, exp)
    for m in (adj, q, se):
        m[:, zero] = np.nan
    return dict(observed=a, expected=exp, transitional_probability=tprob, adjusted_residual=adj, yules_q=q,
                p_value=2.0 * special.ndtr(-np.abs(adj)), yules_q_se=se)


def _sessions_frame(cells: dict, wide: dict, keys: pd.DataFrame, labels: Sequence[str], keep: np.ndarray,
                    conf_level: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``sessions`` (the session keys, ``TABLE_COLUMNS``, each session's ``chisq`` and ``df``) for the sessions in
    ``keep``, and the summary across sessions; ``cells`` / ``wide`` are stacks (S, ...) of cell and table-wide
    statistics (event- and time-based alike)."""
    kk = len(labels) ** 2
    sessions = _long(cells, labels)
    for col in reversed(keys.columns):
        sessions.insert(0, col, np.repeat(keys[col].to_numpy(), kk))
    sessions["chisq"] = np.repeat(wide["chisq"], kk)
    sessions["df"] = np.repeat(wide["df"], kk)
    sessions = sessions.loc[np.repeat(keep, kk)].reset_index(drop=True)
    return sessions, _session_summary(sessions, conf_level)


def _reorder_in_time(unit: np.ndarray, onset: np.ndarray, offset: np.ndarray, n_draws: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n_draws`` random reorderings of non-overlapping events (sorted by session, then time) within sessions.

    Each session keeps its sequence of gaps (before the first event, between events) and every event keeps its
    duration; the events are laid end to end in the shuffled order. Returns the permutation (B, n) (slot -> event)
    and the events' new onsets and offsets by slot.
    """
    first = np.r_[True, unit[1:] != unit[:-1]]
    gap_before = onset - np.where(first, 0.0, np.r_[0.0, offset[:-1]])
    sess_of = np.cumsum(first) - 1
    first_slot = np.flatnonzero(first)[sess_of]
    perm = np.argsort(rng.random((n_draws, unit.size)) + sess_of, axis=1, kind="stable")
    dur = (offset - onset)[perm]
    run = np.cumsum(gap_before[None, :] + dur, axis=1)
    before = np.where(first_slot > 0, run[:, np.maximum(first_slot - 1, 0)], 0.0)
    new_off = run - before
    return perm, new_off - dur, new_off


def _time_permutation(codes_int, onset, offset, unit, k, frame, window, time_unit, obs, chisq, n_draws, seed,
                      columns):
    """Permutation test of time-based tallies: events reordered within sessions, durations and gaps kept."""
    n_units_sess, start_of, total = frame
    order = np.lexsort((offset, onset, unit))
    u, c, on0, off0 = unit[order], codes_int[order], onset[order], offset[order]
    first = np.r_[True, u[1:] != u[:-1]]
    overlap = ~first & (on0 < np.r_[-np.inf, off0[:-1]] - 1e-9)
    if overlap.any():
        raise OptionError(f"n_draws= with window=: events overlap in time within {len(np.unique(u[overlap]))} "
                          f"session(s) (columns {columns[0]!r}/{columns[1]!r}); the time-based permutation test "
                          "reorders each session's events end to end, keeping their durations and the gaps between "
                          "them, which has no single layout when events overlap. Drop n_draws= (the table-wide "
                          "chi-square is then the asymptotic one) or analyse one stream of non-overlapping events")
    rng = np.random.default_rng(seed)
    counts = np.empty((n_draws, k, k))
    batch = max(1, min(n_draws, _BATCH_CELLS // max(k * (total + 1), u.size, 1)))
    done = 0
    while done < n_draws:
        b = min(batch, n_draws - done)
        perm, new_on, new_off = _reorder_in_time(u, on0, off0, b, rng)
        counts[done:done + b] = _time_tally(c[perm], new_on, new_off, u, k, n_units_sess, start_of, total, window,
                                            time_unit)[0]
        done += b
    return _permutation_p(counts, obs, _lr_chisq(counts, np.zeros((k, k), bool)), chisq, n_draws)


def _time_based(data, codes_int, labels, unit, onset_col, offset_col, window, time_unit, zero, per_session=None):
    """The time-based tallies and their statistics, pooled over sessions; with ``per_session=(keys, conf_level)``
    also every session's (``sessions``) and the summary across sessions."""
    onset = data[onset_col].to_numpy(dtype=float)
    offset = data[offset_col].to_numpy(dtype=float)
    bad = ~np.isfinite(onset) | ~np.isfinite(offset) | (offset < onset) | (onset < 0)
    if bad.any():
        raise SchemaError([f"columns {onset_col!r}/{offset_col!r}: missing, negative or reversed times at rows "
                           f"{_rows_of(bad)}; time-based tallies need 0 <= onset <= offset (read_events checks "
                           "them all)"], source="lag_sequential")
    k = len(labels)
    longest = np.zeros(unit.max() + 1)
    np.maximum.at(longest, unit, offset)
    n_units = float(np.ceil(longest / time_unit).sum())
    if k * n_units > _MAX_TIME_CELLS:
        raise OptionError(f"time_unit={time_unit:g} s cuts the sessions (up to {longest.max():g} s long) into "
                          f"{n_units:,.0f} time units, too many to tally for {k} codes (limit {_MAX_TIME_CELLS:,} "
                          "code x unit cells); use a larger time_unit (the coding's resolution, e.g. 1 s or 0.1 s)")
    frame = _time_frame(onset, offset, unit, time_unit)
    total = frame[2]
    if total == 0:
        raise SchemaError(["every event has zero duration; time-based tallies need events that last"],
                          source="lag_sequential")
    on, win = (v[0] for v in _time_indicators(codes_int[None, :], onset[None, :], offset[None, :], unit, k,
                                               *frame, window, time_unit))
    a, n_win, n_on = win @ on.T, win.sum(1), on.sum(1)
    if a.sum() == 0:
        raise SchemaError([f"no time unit lies in a {window:g} s window after a given event with a target on: every "
                           f"window is empty or ends with its session (time units of {time_unit:g} s; sessions end "
                           "with their last offset); use a longer window or a smaller time_unit, or check that "
                           "sessions have more than one event"], source="lag_sequential")
    if zero.any() and (a[zero] > 0).any():
        found = [f"{labels[i]}->{labels[j]} ({int(a[i, j])})" for i, j in zip(*np.nonzero(zero & (a > 0)))]
        raise SchemaError([f"time units tallied in cells declared structural zeros (target on within the given's "
                           f"window): {', '.join(found)}; remove them from structural_zeros"], source="lag_sequential")
    st = _time_cell_stats(a[None], n_win[None], n_on[None], np.array([float(total)]), zero)
    # the table-wide test: the K x K tally table under (quasi-)independence of its own margins
    wide = _table_stats(a[None], zero)
    sessions = summary = None
    if per_session is not None:
        keys, conf_level = per_session
        sa, sw, so, sn = _time_session_tallies(on, win, frame[0])
        sessions, summary = _sessions_frame(_time_cell_stats(sa, sw, so, sn, zero),
                                            dict(chisq=_lr_chisq(sa, zero), df=_lr_df(sa, zero)), keys, labels,
                                            sn > 0, conf_level)
    return _long(st, labels), frame, a, wide, (onset, offset), sessions, summary


def _ipf_convergence(st: dict) -> Convergence:
    return Convergence(converged=bool(st["converged"]), iterations=int(st["iterations"]),
                       optimizer="iterative proportional fitting",
                       message="" if st["converged"] else f"margins not within {IPF_TOL:g} after {IPF_MAX_ITER} "
                                                          "iterations")


def _session_summary(per: pd.DataFrame, conf_level: float) -> pd.DataFrame:
    g = per.dropna(subset=["yules_q"]).groupby(["given", "target"], sort=False)["yules_q"]
    out = g.agg(n_sessions="count", estimate="mean", sd="std").reset_index()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["std_error"] = out["sd"] / np.sqrt(out["n_sessions"])
        dfree = out["n_sessions"] - 1
        ok = (dfree > 0) & (out["std_error"] > 0)
        out["statistic"] = np.where(ok, out["estimate"] / out["std_error"].where(ok, 1.0), np.nan)
        out["p_value"] = np.where(ok, 2 * stats.t.sf(np.abs(out["statistic"]), np.maximum(dfree, 1)), np.nan)
        crit = np.where(dfree > 0, stats.t.ppf(0.5 + conf_level / 2, np.maximum(dfree, 1)), np.nan)
        out["ci_lower"] = np.where(ok, out["estimate"] - crit * out["std_error"], np.nan)
        out["ci_upper"] = np.where(ok, out["estimate"] + crit * out["std_error"], np.nan)
    means = per.groupby(["given", "target"], sort=False)[["transitional_probability", "adjusted_residual"]].mean()
    means.columns = ["mean_transitional_probability", "mean_adjusted_residual"]
    out = out.merge(means.reset_index(), on=["given", "target"], how="right")
    out["n_sessions"] = out["n_sessions"].fillna(0).astype(np.int64)
    return out[["given", "target", "n_sessions", "estimate", "std_error", "statistic", "p_value", "ci_lower",
                "ci_upper", "sd", "mean_transitional_probability", "mean_adjusted_residual"]]


def lag_sequential(data: pd.DataFrame, *, code: str = "code", lag: int = 1, client: str | None = "client",
                   session: str = "session", order: str | None = "order", codes: Iterable[str] | None = None,
                   structural_zeros: str | Iterable[tuple[str, str]] | None = None, per_session: bool = False,
                   window: float | None = None, onset: str = "onset", offset: str = "offset",
                   time_unit: float = 1.0, n_draws: int | None = None, seed: int | None = None,
                   conf_level: float = 0.95) -> LagSequentialResult:
    """Lag-sequential statistics of coded events: transitions at lag *k*, expected frequencies, the
    likelihood-ratio test, adjusted residuals, transitional probabilities, Yule's Q and a permutation test.

    Definitions, sources and validation: module docstring (:mod:`allianceStats.process.sequential`).

    Parameters
    ----------
    data : pandas.DataFrame
        Coded events, one row per event (:func:`~allianceStats.process.read_events` validates such tables);
        never modified. Rows need not be sorted: events are ordered by ``order`` within each session.
    code : str
        Column of the codes.
    lag : int
        Event lag *k* >= 1 (event-based mode). With ``window=`` only 1 (the default) is accepted: a time window
        is measured in seconds, not events.
    client, session : str
        Columns identifying a session (``client=None`` when ``session`` alone identifies it). No transition
        crosses from one session to the next.
    order : str or None
        Column giving each event's position in its session; ``None`` takes the rows in their given order.
    codes : list of str or CodeSet, optional
        The codes and their order in the table; codes absent from the data get empty rows. Default: the codes
        found, sorted. Codes in the data that are not listed are an error (listed with their rows).
    structural_zeros : "diagonal", list of (given, target) or None
        Transitions that cannot occur; their expected frequency is 0 and the others are fitted by iterative
        proportional fitting (quasi-independence). ``"diagonal"``: no code follows itself. Permutations keep
        them empty. In time-based mode they are cells of the tally table (the target never on in the given's
        window).
    per_session : bool
        Also analyse each session on its own (``sessions``) and summarise Yule's Q across sessions
        (``session_summary``: mean Q, SD, the sessions with a defined Q, one-sample *t* test and interval). In
        time-based mode each session's 2 x 2 time-unit tables (Bakeman & Quera, 2011, ch. 10-11).
    window : float, optional
        Time-based mode: the window (seconds) after each given event; needs ``onset`` and ``offset`` columns.
        ``chisq`` is then the G^2 of the given x target table of time-unit tallies, whose asymptotic p is only
        approximate (time units are not independent); ``n_draws`` gives a permutation p.
    onset, offset : str
        Columns of event start and end in seconds (time-based mode).
    time_unit : float
        Width of a time unit in seconds (time-based mode).
    n_draws : int, optional
        Number of draws of the permutation test: free shuffles within sessions; with ``structural_zeros``, the
        swap chain that keeps them empty (exact Monte Carlo p by Besag & Clifford's parallel method); with
        ``window``, events reordered within sessions keeping durations and gaps (module docstring).
    seed : int, optional
        Seed of the permutations (recorded in ``provenance``).
    conf_level : float
        Level of the across-session intervals.

    Returns
    -------
    LagSequentialResult
        ``table`` (``given, target, observed, expected, transitional_probability, adjusted_residual, yules_q,
        p_value, yules_q_se`` [+ ``p_permutation``]), ``chisq``, ``df``, ``p_value``, ``sessions``,
        ``session_summary``, ``matrix()``, ``summary()``.

    Raises
    ------
    SchemaError
        An empty table; missing columns; events without a client, session or code, or with unknown codes; duplicate
        order numbers within a session; no transition at the lag (every session too short); counts in cells
        declared structural zeros; missing, text, negative or reversed onset/offset times, or (time-based) no
        tallied time unit. Every problem with the rows is listed at once.
    OptionError
        Invalid argument values (wrong type or range of ``lag``, ``codes``, ``structural_zeros``, ``window``,
        ``time_unit``, ``n_draws``, ``seed``, ``conf_level``); ``lag`` other than 1 with ``window``; ``n_draws``
        with ``window`` when events overlap
        within a session or with ``structural_zeros``; a ``time_unit`` or ``n_draws`` whose tallies would not fit
        in memory.

    Warns
    -----
    DataWarning
        With ``structural_zeros`` and ``n_draws``, when no permitted swap exists (every draw is the data).

    Examples
    --------
    Bakeman & Quera (2011, p. 159), one sequence of 75 codes (fixture data):

    >>> import pandas as pd
    >>> from allianceStats.process import lag_sequential
    >>> from allianceStats.process.sequential import _example_bq2011
    >>> res = lag_sequential(_example_bq2011(), client=None)
    >>> round(res.chisq, 2), res.df, round(res.p_value, 5)
    (30.95, 16, 0.01364)
    >>> t = res.table.set_index(["given", "target"])
    >>> cell = t.loc[("Attentive", "Write")]
    >>> round(float(cell["adjusted_residual"]), 4), float(cell["yules_q"])
    (2.898, 0.75)

    No code follows itself in these data once repeats are merged; the permutation test then keeps every shuffled
    session free of repeats:

    >>> codes = _example_bq2011()["code"]
    >>> merged = codes[codes != codes.shift()].to_frame().assign(session=1)
    >>> merged["order"] = range(len(merged))
    >>> res = lag_sequential(merged, client=None, structural_zeros="diagonal", n_draws=199, seed=1)
    >>> res.df, res.p_permutation > 0.05
    (11, True)

    Time-based: change talk (CT) going on within 2 s after a reflection (R) ends, in time units of 1 s:

    >>> ev = pd.DataFrame({"session": 1, "order": range(6), "code": ["R", "CT", "Q", "R", "CT", "Q"],
    ...                    "onset": [0, 3, 6, 9, 11, 15], "offset": [2, 5, 8, 10, 14, 16]})
    >>> res = lag_sequential(ev, client=None, window=2.0)
    >>> int(res.matrix("observed").loc["R", "CT"]), round(res.chisq, 3), res.df
    (2, 10.549, 4)

    Time-based, per session (Bakeman & Quera, 2011, ch. 11): each session's 2 x 2 time-unit table per pair, its
    Yule's Q, and the mean Q across sessions with a t test:

    >>> two = pd.concat([ev, ev.assign(session=2, onset=ev["onset"] + [0, 1, 0, 0, 2, 0])])
    >>> res = lag_sequential(two, client=None, window=2.0, per_session=True)
    >>> res.sessions.query("given == 'R' and target == 'CT'")[["session", "observed", "yules_q"]]
        session  observed  yules_q
    6         1         2      0.5
    15        2         0     -1.0
    >>> row = res.session_summary.set_index(["given", "target"]).loc[("R", "CT")]
    >>> int(row["n_sessions"]), float(row["estimate"])
    (2, -0.25)
    """
    started = time.perf_counter()
    where = "lag_sequential"
    for role, name in (("code", code), ("session", session)):
        if name is None:
            raise OptionError(f"{role}=None: lag_sequential needs the name of the {role} column (only client= and "
                              "order= may be None)")
    require_columns(data, [code, client, session, order] + ([onset, offset] if window is not None else []),
                    where=where, what="data")
    if isinstance(data.columns, pd.MultiIndex):
        raise SchemaError(["data has several levels of column names (a MultiIndex); flatten them first, e.g. "
                           "data.columns = ['_'.join(map(str, c)).strip('_') for c in data.columns]"], source=where)
    if len(data) == 0:
        raise SchemaError(["the table is empty (no rows); expected one row per coded event"], source=where)
    if isinstance(lag, (bool, np.bool_)) or not isinstance(lag, (int, np.integer)) or lag < 1:
        raise OptionError(f"lag={lag!r} must be an integer of at least 1 (lag 1: the next event)")
    lag = int(lag)
    per_session = check_bool("per_session", per_session)
    conf_level = check_conf_level(conf_level)
    if n_draws is not None:
        n_draws = check_positive_int("n_draws", n_draws)
    if window is not None:
        if isinstance(window, bool) or not isinstance(window, (int, float, np.integer, np.floating)) \
                or not np.isfinite(window) or window <= 0:
            raise OptionError(f"window={window!r} must be a positive number of seconds")
        if isinstance(time_unit, bool) or not isinstance(time_unit, (int, float, np.integer, np.floating)) \
                or not np.isfinite(time_unit) or time_unit <= 0:
            raise OptionError(f"time_unit={time_unit!r} must be a positive number of seconds")
        if lag != 1:
            raise OptionError(f"lag={lag} has no meaning with window= (time-based tallies): the window is measured in "
                              "seconds after each given event ends, not in events. Drop lag= for time-based tallies "
                              f"(set window= to the seconds to look ahead), or drop window= for event-based tallies "
                              f"at lag {lag}")
    if seed is not None:  # checked even without n_draws, so that a mistyped seed is not silently ignored
        resolve_seed(seed)
    seed_used = resolve_seed(seed) if n_draws is not None else None

    problems = []
    for role, name in (("client", client), ("session", session)):
        if name is not None and data[name].isna().any():
            problems.append(f"column {name!r}: missing {role} at rows {_rows_of(data[name].isna().to_numpy())}; "
                            f"every event needs its {role} (drop or fill those rows)")
    if order is not None:
        ordv = data[order]
        if not pd.api.types.is_numeric_dtype(ordv) or pd.api.types.is_bool_dtype(ordv) or ordv.isna().any():
            missing = f", missing at rows {_rows_of(ordv.isna().to_numpy())}" if ordv.isna().any() else ""
            problems.append(f"column {order!r} must hold numbers (each event's position in its session) with no "
                            f"missing values; found dtype {ordv.dtype}{missing}")
    if window is not None:
        try:
            require_numeric(data, [onset, offset], where=where)
        except SchemaError as err:
            problems += [f"{p} (time-based tallies need onset and offset in seconds)" for p in err.problems]
    try:
        x, labels = _code_ints(data[code], codes, where)
    except SchemaError as err:
        problems = err.problems + problems
    if problems:
        raise SchemaError(problems, source=where)
    k = len(labels)
    unit, keys = _units(data, client, session)
    if n_draws is not None and n_draws * k * k > _MAX_DRAW_CELLS:
        raise OptionError(f"n_draws={n_draws:,} with {k} codes would keep {n_draws * k * k:,} permutation counts "
                          f"(more than {_MAX_DRAW_CELLS:,}); use fewer draws — 9,999 give p-values with a Monte "
                          "Carlo standard error of at most 0.005")
    if order is not None:
        ordv = ordv.to_numpy()
        idx = np.lexsort((ordv, unit))
        u_s, o_s = unit[idx], ordv[idx]
        dup = (u_s[1:] == u_s[:-1]) & (o_s[1:] == o_s[:-1])
        if dup.any():
            mask = np.zeros(len(data), bool)
            mask[idx[1:][dup]] = True
            mask[idx[:-1][dup]] = True
            raise SchemaError([f"column {order!r}: duplicate order numbers within a session at rows {_rows_of(mask)}; "
                               "each event needs its own position in its session"], source=where)
    else:
        idx = np.argsort(unit, kind="stable")
    unit_s, x_s = unit[idx], x[idx]
    zero = _structural(structural_zeros, labels)
    n_sessions = len(keys)
    zero_pairs = tuple((labels[i], labels[j]) for i, j in zip(*np.nonzero(zero)))

    if window is not None:
        if n_draws is not None and zero.any():
            raise OptionError("n_draws= with window= and structural_zeros: a reordering of the events would have to "
                              "keep every declared (given, target) window free of the target, which the time-based "
                              "permutation does not attempt; drop n_draws= (asymptotic test) or structural_zeros")
        sorted_events = data.iloc[idx]
        table, frame, tally, wide, times, sessions, summary = _time_based(
            sorted_events, x_s, labels, unit_s, onset, offset, float(window), float(time_unit), zero,
            (keys, conf_level) if per_session else None)
        chisq, df, p_table = float(wide["chisq"][0]), int(wide["df"][0]), float(wide["p_table"][0])
        p_perm = None
        if n_draws is not None:
            p_cells, p_perm = _time_permutation(x_s, times[0], times[1], unit_s, k, frame, float(window),
                                                float(time_unit), tally, chisq, n_draws, seed_used, (onset, offset))
            table["p_permutation"] = p_cells.ravel()
        prov = make_provenance(data, options=dict(code=code, lag=lag, client=client, session=session, order=order,
                                                    codes=list(labels), window=float(window),
                                                    time_unit=float(time_unit), onset=onset, offset=offset,
                                                    structural_zeros=[list(p) for p in zero_pairs],
                                                    per_session=per_session, n_draws=n_draws),
                               seed=seed_used, function="lag_sequential", started=started)
        return LagSequentialResult(table=table, chisq=chisq, df=df, p_value=p_table, codes=labels,
                                   lag=lag, mode="time", window=float(window), structural_zeros=zero_pairs,
                                   n_obs=len(data), n_transitions=frame[2], n_sessions=n_sessions, sessions=sessions,
                                   session_summary=summary, p_permutation=p_perm, n_draws=n_draws,
                                   convergence=_ipf_convergence(wide) if zero.any() else CLOSED_FORM,
                                   provenance=prov, conf_level=conf_level)

    same = unit_s[lag:] == unit_s[:-lag] if x_s.size > lag else np.zeros(0, bool)
    g = x_s[:-lag][same] if x_s.size > lag else np.zeros(0, np.int64)
    t = x_s[lag:][same] if x_s.size > lag else np.zeros(0, np.int64)
    obs = np.bincount(g * k + t, minlength=k * k).reshape(1, k, k)
    if obs.sum() == 0:
        longest = int(np.bincount(unit).max())
        raise SchemaError([f"no transitions at lag {lag}: the longest session has {longest} event(s), so no two "
                           f"events of one session are {lag} apart; use a lag below {longest}"
                           if longest > 1 else f"no transitions at lag {lag}: every session has a single event; "
                           "sequential analysis needs sessions with at least two events (check the session and "
                           "client columns)"], source=where)
    if zero.any() and (obs[0][zero] > 0).any():
        bad = [f"{labels[i]}->{labels[j]} ({int(obs[0, i, j])})" for i, j in zip(*np.nonzero(zero & (obs[0] > 0)))]
        raise SchemaError([f"transitions declared structural zeros occur in the data: {', '.join(bad)}; remove them "
                           "from structural_zeros or recode the data (e.g. merge repeated codes)"], source=where)
    st = _table_stats(obs, zero)
    table = _long(st, labels, 0)
    chisq, df, p_table = float(st["chisq"][0]), int(st["df"][0]), float(st["p_table"][0])

    p_perm = None
    if n_draws is not None:
        if zero.any():
            p_cells, p_perm = _permutation_constrained(x_s, unit_s, same, lag, k, obs[0], zero, chisq, n_draws,
                                                       seed_used)
        else:
            p_cells, p_perm = _permutation(x_s, unit_s, same, lag, k, obs[0], chisq, n_draws, seed_used)
        table["p_permutation"] = p_cells.ravel()

    sessions = summary = None
    if per_session:
        flat = unit_s[:-lag][same] * (k * k) + g * k + t
        per_obs = np.bincount(flat, minlength=n_sessions * k * k).reshape(n_sessions, k, k)
        pst = _table_stats(per_obs, zero)
        sessions, summary = _sessions_frame(pst, pst, keys, labels, pst["n"] > 0, conf_level)

    conv = _ipf_convergence(st) if zero.any() else CLOSED_FORM
    prov = make_provenance(data, options=dict(code=code, lag=lag, client=client, session=session, order=order,
                                                codes=list(labels), structural_zeros=[list(p) for p in zero_pairs],
                                                per_session=per_session, n_draws=n_draws),
                           seed=seed_used, function="lag_sequential", started=started)
    return LagSequentialResult(table=table, chisq=chisq, df=df, p_value=p_table, codes=labels, lag=lag, mode="event",
                               window=None, structural_zeros=zero_pairs, n_obs=len(data),
                               n_transitions=int(obs.sum()), n_sessions=n_sessions, sessions=sessions,
                               session_summary=summary, p_permutation=p_perm, n_draws=n_draws, convergence=conv,
                               provenance=prov, conf_level=conf_level)


def lag_sequential_from_table(data: pd.DataFrame, *,
                              structural_zeros: str | Iterable[tuple[str, str]] | None = None,
                              lag: int = 1) -> LagSequentialResult:
    """Lag-sequential statistics of a transition frequency table (given codes as rows, targets as columns).

    For published tables and tallies made elsewhere (GSEQ, LagSequential take such matrices too): the same
    statistics as :func:`lag_sequential` (module docstring), without the permutation and per-session parts.

    Parameters
    ----------
    data : pandas.DataFrame
        The transition frequencies: a square table of non-negative whole counts whose index (given) and columns
        (target) are the codes, in the same order.
    structural_zeros : "diagonal", list of (given, target) or None
        Transitions that cannot occur.
    lag : int
        Recorded in the result (the lag the table was tallied at).

    Returns
    -------
    LagSequentialResult
        As from :func:`lag_sequential` (``table``, ``chisq``, ``df``, ``p_value``, ``matrix()``); ``n_obs`` is the
        number of transitions.

    Examples
    --------
    Griffin & Gottman (1990, p. 137), as in LagSequential's examples:

    >>> import pandas as pd
    >>> codes = ["H+", "Ho", "H-", "W+", "Wo", "W-"]
    >>> gg = pd.DataFrame([[0, 0, 0, 0, 2, 2], [0, 10, 5, 5, 60, 20], [0, 9, 2, 1, 3, 0], [0, 3, 0, 1, 5, 0],
    ...                    [3, 54, 6, 2, 24, 8], [1, 24, 2, 1, 3, 12]], index=codes, columns=codes)
    >>> res = lag_sequential_from_table(gg)
    >>> round(res.chisq, 2), res.df, round(float(res.matrix().loc["Ho", "Ho"]), 4)
    (107.6, 25, -7.133)
    """
    started = time.perf_counter()
    if not isinstance(data, pd.DataFrame):
        raise SchemaError([f"data must be a pandas DataFrame of transition frequencies (given codes as rows, target "
                           f"codes as columns), found {type(data).__name__}"], source="lag_sequential_from_table")
    labels = tuple(map(str, data.index))
    problems = []
    if tuple(map(str, data.columns)) != labels:
        problems.append(f"the columns {first_labels(map(str, data.columns), 20)} must be the same codes in "
                        f"the same order as the rows {first_labels(labels, 20)}")
    if len(set(labels)) != len(labels):
        problems.append("the codes (row labels) must be unique")
    values = data.to_numpy()
    if not np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.bool_):
        problems.append(f"the counts must be numbers; found dtype {values.dtype}")
    elif (~np.isfinite(values.astype(float))).any() or (values < 0).any() or (values != np.round(values)).any():
        problems.append("the counts must be finite, non-negative whole numbers")
    if problems:
        raise SchemaError(problems, source="lag_sequential_from_table")
    obs = values.astype(float)
    zero = _structural(structural_zeros, labels)
    if zero.any() and (obs[zero] > 0).any():
        raise SchemaError(["counts found in cells declared structural zeros: "
                           + ", ".join(f"{labels[i]}->{labels[j]}" for i, j in zip(*np.nonzero(zero & (obs > 0))))],
                          source="lag_sequential_from_table")
    st = _table_stats(obs[None], zero)
    conv = CLOSED_FORM if not zero.any() else Convergence(
        converged=bool(st["converged"]), iterations=int(st["iterations"]), optimizer="iterative proportional fitting")
    prov = make_provenance(data, options=dict(structural_zeros=structural_zeros if isinstance(
        structural_zeros, (str, type(None))) else [list(p) for p in structural_zeros], lag=lag),
                           function="lag_sequential_from_table", started=started)
    return LagSequentialResult(table=_long(st, labels, 0), chisq=float(st["chisq"][0]), df=int(st["df"][0]),
                               p_value=float(st["p_table"][0]), codes=labels, lag=int(lag), mode="event", window=None,
                               structural_zeros=tuple((labels[i], labels[j]) for i, j in zip(*np.nonzero(zero))),
                               n_obs=int(obs.sum()), n_transitions=int(obs.sum()), n_sessions=1, sessions=None,
                               session_summary=None, p_permutation=None, n_draws=None, convergence=conv,
                               provenance=prov)


def _example_bq2011() -> pd.DataFrame:
    """The 75-code sequence of Bakeman & Quera (2011, p. 159), as shipped with LagSequential's examples."""
    seq = [2, 1, 4, 3, 3, 4, 3, 4, 2, 1, 4, 4, 5, 4, 1, 3, 4, 5, 3, 2, 2, 1, 4, 1, 2,
           5, 2, 1, 2, 3, 3, 1, 4, 4, 1, 4, 1, 3, 3, 3, 1, 5, 2, 1, 1, 3, 1, 4, 1, 2,
           3, 3, 4, 5, 5, 2, 3, 3, 5, 2, 5, 4, 4, 2, 3, 1, 5, 5, 2, 2, 1, 3, 3, 3, 3]
    labels = ["Chat", "Write", "Read", "Ask", "Attentive"]
    return pd.DataFrame({"session": 1, "order": np.arange(1, len(seq) + 1), "code": [labels[s - 1] for s in seq]})
