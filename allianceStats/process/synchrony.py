r"""Synchrony of two signals of a dyad: windowed lagged cross-correlation and surrogate (pseudo-synchrony) tests.

Definition (Boker, Xu, Rotondo & King, 2002; as implemented in rMEA's ``MEAccf``, Kleinbub & Ramseyer, 2020)
-----------------------------------------------------------------------------------------------------------
Two signals *x* and *y* (e.g. the motion energy, heart rate or vocal pitch of client and therapist) sampled at
``sampling_rate`` Hz are cut into windows of ``window_seconds`` that start every ``step_seconds``. With
:math:`w`, :math:`L` and :math:`s` the window, maximum lag and step in samples there are
:math:`\lceil (n - w - L + 1) / s \rceil` windows; window *m* spans the :math:`w + L` samples from :math:`m s`.
Within it, for every lag :math:`\ell = -L, \dots, L` samples, the Pearson correlation is taken between

- :math:`x_{ms+i}` and :math:`y_{ms+\ell+i}`, :math:`i = 0..w-1`, for :math:`\ell \ge 0` (*y* follows *x*);
- :math:`x_{ms+|\ell|+i}` and :math:`y_{ms+i}` for :math:`\ell < 0` (*x* follows *y*).

A correlation is missing when fewer than two positions differ between the two slices, when a slice is constant,
or (with missing samples) when more than half of a window's samples of *x* or *y* are missing; missing samples
are dropped pairwise-complete within a slice. With ``fisher_z`` the correlations become Fisher's
:math:`z = \operatorname{artanh} r`, bounded to ±10; with ``absolute`` their absolute values. Aggregates as in
rMEA: per window the mean over all lags, the lag-0 value, the means over positive lags (*x* leads) and negative
lags (*y* leads), with and without lag 0, and the lag with the highest value; the *lag profile* is the mean of each
lag over windows and the *grand average* the mean of the whole window x lag table.

Validated against rMEA 1.2.2 ``MEAccf(lagSec = 5, winSec = 60, incSec = 30)`` on the 20 dyads rMEA ships, with
and without Fisher z / absolute values (``tests/process/fixtures/make_synchrony_fixtures.R``).

**Surrogate tests** (:func:`surrogate_synchrony`): synchrony that arises by chance between two signals with the
same properties. ``method="pseudo_dyads"`` pairs the *x* of one dyad with the *y* of another (rMEA's ``shuffle``
with roles kept; Ramseyer & Tschacher, 2010), truncated to the shorter of the two; ``method="segments"`` cuts
the *y* signal of each dyad into segments of ``segment_seconds`` and shuffles their order (Ramseyer & Tschacher,
2010). The real dyads' grand averages are compared with the surrogates' (Welch *t*, Cohen's *d*) and each dyad
gets a permutation p, :math:`(1 + \#\{\text{surrogate} \ge \text{real}\}) / (1 + n)`.

References
----------
Boker, S. M., Xu, M., Rotondo, J. L., & King, K. (2002). Windowed cross-correlation and peak picking for the
analysis of variability in the association between behavioral time series. *Psychological Methods, 7*, 338-355.
Kleinbub, J. R., & Ramseyer, F. T. (2020). rMEA: An R package to assess nonverbal synchronization in motion energy
analysis time-series. *Psychotherapy Research, 31*, 817-830. Ramseyer, F., & Tschacher, W. (2010). Nonverbal
synchrony or random coincidence? How to tell the difference. In A. Esposito et al. (Eds.), *Development of
Multimodal Interfaces* (pp. 182-196). Springer.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..data.checks import check_bool, check_choice, check_positive_int, first_labels, require_columns, resolve_seed
from ..errors import OptionError, SchemaError
from ..results import CLOSED_FORM, Convergence, Provenance, ResultDisplay, make_provenance

__all__ = ["window_cross_correlation", "SynchronyResult", "synchrony_by_session", "surrogate_synchrony",
           "SurrogateResult", "WINDOW_COLUMNS"]

WINDOW_COLUMNS = ["window", "start_seconds", "end_seconds", "all_lags", "lag_zero", "x_leads", "y_leads",
                  "x_leads_0", "y_leads_0", "best_lag"]
FISHER_BOUND = 10.0


def _positive(name: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value <= 0:
        raise OptionError(f"{name}={value!r} must be a positive number")
    return float(value)


def _samples(name: str, seconds: float, rate: float, *, allow_zero: bool = False) -> int:
    if isinstance(seconds, (bool, np.bool_)) or not isinstance(seconds, (int, float, np.integer, np.floating)) \
            or not np.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        raise OptionError(f"{name}={seconds!r} must be a {'non-negative' if allow_zero else 'positive'} number "
                          "of seconds")
    n = seconds * rate
    if abs(n - round(n)) > 1e-9 * max(1.0, abs(n)):
        raise OptionError(f"{name}={seconds!r} is {n:g} samples at sampling_rate={rate:g}; it must be a whole "
                          "number of samples")
    return int(round(n))


def _rate_of(signal) -> float | None:
    """Sampling rate implied by a Series' index of seconds (or timedeltas); None for a plain array."""
    if not isinstance(signal, pd.Series) or isinstance(signal.index, pd.RangeIndex) or len(signal) < 2:
        return None
    idx = signal.index
    if isinstance(idx, pd.TimedeltaIndex):
        steps = np.diff(idx.total_seconds().to_numpy())
    elif pd.api.types.is_numeric_dtype(idx):
        steps = np.diff(idx.to_numpy(dtype=float))
    else:
        return None
    step = float(np.median(steps))
    return 1.0 / step if step > 0 else None


def _signal(name: str, values) -> np.ndarray:
    arr = np.asarray(values.to_numpy() if isinstance(values, pd.Series) else values)
    if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.number) and not np.issubdtype(arr.dtype, np.bool_)):
        raise SchemaError([f"signal {name} must be a one-dimensional numeric array or Series; found "
                           f"{arr.ndim}-d {arr.dtype}"], source="window_cross_correlation")
    arr = arr.astype(float)
    if np.isinf(arr).any():
        raise SchemaError([f"signal {name}: infinite values at samples {first_labels(np.flatnonzero(np.isinf(arr)))}; "
                           "replace them with NaN (missing) or finite values"], source="window_cross_correlation")
    return arr


# ------------------------------------------------------------------------------------------------ the engine
def _sliding_sum(a: np.ndarray, width: int, starts: np.ndarray) -> np.ndarray:
    """Sums of ``a[..., s:s+width]`` for each start ``s`` (last axis), from a local cumulative sum."""
    c = np.concatenate([np.zeros(a.shape[:-1] + (1,)), np.cumsum(a, axis=-1)], axis=-1)
    return c[..., starts + width] - c[..., starts]


def _ccf_complete(x: np.ndarray, y: np.ndarray, n_win: int, win: int, lag: int, inc: int) -> np.ndarray:
    """Correlations (windows x lags -L..L) for signals without missing values, by FFT within each window."""
    span = win + lag
    starts = np.arange(n_win) * inc
    take = starts[:, None] + np.arange(span)[None, :]
    xw, yw = x[take], y[take]
    # centre each window on its own mean: correlations are shift-invariant and the sums stay small
    xw = xw - xw.mean(axis=1, keepdims=True)
    yw = yw - yw.mean(axis=1, keepdims=True)
    nfft = 1 << int(np.ceil(np.log2(span + win)))
    shifts = np.arange(lag + 1)

    def cross(a_head, b_full):
        # sum_i a[i] * b[i + l] for i < win, l = 0..lag
        fa = np.fft.rfft(a_head[:, :win], nfft)
        fb = np.fft.rfft(b_full, nfft)
        return np.fft.irfft(np.conj(fa) * fb, nfft)[:, :lag + 1]

    def moments(a):
        s1 = _sliding_sum(a, win, shifts)
        s2 = _sliding_sum(a * a, win, shifts)
        return s1, s2

    sx_all, sxx_all = moments(xw)  # windows x shifts: sums of x[l : l + win]
    sy_all, syy_all = moments(yw)
    pos = cross(xw, yw)  # x[i] y[i+l]
    neg = cross(yw, xw)  # y[i] x[i+l]

    def corr(sxy, sx, sxx, sy, syy):
        cov = sxy - sx * sy / win
        vx = sxx - sx * sx / win
        vy = syy - sy * sy / win
        with np.errstate(invalid="ignore", divide="ignore"):
            r = cov / np.sqrt(vx * vy)
        return r

    r_pos = corr(pos, sx_all[:, :1], sxx_all[:, :1], sy_all, syy_all)
    r_neg = corr(neg, sx_all, sxx_all, sy_all[:, :1], syy_all[:, :1])
    r = np.concatenate([r_neg[:, :0:-1], r_pos], axis=1)

    # exact rules, checked by counting: a constant slice has no correlation, and neither has a pair of slices
    # that differ in fewer than two positions (rMEA's rule)
    def constant(a):
        change = np.concatenate([np.zeros((a.shape[0], 1)), (np.diff(a, axis=1) != 0).astype(float)], axis=1)
        return _sliding_sum(change[:, 1:], win - 1, shifts) == 0 if win > 1 else np.ones((a.shape[0], lag + 1), bool)

    cx, cy = constant(xw), constant(yw)
    const = np.concatenate([(cx | cy[:, :1])[:, :0:-1], cx[:, :1] | cy], axis=1)
    r[const] = np.nan
    suspect = np.argwhere(~const & (~np.isfinite(r) | (np.abs(r) > 0.999)))
    xo, yo = x[take], y[take]
    for w_i, j in suspect:
        ell = j - lag
        a = xo[w_i, (-ell if ell < 0 else 0):][:win]
        b = yo[w_i, (ell if ell > 0 else 0):][:win]
        if np.count_nonzero(a != b) < 2:
            r[w_i, j] = np.nan
        elif not np.isfinite(r[w_i, j]):
            r[w_i, j] = np.corrcoef(a, b)[0, 1]
    return np.clip(r, -1.0, 1.0)


def _ccf_missing(x: np.ndarray, y: np.ndarray, n_win: int, win: int, lag: int, inc: int) -> np.ndarray:
    """Correlations with missing samples: pairwise-complete within each slice, rMEA's half-missing rule."""
    r = np.full((n_win, 2 * lag + 1), np.nan)
    for w_i in range(n_win):
        xw = x[w_i * inc: w_i * inc + win + lag]
        yw = y[w_i * inc: w_i * inc + win + lag]
        if max(np.isnan(xw).sum(), np.isnan(yw).sum()) > xw.size / 2:
            continue
        for j, ell in enumerate(range(-lag, lag + 1)):
            a = xw[(-ell if ell < 0 else 0):][:win]
            b = yw[(ell if ell > 0 else 0):][:win]
            both = ~np.isnan(a) & ~np.isnan(b)
            if np.count_nonzero((a != b) & both) < 2:
                continue
            a, b = a[both], b[both]
            if a.size < 2 or np.all(a == a[0]) or np.all(b == b[0]):
                continue
            r[w_i, j] = np.corrcoef(a, b)[0, 1]
    return np.clip(r, -1.0, 1.0)


def _ccf(x, y, n_win, win, lag, inc, fisher_z, absolute):
    if np.isnan(x).any() or np.isnan(y).any():
        r = _ccf_missing(x, y, n_win, win, lag, inc)
    else:
        r = _ccf_complete(x, y, n_win, win, lag, inc)
    if fisher_z:
        with np.errstate(divide="ignore"):
            r = np.clip(np.arctanh(r), -FISHER_BOUND, FISHER_BOUND)
    if absolute:
        r = np.abs(r)
    return r


def _nanmean(a, axis=None):
    with np.errstate(invalid="ignore"):
        count = np.sum(~np.isnan(a), axis=axis)
        total = np.nansum(a, axis=axis)
        return np.where(count > 0, total / np.where(count > 0, count, 1), np.nan)


# ------------------------------------------------------------------------------------------------ results
@dataclass(frozen=True, repr=False)
class SynchronyResult(ResultDisplay):
    """Windowed cross-correlation of a dyad (:func:`window_cross_correlation`).

    ``ccf``: windows (rows, 1..) x lags (columns, in seconds, negative = *y* leads); ``windows``: one row per
    window with ``WINDOW_COLUMNS``; ``lag_profile``: the mean of each lag over windows; ``grand_average``: the
    mean of the whole table. ``session_row()`` gives the session-level columns.
    """

    ccf: pd.DataFrame
    windows: pd.DataFrame
    lag_profile: pd.Series
    grand_average: float
    sampling_rate: float
    lag_seconds: float
    window_seconds: float
    step_seconds: float
    fisher_z: bool
    absolute: bool
    n_obs: int
    convergence: Convergence
    provenance: Provenance
    conf_level: float = 0.95

    @property
    def table(self) -> pd.DataFrame:
        """The window x lag table in long form: ``window, start_seconds, lag_seconds, value``."""
        long = self.ccf.stack(future_stack=True).rename("value").reset_index()
        long.columns = ["window", "lag_seconds", "value"]
        long.insert(1, "start_seconds", self.windows.set_index("window").loc[long["window"], "start_seconds"]
                    .to_numpy())
        return long

    def session_row(self) -> dict[str, float]:
        """Session-level synchrony: grand average, mean lag-0 value, mean *x*-leads / *y*-leads values, the lag
        with the highest profile value (seconds), and the number of windows."""
        w = self.windows
        best = self.lag_profile.idxmax() if self.lag_profile.notna().any() else np.nan
        return {"synchrony": self.grand_average, "synchrony_lag_zero": float(_nanmean(w["lag_zero"].to_numpy())),
                "synchrony_x_leads": float(_nanmean(w["x_leads"].to_numpy())),
                "synchrony_y_leads": float(_nanmean(w["y_leads"].to_numpy())),
                "synchrony_best_lag": float(best), "synchrony_windows": int(len(w))}

    def summary(self) -> str:
        """Settings, grand average and the per-window aggregates as text."""
        kind = ("|Fisher z|" if self.fisher_z and self.absolute else "Fisher z" if self.fisher_z
                else "|r|" if self.absolute else "r")
        head = (f"Windowed cross-correlation ({kind}): {self.n_obs} samples at {self.sampling_rate:g} Hz; windows of "
                f"{self.window_seconds:g} s every {self.step_seconds:g} s, lags ±{self.lag_seconds:g} s; "
                f"{len(self.windows)} windows\ngrand average = {self.grand_average:.6f}")
        return head + "\n" + self.windows.to_string(index=False, float_format=lambda v: f"{v:.4f}")

    def __repr__(self) -> str:
        return (f"SynchronyResult(grand_average={self.grand_average:.6f}, windows={len(self.windows)}, "
                f"lags=±{self.lag_seconds:g}s, fisher_z={self.fisher_z}, absolute={self.absolute})")


def window_cross_correlation(x, y, *, sampling_rate: float, lag_seconds: float, window_seconds: float,
                             step_seconds: float, fisher_z: bool = True, absolute: bool = True) -> SynchronyResult:
    """Windowed lagged cross-correlation of two signals of a dyad (Boker et al., 2002) with rMEA's definitions.

    Definition, aggregates and validation: module docstring (:mod:`allianceStats.process.synchrony`).

    Parameters
    ----------
    x, y : array-like or pandas.Series
        The two signals, equally long and sampled together (NaN marks a missing sample). Series indexed by
        seconds (or timedeltas) are checked to be sampled at ``sampling_rate``.
    sampling_rate : float
        Samples per second.
    lag_seconds, window_seconds, step_seconds : float
        Largest lag, window length and step between window starts, in seconds (whole numbers of samples).
    fisher_z : bool
        Fisher's z of each correlation (bounded to ±10).
    absolute : bool
        Absolute values (in-phase and anti-phase synchrony count alike).

    Returns
    -------
    SynchronyResult
        ``ccf``, ``windows``, ``lag_profile``, ``grand_average``, ``table`` (long), ``session_row()``.

    Raises
    ------
    SchemaError
        Signals of different lengths or sampling rates, non-numeric or infinite values.
    OptionError
        Settings that are not whole numbers of samples, or too long for a single window.

    Examples
    --------
    >>> import numpy as np
    >>> from allianceStats.process import window_cross_correlation
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=3000)
    >>> y = np.r_[np.zeros(10), x[:-10]] + rng.normal(size=3000)   # y follows x by 10 samples (1 s at 10 Hz)
    >>> res = window_cross_correlation(x, y, sampling_rate=10, lag_seconds=2, window_seconds=30, step_seconds=15)
    >>> float(res.lag_profile.idxmax()), len(res.windows)
    (1.0, 18)
    """
    started = time.perf_counter()
    rate = _positive("sampling_rate", sampling_rate)
    fisher_z = check_bool("fisher_z", fisher_z)
    absolute = check_bool("absolute", absolute)
    problems = []
    xr, yr = _rate_of(x), _rate_of(y)
    for name, r in (("x", xr), ("y", yr)):
        if r is not None and abs(r - rate) > 1e-6 * rate:
            problems.append(f"signal {name} is sampled at {r:g} Hz (from its index) but sampling_rate={rate:g}; "
                            "resample the signals to one rate first")
    xa, ya = _signal("x", x), _signal("y", y)
    if xa.size != ya.size:
        problems.append(f"signals x and y differ in length ({xa.size} and {ya.size} samples); cut or pad them to "
                        "the same span, sampled together")
    if problems:
        raise SchemaError(problems, source="window_cross_correlation")
    lag = _samples("lag_seconds", lag_seconds, rate, allow_zero=True)
    win = _samples("window_seconds", window_seconds, rate)
    inc = _samples("step_seconds", step_seconds, rate)
    if win < 3:
        raise OptionError(f"window_seconds={window_seconds!r} gives {win} samples; a correlation needs at least 3")
    n = xa.size
    n_win = int(np.ceil((n - win - lag + 1) / inc))
    if n_win <= 0:
        raise OptionError(f"window_seconds={window_seconds!r} plus lag_seconds={lag_seconds!r} need {win + lag} "
                          f"samples but the signals have {n}; shorten the window or the lag")
    r = _ccf(xa, ya, n_win, win, lag, inc, fisher_z, absolute)
    lags_sec = np.arange(-lag, lag + 1) / rate
    ccf = pd.DataFrame(r, index=pd.RangeIndex(1, n_win + 1, name="window"),
                       columns=pd.Index(lags_sec, name="lag_seconds"))
    starts = np.arange(n_win) * step_seconds
    with np.errstate(invalid="ignore"):
        best = np.array([lags_sec[np.nanargmax(row)] if np.isfinite(row).any() else np.nan for row in r])
    windows = pd.DataFrame({
        "window": np.arange(1, n_win + 1), "start_seconds": starts.astype(float),
        "end_seconds": (starts + window_seconds).astype(float), "all_lags": _nanmean(r, axis=1),
        "lag_zero": r[:, lag],
        "x_leads": _nanmean(r[:, lag + 1:], axis=1) if lag else np.full(n_win, np.nan),
        "y_leads": _nanmean(r[:, :lag], axis=1) if lag else np.full(n_win, np.nan),
        "x_leads_0": _nanmean(r[:, lag:], axis=1), "y_leads_0": _nanmean(r[:, :lag + 1], axis=1),
        "best_lag": best})
    profile = pd.Series(_nanmean(r, axis=0), index=pd.Index(lags_sec, name="lag_seconds"), name="lag_profile")
    prov = make_provenance(np.column_stack([xa, ya]), options=dict(sampling_rate=rate, lag_seconds=lag_seconds,
                                                                    window_seconds=window_seconds,
                                                                    step_seconds=step_seconds, fisher_z=fisher_z,
                                                                    absolute=absolute),
                           function="window_cross_correlation", started=started)
    return SynchronyResult(ccf=ccf, windows=windows, lag_profile=profile, grand_average=float(_nanmean(r)),
                           sampling_rate=rate, lag_seconds=float(lag_seconds), window_seconds=float(window_seconds),
                           step_seconds=float(step_seconds), fisher_z=fisher_z, absolute=absolute, n_obs=n,
                           convergence=CLOSED_FORM, provenance=prov)


def _grand_average(xa, ya, rate, lag, win, inc, fisher_z, absolute) -> float:
    n = min(xa.size, ya.size)
    n_win = int(np.ceil((n - win - lag + 1) / inc))
    if n_win <= 0:
        return float("nan")
    return float(_nanmean(_ccf(xa[:n], ya[:n], n_win, win, lag, inc, fisher_z, absolute)))


def synchrony_by_session(data: pd.DataFrame, *, x: str, y: str, sampling_rate: float, lag_seconds: float,
                         window_seconds: float, step_seconds: float, client: str | None = "client",
                         session: str = "session", fisher_z: bool = True, absolute: bool = True) -> pd.DataFrame:
    """Session-level synchrony columns for a long table of signals (one row per sample, rows in time order).

    Runs :func:`window_cross_correlation` for every (client, session) and returns one row per session with the
    columns of :meth:`SynchronyResult.session_row` (``synchrony`` is the grand average), ready to merge onto a
    session table for the mixed and panel models.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per sample, in time order within each session; never modified.
    x, y : str
        Columns of the two signals.
    sampling_rate, lag_seconds, window_seconds, step_seconds, fisher_z, absolute
        As in :func:`window_cross_correlation`.
    client, session : str
        Columns identifying a session (``client=None`` when ``session`` alone does).

    Returns
    -------
    pandas.DataFrame
        ``client, session, synchrony, synchrony_lag_zero, synchrony_x_leads, synchrony_y_leads,
        synchrony_best_lag, synchrony_windows``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(2)
    >>> sig = pd.DataFrame({"client": np.repeat(["a", "b"], 600), "session": 1,
    ...                     "x": rng.normal(size=1200), "y": rng.normal(size=1200)})
    >>> out = synchrony_by_session(sig, x="x", y="y", sampling_rate=5, lag_seconds=1, window_seconds=20,
    ...                            step_seconds=10)
    >>> list(out.columns[:3]), len(out)
    (['client', 'session', 'synchrony'], 2)
    """
    keys = [c for c in (client, session) if c is not None]
    require_columns(data, keys + [x, y], where="synchrony_by_session")
    rows = []
    for key, part in data.groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        res = window_cross_correlation(part[x].to_numpy(), part[y].to_numpy(), sampling_rate=sampling_rate,
                                       lag_seconds=lag_seconds, window_seconds=window_seconds,
                                       step_seconds=step_seconds, fisher_z=fisher_z, absolute=absolute)
        rows.append({**dict(zip(keys, key)), **res.session_row()})
    return pd.DataFrame(rows)


@dataclass(frozen=True, repr=False)
class SurrogateResult(ResultDisplay):
    """Real vs surrogate synchrony (:func:`surrogate_synchrony`).

    ``dyads``: one row per dyad (``dyad, synchrony, surrogate_mean, surrogate_sd, z, p_value``);
    ``surrogates``: the surrogate grand averages (with the dyads they were built from);
    ``statistic``/``p_value``: Welch's *t* of real vs surrogate grand averages (one-sided, real > surrogate);
    ``effect_size``: Cohen's *d* with the pooled SD.
    """

    dyads: pd.DataFrame
    surrogates: pd.DataFrame
    method: str
    statistic: float
    p_value: float
    effect_size: float
    n_draws: int
    n_obs: int
    convergence: Convergence
    provenance: Provenance
    conf_level: float = 0.95

    def summary(self) -> str:
        """Real vs surrogate synchrony as text."""
        real = self.dyads["synchrony"]
        return (f"Surrogate test ({self.method}, {self.n_draws} surrogates): real synchrony {real.mean():.4f} "
                f"(SD {real.std():.4f}, {len(real)} dyads) vs surrogate {self.surrogates['synchrony'].mean():.4f} "
                f"(SD {self.surrogates['synchrony'].std():.4f}); Welch t = {self.statistic:.3f}, one-sided "
                f"p = {self.p_value:.4g}, d = {self.effect_size:.3f}\n"
                + self.dyads.to_string(index=False, float_format=lambda v: f"{v:.4f}"))

    def __repr__(self) -> str:
        return (f"SurrogateResult(method={self.method!r}, dyads={len(self.dyads)}, n_draws={self.n_draws}, "
                f"t={self.statistic:.3f}, p={self.p_value:.4g}, d={self.effect_size:.3f})")


def surrogate_synchrony(data: pd.DataFrame, *, x: str, y: str, dyad: str | Sequence[str], sampling_rate: float,
                        lag_seconds: float, window_seconds: float, step_seconds: float,
                        method: str = "pseudo_dyads", segment_seconds: float | None = None, n_draws: int = 200,
                        seed: int | None = None, fisher_z: bool = True, absolute: bool = True) -> SurrogateResult:
    """Pseudo-synchrony: is the dyads' synchrony larger than that of surrogate dyads? (module docstring)

    Parameters
    ----------
    data : pandas.DataFrame
        Long table, one row per sample in time order within each dyad (e.g. a session), never modified.
    x, y : str
        Columns of the two signals.
    dyad : str or list of str
        Column(s) identifying a dyad recording (e.g. ``["client", "session"]``).
    sampling_rate, lag_seconds, window_seconds, step_seconds, fisher_z, absolute
        As in :func:`window_cross_correlation`.
    method : {"pseudo_dyads", "segments"}
        ``"pseudo_dyads"``: *x* of one dyad with *y* of another (needs at least 2 dyads); ``"segments"``: the
        *y* of each dyad with its segments shuffled.
    segment_seconds : float, optional
        Segment length for ``method="segments"`` (default: the window length).
    n_draws : int
        Number of surrogates (pseudo-dyads are drawn without repetition while possible; for ``"segments"`` this
        many per dyad).
    seed : int, optional
        Seed of the draws (recorded in ``provenance``).

    Returns
    -------
    SurrogateResult
        ``dyads`` (real synchrony, surrogate mean and SD, z, permutation p per dyad), ``surrogates``,
        ``statistic`` / ``p_value`` (Welch's t, one-sided), ``effect_size`` (Cohen's d).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from allianceStats.simulate.process import simulate_dyad_signals
    >>> sig, truth = simulate_dyad_signals(n_dyads=6, minutes=2, sampling_rate=5, coupling=0.6, seed=3)
    >>> res = surrogate_synchrony(sig, x="client_signal", y="therapist_signal", dyad="dyad", sampling_rate=5,
    ...                           lag_seconds=2, window_seconds=30, step_seconds=15, n_draws=20, seed=1)
    >>> bool(res.dyads["synchrony"].mean() > res.surrogates["synchrony"].mean())
    True
    """
    started = time.perf_counter()
    keys = [dyad] if isinstance(dyad, str) else list(dyad)
    require_columns(data, keys + [x, y], where="surrogate_synchrony")
    method = check_choice("method", method, ["pseudo_dyads", "segments"])
    n_draws = check_positive_int("n_draws", n_draws)
    seed_used = resolve_seed(seed)
    rng = np.random.default_rng(seed_used)
    rate = _positive("sampling_rate", sampling_rate)
    lag = _samples("lag_seconds", lag_seconds, rate, allow_zero=True)
    win = _samples("window_seconds", window_seconds, rate)
    inc = _samples("step_seconds", step_seconds, rate)
    groups = list(data.groupby(keys, sort=True))
    labels = [k if isinstance(k, tuple) else (k,) for k, _ in groups]
    xs = [_signal(f"x ({x!r})", g[x]) for _, g in groups]
    ys = [_signal(f"y ({y!r})", g[y]) for _, g in groups]
    real = np.array([_grand_average(a, b, rate, lag, win, inc, fisher_z, absolute) for a, b in zip(xs, ys)])
    sur_rows = []
    if method == "pseudo_dyads":
        m = len(groups)
        if m < 2:
            raise OptionError("method='pseudo_dyads' needs at least 2 dyads; use method='segments' for one dyad")
        pairs = np.array([(i, j) for i in range(m) for j in range(m) if i != j])
        pick = rng.permutation(len(pairs))
        if n_draws > len(pairs):
            pick = np.r_[pick, rng.integers(0, len(pairs), n_draws - len(pairs))]
        for i, j in pairs[pick[:n_draws]]:
            sur_rows.append({"x_from": "/".join(map(str, labels[i])), "y_from": "/".join(map(str, labels[j])),
                             "synchrony": _grand_average(xs[i], ys[j], rate, lag, win, inc, fisher_z, absolute)})
    else:
        seg = _samples("segment_seconds", window_seconds if segment_seconds is None else segment_seconds, rate)
        for i in range(len(groups)):
            n_seg = ys[i].size // seg
            if n_seg < 2:
                raise OptionError(f"segment_seconds gives {n_seg} segment(s) in dyad {labels[i]}; need at least 2")
            for _ in range(n_draws):
                order = rng.permutation(n_seg)
                while n_seg > 1 and np.all(order == np.arange(n_seg)):
                    order = rng.permutation(n_seg)
                yy = ys[i][: n_seg * seg].reshape(n_seg, seg)[order].ravel()
                sur_rows.append({"x_from": "/".join(map(str, labels[i])), "y_from": "/".join(map(str, labels[i])),
                                 "synchrony": _grand_average(xs[i][: n_seg * seg], yy, rate, lag, win, inc,
                                                             fisher_z, absolute)})
    sur = pd.DataFrame(sur_rows)
    dy = pd.DataFrame(labels, columns=keys)
    dy["synchrony"] = real
    rows = []
    for i, lab in enumerate(labels):
        ref = sur["synchrony"].to_numpy() if method == "pseudo_dyads" else \
            sur.loc[sur["x_from"] == "/".join(map(str, lab)), "synchrony"].to_numpy()
        ref = ref[np.isfinite(ref)]
        mu, sd = (ref.mean(), ref.std(ddof=1)) if ref.size > 1 else (np.nan, np.nan)
        rows.append((mu, sd, (real[i] - mu) / sd if sd and sd > 0 else np.nan,
                     (1 + np.sum(ref >= real[i])) / (1 + ref.size)))
    dy[["surrogate_mean", "surrogate_sd", "z", "p_value"]] = np.array(rows)
    s_vals = sur["synchrony"].dropna().to_numpy()
    r_vals = real[np.isfinite(real)]
    t = stats.ttest_ind(r_vals, s_vals, equal_var=False, alternative="greater") if r_vals.size > 1 else None
    pooled = np.sqrt(((r_vals.size - 1) * r_vals.var(ddof=1) + (s_vals.size - 1) * s_vals.var(ddof=1))
                     / (r_vals.size + s_vals.size - 2)) if r_vals.size > 1 else np.nan
    prov = make_provenance(data, options=dict(x=x, y=y, dyad=keys, method=method, n_draws=n_draws,
                                              sampling_rate=rate, lag_seconds=lag_seconds,
                                              window_seconds=window_seconds, step_seconds=step_seconds,
                                              segment_seconds=segment_seconds, fisher_z=fisher_z,
                                              absolute=absolute),
                           seed=seed_used, function="surrogate_synchrony", started=started)
    return SurrogateResult(dyads=dy, surrogates=sur, method=method,
                           statistic=float(t.statistic) if t is not None else float("nan"),
                           p_value=float(t.pvalue) if t is not None else float("nan"),
                           effect_size=float((r_vals.mean() - s_vals.mean()) / pooled) if pooled else float("nan"),
                           n_draws=n_draws, n_obs=len(data), convergence=CLOSED_FORM, provenance=prov)
