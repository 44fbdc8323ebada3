r"""Competing events (relapse vs dropout): Aalen–Johansen cumulative incidence and cause-specific Cox models.

Aalen–Johansen
--------------
Clients start event-free (state 0) and leave it for one of the causes *k* (absorbing). At each distinct time with
:math:`n` event-free clients at risk and :math:`d_k` events of cause *k* (:math:`d = \sum_k d_k`),

.. math:: \hat p_k(t) = \hat p_k(t^-) + \hat p_0(t^-)\,\frac{d_k}{n},\qquad \hat p_0(t) = \hat p_0(t^-)\Big(1 -
          \frac{d}{n}\Big),

so :math:`\hat p_0` is the Kaplan–Meier curve of "any event" and :math:`\hat p_k` the cumulative incidence of
cause *k* (Aalen & Johansen 1978; Putter, Fiocco & Geskus 2007). Treating the other causes as censoring (one
minus a cause's Kaplan–Meier curve) overestimates the incidence; this estimator does not. Standard errors are
the infinitesimal jackknife, as R's ``survfit`` computes them for multi-state data: the influence
:math:`U_{g}(t) = \partial \hat p(t) / \partial w_g` of each client is carried forward through the same
recursion (:math:`U \leftarrow U(I + H) + \hat p(t^-)\,\partial H/\partial w_g`, *H* the matrix of transition
increments) and :math:`\widehat{\mathrm{se}}\{\hat p_j(t)\} = (\sum_g U_{gj}(t)^2)^{1/2}`; intervals are R's
"log" intervals, :math:`\hat p\exp(\pm z\,\mathrm{se}/\hat p)` capped at 1.

Cause-specific hazards
----------------------
:math:`h_k(t \mid x) = h_{0k}(t)\exp(x^\top\beta_k)`: one Cox model per cause with the other causes censored
(Prentice et al. 1978) — :func:`fit_cause_specific` fits them all from one cause column with
:func:`~allianceStats.survival.fit_cox`. Each :math:`\beta_k` is the effect on the rate of cause *k* among those still
event-free; the effect on the *probability* of cause *k* also runs through the other causes.

Validation: R ``survfit(Surv(etime, event) ~ 1)`` (multi-state, survival 3.5-3) on ``mgus2`` (progression vs
death): probabilities, standard errors and intervals to 1e-9; cause-specific ``coxph`` to 1e-6
(``tests/survival``).

References
----------
Aalen, O. O., & Johansen, S. (1978). An empirical transition matrix for non-homogeneous Markov chains based on
censored observations. *Scandinavian Journal of Statistics, 5*(3), 141-150.
Prentice, R. L., Kalbfleisch, J. D., Peterson, A. V., Flournoy, N., Farewell, V. T., & Breslow, N. E. (1978).
The analysis of failure times in the presence of competing risks. *Biometrics, 34*(4), 541-554.
Putter, H., Fiocco, M., & Geskus, R. B. (2007). Tutorial in biostatistics: Competing risks and multi-state
models. *Statistics in Medicine, 26*(11), 2389-2430.

Example
-------
>>> import pandas as pd
>>> d = pd.DataFrame({"weeks": [2, 3, 3, 5, 6, 8, 9, 12], "outcome": [1, 2, 0, 1, 2, 1, 0, 0]})
>>> ci = cumulative_incidence(d, "Surv(weeks, outcome) ~ 1")
>>> ci.table.query("state == 1")[["time", "probability", "std_error"]].round(3)
    time  probability  std_error
7    2.0        0.125      0.117
8    3.0        0.125      0.117
9    5.0        0.275      0.167
10   6.0        0.275      0.167
11   8.0        0.425      0.187
12   9.0        0.425      0.187
13  12.0        0.425      0.187
"""
from __future__ import annotations

import time as _time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.checks import check_conf_level, require_columns, require_numeric, table_and_text
from ..errors import FormulaError, IdentificationError, SchemaError
from ..results import CLOSED_FORM, Convergence, Provenance, ResultDisplay, make_provenance
from ._messages import labels_of
from .cox import fit_cox
from .curves import confidence_band
from .surv_formula import parse_surv_formula

INCIDENCE_COLUMNS = ["group", "time", "state", "probability", "std_error", "ci_lower", "ci_upper", "n_risk",
                     "n_events"]


def aalen_johansen(start: np.ndarray, stop: np.ndarray, cause: np.ndarray, n_causes: int):
    """Aalen–Johansen estimate with infinitesimal-jackknife SEs for one initial state and ``n_causes``
    absorbing causes (``cause`` 0 = censored, 1..K). One row per client; ``start`` is the entry time.

    Returns ``(times, n_risk, n_events (T, K+1), p (T, K+1), se (T, K+1))``; column 0 is the event-free state.
    """
    times = np.unique(stop)
    T, S = len(times), n_causes + 1
    n = len(stop)
    p = np.zeros(S)
    p[0] = 1.0
    U = np.zeros((n, S))
    out_p, out_se = np.zeros((T, S)), np.zeros((T, S))
    n_risk = np.zeros(T, int)
    n_events = np.zeros((T, S), int)
    order = np.argsort(stop, kind="mergesort")
    stop_sorted = stop[order]
    ends = np.searchsorted(stop_sorted, times, side="right")
    begins = np.searchsorted(stop_sorted, times, side="left")
    se = np.zeros(S)
    for i, t in enumerate(times):
        at_risk = (start < t) & (stop >= t)
        nr = float(at_risk.sum())
        n_risk[i] = int(nr)
        here = order[begins[i]:ends[i]]
        ev = here[cause[here] > 0]
        if len(ev):
            dk = np.bincount(cause[ev], minlength=S).astype(float)
            dk[0] = 0.0
            d = dk.sum()
            n_events[i] = dk.astype(int)
            p0 = p[0]
            u0 = U[:, 0].copy()
            U[:, 1:] += u0[:, None] * (dk[1:] / nr)
            U[:, 0] -= u0 * (d / nr)
            U[ev, 0] -= p0 / nr
            U[ev, cause[ev]] += p0 / nr
            y = at_risk.astype(float)
            U[:, 0] += y * p0 * d / nr**2
            U[:, 1:] -= y[:, None] * p0 * dk[1:] / nr**2
            p[1:] += p0 * dk[1:] / nr
            p[0] = p0 * (1 - d / nr)
            se = np.sqrt((U**2).sum(axis=0))
        out_p[i], out_se[i] = p, se
    return times, n_risk, n_events, out_p, out_se


@dataclass(frozen=True, repr=False)
class IncidenceResult(ResultDisplay):
    """Aalen–Johansen state probabilities (:func:`cumulative_incidence`).

    ``table``: one row per group, distinct time and state (``state`` = the event-free state label, then each
    cause), columns ``group, time, state, probability, std_error, ci_lower, ci_upper, n_risk`` (event-free
    clients at risk) ``, n_events`` (entries into the state at that time).
    """

    formula: str
    table: pd.DataFrame
    states: tuple
    groups: tuple
    n_obs: int
    n_events: int
    conf_level: float
    convergence: Convergence
    provenance: Provenance

    def summary(self) -> str:
        """Final cumulative incidence of each cause per group, with its interval."""
        lines = [f"Aalen-Johansen cumulative incidence: {self.formula}",
                 f"{self.n_obs} clients, {self.n_events} events; {self.conf_level:.0%} log intervals"]
        last = self.table.groupby(["group", "state"], sort=False).tail(1)
        return "\n".join(lines) + "\n" + last.to_string(index=False, float_format=lambda v: f"{v:.4f}")


def _causes(values: pd.Series, censored, where: str):
    if values.isna().any():
        raise SchemaError([f"the cause column is missing at row(s) {labels_of(values.index[values.isna()])}"],
                          source=where)
    labels = [v for v in sorted(pd.unique(values).tolist(), key=lambda x: (str(type(x)), x)) if v != censored]
    if not labels:
        raise IdentificationError(f"no events: every value of the cause column equals censored={censored!r}")
    codes = np.zeros(len(values), int)
    for k, lab in enumerate(labels, 1):
        codes[(values == lab).to_numpy()] = k
    return codes, labels


def cumulative_incidence(data: pd.DataFrame, formula: str, *, censored=0, conf_level: float = 0.95
                         ) -> IncidenceResult:
    """Aalen–Johansen cumulative incidence of competing events (e.g. relapse vs dropout), with IJ standard errors.

    Method and validation: module docstring (:mod:`allianceStats.survival.competing`); R's
    ``survfit(Surv(time, cause) ~ group)`` with a factor ``cause``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per client. Never modified.
    formula : str
        ``"Surv(time, cause) ~ 1"``, ``"Surv(time, cause) ~ group"`` or ``"Surv(entry, time, cause) ~ 1"``
        (delayed entry); ``cause`` holds ``censored`` or the cause (any labels: numbers or text).
    censored : object
        The value of the cause column that means "no event observed" (default 0).
    conf_level : float
        Level of the pointwise intervals.

    Returns
    -------
    IncidenceResult
        ``table`` in long format (one row per group, time and state).

    Raises
    ------
    SchemaError
        Missing columns, non-numeric or missing times, missing causes, stop <= start.
    IdentificationError
        No events.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"weeks": [2, 3, 3, 5, 6, 8], "outcome": ["relapse", "dropout", "none", "relapse",
    ...                   "dropout", "none"]})
    >>> cumulative_incidence(d, "Surv(weeks, outcome) ~ 1", censored="none").states
    ('event-free', 'dropout', 'relapse')
    """
    started = _time.perf_counter()
    data, formula = table_and_text(data, formula, where="cumulative_incidence")
    conf_level = check_conf_level(conf_level)
    if not isinstance(formula, str) or "~" not in formula:
        raise FormulaError(f"formula={formula!r}: expected 'Surv(time, cause) ~ 1' or '... ~ group'")
    lhs, rhs = formula.split("~", 1)
    group = rhs.strip()
    group = None if group in ("", "1") else group
    spec = parse_surv_formula(f"{lhs} ~ strata({group})" if group else f"{lhs} ~ 1", require_terms=False)
    where = "cumulative_incidence"
    require_columns(data, spec.columns, where=where)
    times = [c for c in (spec.start, spec.stop) if c]
    require_numeric(data, times, where=where)
    stop = data[spec.stop].to_numpy(float)
    start = data[spec.start].to_numpy(float) if spec.start else np.full(len(data), -np.inf)
    problems = []
    bad = ~np.isfinite(stop) | (np.isnan(start) if spec.start else np.zeros(len(data), bool))
    if bad.any():
        problems.append(f"missing or infinite times at row(s) {labels_of(data.index[bad])}")
    if spec.start and (stop <= start).any():
        problems.append(f"stop <= start at row(s) {labels_of(data.index[stop <= start])}")
    if problems:
        raise SchemaError(problems, source=where)
    codes, labels = _causes(data[spec.event], censored, where)
    if group:
        gcodes, glabels = pd.factorize(data[group], sort=True)
        glabels = list(glabels)
    else:
        gcodes, glabels = np.zeros(len(data), int), ["all"]
    states = ("event-free", *labels)
    parts = []
    for g, glab in enumerate(glabels):
        m = gcodes == g
        t, nr, ne, p, se = aalen_johansen(start[m], stop[m], codes[m], len(labels))
        for j, st in enumerate(states):
            lo, hi = confidence_band(p[:, j], np.where(p[:, j] > 0, se[:, j] / np.where(p[:, j] > 0, p[:, j], 1), 0),
                                     conf_level, "log")
            parts.append(pd.DataFrame({"group": glab, "time": t, "state": st, "probability": p[:, j],
                                       "std_error": se[:, j], "ci_lower": lo, "ci_upper": hi, "n_risk": nr,
                                       "n_events": ne[:, j]}))
    table = pd.concat(parts, ignore_index=True)
    table["state"] = pd.Categorical(table["state"], categories=list(states))
    table = table.sort_values(["group", "state", "time"], kind="mergesort").reset_index(drop=True)
    table["state"] = table["state"].astype(object)
    prov = make_provenance(data[spec.columns], options={"formula": formula, "censored": censored,
                                                        "conf_level": conf_level},
                           function="cumulative_incidence", started=started)
    return IncidenceResult(formula=formula, table=table[INCIDENCE_COLUMNS], states=states, groups=tuple(glabels),
                           n_obs=len(data), n_events=int((codes > 0).sum()), conf_level=conf_level,
                           convergence=CLOSED_FORM, provenance=prov)


@dataclass(frozen=True, repr=False)
class CauseSpecificResult(ResultDisplay):
    """Cause-specific Cox models, one per cause (:func:`fit_cause_specific`).

    ``params``: the rows of every cause's ``params`` with a ``cause`` column first; ``fits``: cause -> its
    :class:`~allianceStats.survival.cox.CoxResult`. ``n_obs``: rows; ``converged`` only if every fit converged.
    """

    formula: str
    params: pd.DataFrame
    fits: dict
    n_obs: int
    conf_level: float
    convergence: Convergence
    provenance: Provenance

    def summary(self) -> str:
        """Each cause's hazard ratios."""
        cols = ["cause", "term", "estimate", "std_error", "p_value", "hazard_ratio", "hazard_ratio_ci_lower",
                "hazard_ratio_ci_upper"]
        return (f"Cause-specific Cox models: {self.formula}\n"
                + self.params[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def fit_cause_specific(data: pd.DataFrame, formula: str, *, censored=0, ties: str = "efron",
                       client: str | None = None, conf_level: float = 0.95) -> CauseSpecificResult:
    """One Cox model per cause, the other causes censored (cause-specific hazards; module docstring).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per client or counting-process rows. Never modified.
    formula : str
        ``"Surv(time, cause) ~ covariates"`` with a cause column (``censored`` = no event).
    censored : object
        The value meaning "no event observed".
    ties : {"efron", "breslow", "exact"}
        As :func:`~allianceStats.survival.fit_cox` (each cause's model is a ``fit_cox`` fit; ``"exact"`` refuses
        ``client=``, as R).
    client : str, optional
        Cluster column for robust SEs.
    conf_level : float
        Level of the Wald intervals.

    Returns
    -------
    CauseSpecificResult

    Raises
    ------
    SchemaError, FormulaError, IdentificationError
        As :func:`~allianceStats.survival.fit_cox`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(5)
    >>> d = pd.DataFrame({"alliance": rng.normal(4, 0.6, 300)})
    >>> t_rel = rng.exponential(20 * np.exp(0.8 * (d.alliance - 4)))
    >>> t_drop = rng.exponential(30, 300)
    >>> d["weeks"] = np.minimum(np.minimum(t_rel, t_drop), 26)
    >>> d["outcome"] = np.where(d.weeks == 26, "none", np.where(t_rel < t_drop, "relapse", "dropout"))
    >>> cs = fit_cause_specific(d, "Surv(weeks, outcome) ~ alliance", censored="none")
    >>> cs.params[["cause", "term"]].values.tolist()
    [['dropout', 'alliance'], ['relapse', 'alliance']]
    """
    started = _time.perf_counter()
    data, formula = table_and_text(data, formula, where="fit_cause_specific")
    spec = parse_surv_formula(formula)
    if spec.event_value is not None:
        raise FormulaError(f"give the cause column itself in Surv() (not {spec.event} == ...); each cause is fitted")
    require_columns(data, spec.columns, where="fit_cause_specific")
    _, labels = _causes(data[spec.event], censored, "fit_cause_specific")
    fits = {}
    surv = formula.split("~", 1)
    times = ", ".join(c for c in (spec.start, spec.stop) if c)
    for lab in labels:
        value = repr(lab) if isinstance(lab, str) else lab
        fits[lab] = fit_cox(data, f"Surv({times}, {spec.event} == {value}) ~{surv[1]}", ties=ties, client=client,
                            conf_level=conf_level)
    params = pd.concat([f.params.assign(cause=lab) for lab, f in fits.items()], ignore_index=True)
    params = params[["cause", *[c for c in params.columns if c != "cause"]]]
    ok = all(f.converged for f in fits.values())
    conv = Convergence(ok, max(f.convergence.iterations for f in fits.values()), "Newton-Raphson (per cause)",
                       "" if ok else "a cause's model did not converge")
    prov = make_provenance(data[spec.columns], options={"formula": formula, "censored": censored, "ties": ties,
                                                        "client": client, "conf_level": conf_level},
                           function="fit_cause_specific", started=started)
    return CauseSpecificResult(formula=formula, params=params, fits=fits, n_obs=len(data), conf_level=conf_level,
                               convergence=conv, provenance=prov)
