r"""Survival curves: Kaplan–Meier with confidence bands and numbers at risk, and curves from a fitted Cox model.

Kaplan–Meier
------------
At each distinct time :math:`t_j` with :math:`n_j` at risk (counting-process rows: :math:`s_i < t_j \le t_i`, so
delayed entry is handled) and :math:`d_j` events, :math:`\hat S(t) = \prod_{t_j \le t}(1 - d_j/n_j)` (Kaplan &
Meier 1958) with Greenwood's variance on the log scale, :math:`\widehat{\mathrm{se}}\{\log\hat S(t)\} =
\{\sum_{t_j\le t} d_j/[n_j(n_j - d_j)]\}^{1/2}` (Greenwood 1926). Pointwise intervals at ``conf_level``
(R's ``conf.type``): ``"log"`` (R's default) :math:`\hat S\exp(\pm z\,\mathrm{se})` capped at 1;
``"log-log"`` :math:`\exp\{-\exp(\log(-\log\hat S) \mp z\,\mathrm{se}/\log\hat S)\}`; ``"plain"``
:math:`\hat S(1 \pm z\,\mathrm{se})` within [0, 1]. Rows at every distinct stop time, as R's ``survfit``:
``n_risk``, ``n_events``, ``n_censor`` (the numbers at risk a figure prints under its axis).

Curves from a Cox model
-----------------------
Baseline cumulative hazard (Breslow 1972 / its Efron analogue, as R's ``survfit.coxph`` with ``ctype``
matching the ties): at a time with *d* events, :math:`d\hat\Lambda_0 = d/S_0` (Breslow) or
:math:`\sum_{l=0}^{d-1} 1/(S_0 - \tfrac{l}{d}D_0)` (Efron), :math:`S_0` the risk-set sum of :math:`e^{x^\top\hat\beta}`
and :math:`D_0` its part among the events. For covariates *z* the survival is :math:`\exp\{-e^{z^\top\hat\beta}
\hat\Lambda_0(t)\}`; for a covariate *path* (counting-process rows of new data, R's ``survfit(fit, newdata,
id =)``), the hazard increments of each row's interval are multiplied by that row's :math:`e^{z^\top\hat\beta}` and
added up. The variance of the cumulative hazard is Tsiatis' (1981) as R computes it: the baseline term
:math:`\sum e^{2z^\top\hat\beta}\,dv` (:math:`dv = d/S_0^2`, or the Efron sum of :math:`1/(\cdot)^2`) plus
:math:`q(t)^\top\hat V q(t)` with :math:`q(t) = \int e^{z^\top\hat\beta}(z - \bar x(u))\,d\hat\Lambda_0(u)`, where
:math:`\hat V` is the model's variance matrix (robust if the model was fitted with ``client=``). Intervals are
"log" intervals of the survival.

Validation: R ``survfit`` (Kaplan–Meier with the three interval types, counting-process data) and
``survfit.coxph`` (new covariate values with Efron and Breslow, strata, a covariate path), survival 3.5-3:
agreement to 1e-9 (``tests/survival``).

References
----------
Kaplan, E. L., & Meier, P. (1958). Nonparametric estimation from incomplete observations. *JASA, 53*, 457-481.
Greenwood, M. (1926). The natural duration of cancer. *Reports on Public Health and Medical Subjects, 33*, 1-26.
Breslow, N. (1972). Discussion of Professor Cox's paper. *JRSS B, 34*, 216-217.
Tsiatis, A. A. (1981). A large sample study of Cox's regression model. *Ann. Stat., 9*(1), 93-108.
Therneau, T. M., & Grambsch, P. M. (2000). *Modeling survival data: Extending the Cox model*. Springer, ch. 10.

Example
-------
>>> import pandas as pd
>>> d = pd.DataFrame({"weeks": [3, 5, 5, 8, 10, 12, 12, 15], "relapse": [1, 1, 0, 1, 0, 1, 0, 0]})
>>> km = survival_curve(d, "Surv(weeks, relapse) ~ 1")
>>> km.table[["time", "n_risk", "n_events", "n_censor", "survival"]].round(3)
   time  n_risk  n_events  n_censor  survival
0   3.0       8         1         0     0.875
1   5.0       7         1         1     0.750
2   8.0       5         1         0     0.600
3  10.0       4         0         1     0.600
4  12.0       3         1         1     0.400
5  15.0       1         0         1     0.400
"""
from __future__ import annotations

import time as _time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..data.checks import check_choice, check_conf_level, require_frame, table_and_text
from ..errors import FormulaError, SchemaError
from ..results import CLOSED_FORM, Convergence, Provenance, ResultDisplay, make_provenance
from ._messages import labels_of
from .risk_sets import make_grid
from .surv_formula import build_design

CURVE_COLUMNS = ["group", "time", "n_risk", "n_events", "n_censor", "survival", "std_error", "ci_lower",
                 "ci_upper", "cumulative_hazard", "std_error_log"]
CONF_TYPES = ("log", "log-log", "plain")


def confidence_band(surv: np.ndarray, se_log: np.ndarray, conf_level: float, conf_type: str = "log"):
    """Pointwise interval of a survival probability from the SE of :math:`\\log S` (R's ``survfit_confint``)."""
    z = stats.norm.ppf(0.5 + conf_level / 2)
    s = np.asarray(surv, float)
    se = np.asarray(se_log, float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "plain":
            w = z * se * s
            return np.maximum(s - w, 0.0), np.minimum(s + w, 1.0)
        if conf_type == "log":
            x = np.where(s == 0, np.nan, s)
            return np.exp(np.log(x) - z * se), np.minimum(np.exp(np.log(x) + z * se), 1.0)
        x = np.where((s == 0) | (s == 1), np.nan, s)
        w = z * se / np.log(x)
        return np.exp(-np.exp(np.log(-np.log(x)) - w)), np.exp(-np.exp(np.log(-np.log(x)) + w))


def product_limit(start: np.ndarray, stop: np.ndarray, event: np.ndarray) -> pd.DataFrame:
    """Kaplan–Meier estimate of one group at every distinct stop time (module docstring).

    Returns ``time, n_risk, n_events, n_censor, survival, std_error_log``.
    """
    strata = np.zeros(len(stop), np.int64)
    grid, idx = make_grid(start, stop, strata, strata, stop)
    n_risk = grid.range_sum(np.ones(len(stop)))
    d = np.bincount(idx, event.astype(float), grid.size)
    c = np.bincount(idx, 1.0 - event, grid.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - d / n_risk)
        green = np.cumsum(np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0))
    return pd.DataFrame({"time": grid.time, "n_risk": n_risk.round().astype(int), "n_events": d.astype(int),
                         "n_censor": c.astype(int), "survival": surv, "std_error_log": np.sqrt(green)})


@dataclass(frozen=True, repr=False)
class SurvivalCurveResult(ResultDisplay):
    """Kaplan–Meier curves (:func:`survival_curve`).

    ``table``: one row per group and distinct time, columns ``group, time, n_risk, n_events, n_censor,
    survival, std_error`` (of the survival probability, as ``summary(survfit)`` prints), ``ci_lower, ci_upper``
    (pointwise, ``conf_type`` at ``conf_level``), ``cumulative_hazard`` (:math:`-\\log\\hat S`) and
    ``std_error_log`` (Greenwood SE of :math:`\\log\\hat S`, R's ``std.err``). ``censoring`` marks for a
    figure are the rows with ``n_censor > 0``.
    """

    formula: str
    table: pd.DataFrame
    groups: tuple
    conf_type: str
    n_obs: int
    n_events: int
    conf_level: float
    convergence: Convergence
    provenance: Provenance

    def at_risk(self, times) -> pd.DataFrame:
        """Numbers at risk at the given times, per group (the table under a Kaplan–Meier figure).

        Parameters
        ----------
        times : sequence of float
            Times at which to count.

        Returns
        -------
        pandas.DataFrame
            ``group, time, n_risk``: rows still at risk just after each time... counted as R's
            ``summary(survfit, times=)``: those with stop >= time (and entered before it).

        Examples
        --------
        >>> import pandas as pd
        >>> d = pd.DataFrame({"weeks": [3, 5, 5, 8, 10], "relapse": [1, 1, 0, 1, 0]})
        >>> survival_curve(d, "Surv(weeks, relapse) ~ 1").at_risk([0, 5, 9])["n_risk"].tolist()
        [5, 4, 1]
        """
        out = []
        for g in self.groups:
            tab = self.table[self.table["group"] == g]
            t = tab["time"].to_numpy(float)
            nr = tab["n_risk"].to_numpy()
            for x in times:
                j = np.searchsorted(t, x, side="left")
                out.append((g, x, int(nr[j]) if j < len(t) else 0))
        return pd.DataFrame(out, columns=["group", "time", "n_risk"])

    def summary(self) -> str:
        """Median survival and events per group, then the table at the event times."""
        lines = [f"Kaplan-Meier: {self.formula}; {self.conf_level:.0%} {self.conf_type} intervals",
                 f"{self.n_obs} rows, {self.n_events} events"]
        for g in self.groups:
            tab = self.table[self.table["group"] == g]
            below = tab[tab["survival"] <= 0.5]
            med = below["time"].iloc[0] if len(below) else float("nan")
            lines.append(f"  {g}: n = {int(tab['n_risk'].iloc[0])}, events = {int(tab['n_events'].sum())}, "
                         f"median = {med:g}")
        shown = self.table[self.table["n_events"] > 0][["group", "time", "n_risk", "n_events", "survival",
                                                        "std_error", "ci_lower", "ci_upper"]]
        return "\n".join(lines) + "\n" + shown.to_string(index=False, float_format=lambda v: f"{v:.4f}")


def survival_curve(data: pd.DataFrame, formula: str, *, conf_level: float = 0.95,
                   conf_type: str = "log") -> SurvivalCurveResult:
    """Kaplan–Meier curves with confidence bands and numbers at risk, as R's ``survfit(Surv(...) ~ group)``.

    Estimator and intervals: module docstring (:mod:`allianceStats.survival.curves`).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per client (``Surv(time, event)``) or counting-process rows (``Surv(start, stop, event)``: delayed
        entry). Never modified.
    formula : str
        ``"Surv(time, event) ~ 1"`` or ``"Surv(time, event) ~ group"`` (one grouping column).
    conf_level : float
        Level of the pointwise intervals.
    conf_type : {"log", "log-log", "plain"}
        Interval type (R's ``conf.type``; ``"log"`` is R's default).

    Returns
    -------
    SurvivalCurveResult
        ``table`` with one row per group and distinct time.

    Raises
    ------
    SchemaError
        Missing columns, bad times or event coding (as :func:`fit_cox`).
    FormulaError
        More than one grouping column.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"weeks": [3, 5, 5, 8, 10, 12], "relapse": [1, 1, 0, 1, 0, 1],
    ...                   "arm": ["a", "b", "a", "b", "a", "b"]})
    >>> survival_curve(d, "Surv(weeks, relapse) ~ arm").groups
    ('a', 'b')
    """
    from .surv_data import prepare_surv_data
    from .surv_formula import parse_surv_formula

    started = _time.perf_counter()
    data, formula = table_and_text(data, formula, where="survival_curve")
    conf_level = check_conf_level(conf_level)
    check_choice("conf_type", conf_type, CONF_TYPES)
    if not isinstance(formula, str) or "~" not in formula:
        raise FormulaError(f"formula={formula!r}: expected 'Surv(time, event) ~ 1' or 'Surv(time, event) ~ group'")
    lhs, rhs = formula.split("~", 1)
    group = rhs.strip()
    if group in ("", "1"):
        group = None
    elif any(op in group for op in "+*:("):
        raise FormulaError(f"survival_curve takes one grouping column (Surv(...) ~ group); found {group!r}")
    spec = parse_surv_formula(f"{lhs} ~ strata({group})" if group else f"{lhs} ~ 1", require_terms=False)
    sd = prepare_surv_data(data, spec, where="survival_curve")
    parts = []
    labels = sd.strata_labels if group else ["all"]
    for code, label in enumerate(labels):
        m = sd.strata == code
        tab = product_limit(sd.start[m], sd.stop[m], sd.event[m].astype(float))
        tab.insert(0, "group", label)
        parts.append(tab)
    table = pd.concat(parts, ignore_index=True)
    lo, hi = confidence_band(table["survival"], table["std_error_log"], conf_level, conf_type)
    table["std_error"] = table["std_error_log"] * table["survival"]
    table["ci_lower"], table["ci_upper"] = lo, hi
    with np.errstate(divide="ignore"):
        table["cumulative_hazard"] = -np.log(table["survival"])
    table = table[CURVE_COLUMNS]
    prov = make_provenance(data[spec.columns], options={"formula": formula, "conf_level": conf_level,
                                                        "conf_type": conf_type},
                           function="survival_curve", started=started)
    return SurvivalCurveResult(formula=formula, table=table, groups=tuple(labels), conf_type=conf_type,
                               n_obs=len(data), n_events=int(sd.event.sum()), conf_level=conf_level,
                               convergence=CLOSED_FORM, provenance=prov)


# ---------------------------------------------------------------------------------------------------------------
# Curves from a fitted Cox model
# ---------------------------------------------------------------------------------------------------------------
def _hazard_pieces(fit, stratum: int):
    """R's ``agsurv`` for one stratum: distinct stop times, counts, hazard, variance and x-bar increments."""
    fd = fit.fit_data
    sd = fd.data
    m = sd.strata == stratum
    start, stop, event = sd.start[m], sd.stop[m], sd.event[m].astype(bool)
    X = sd.design.X[m] - fd.means
    r = np.exp(X @ fit.params["estimate"].to_numpy())
    zeros = np.zeros(len(stop), np.int64)
    grid, idx = make_grid(start, stop, zeros, zeros, stop)
    K = grid.size
    S0 = grid.range_sum(r)
    S1 = grid.range_sum(X * r[:, None])
    n_risk = grid.range_sum(np.ones(len(stop)))
    d = np.bincount(idx, event.astype(float), K)
    c = np.bincount(idx, (~event).astype(float), K)
    D0 = np.bincount(idx[event], r[event], K)
    D1 = np.column_stack([np.bincount(idx[event], X[event, j] * r[event], K) for j in range(X.shape[1])])
    di = d.astype(int)
    if fit.ties == "efron":
        pk = np.repeat(np.arange(K), di)
        first = np.concatenate([[0], np.cumsum(di)[:-1]])
        f = (np.arange(len(pk)) - np.repeat(first, di)) / np.maximum(di[pk], 1)
    else:
        pk = np.repeat(np.arange(K), di)
        f = np.zeros(len(pk))
    den = S0[pk] - f * D0[pk]
    haz = np.bincount(pk, 1.0 / den, K)
    varhaz = np.bincount(pk, 1.0 / den**2, K)
    num = (S1[pk] - f[:, None] * D1[pk]) / (den**2)[:, None]
    xbar = np.column_stack([np.bincount(pk, num[:, j], K) for j in range(X.shape[1])])
    return {"time": grid.time, "n_risk": n_risk.round().astype(int), "n_events": d.astype(int),
            "n_censor": c.astype(int), "hazard": haz, "varhaz": varhaz, "xbar": xbar}


def baseline_hazard(fit, centered: bool = True) -> pd.DataFrame:
    """Cumulative baseline hazard of a fitted Cox model at each distinct stop time (R's ``basehaz``).

    Parameters
    ----------
    fit : CoxResult
        A fitted model.
    centered : bool
        At the covariate means (R's default) or at zero covariates.

    Returns
    -------
    pandas.DataFrame
        ``time, cumulative_hazard`` (+ ``stratum`` first with strata).

    Examples
    --------
    >>> import pandas as pd
    >>> from allianceStats.survival.cox import fit_cox
    >>> d = pd.DataFrame({"time": [1, 2, 3, 4], "event": [1, 1, 0, 1], "x": [0.5, 0., 1., 0.]})
    >>> baseline_hazard(fit_cox(d, "Surv(time, event) ~ x"))["time"].tolist()
    [1.0, 2.0, 3.0, 4.0]
    """
    fd = fit.fit_data
    beta = fit.params["estimate"].to_numpy()
    scale = 1.0 if centered else float(np.exp(-fd.means @ beta))
    parts = []
    n_strata = max(len(fd.data.strata_labels), 1)
    for g in range(n_strata):
        pieces = _hazard_pieces(fit, g)
        tab = pd.DataFrame({"time": pieces["time"], "cumulative_hazard": np.cumsum(pieces["hazard"]) * scale})
        if fd.data.strata_labels:
            tab.insert(0, "stratum", fd.data.strata_labels[g])
        parts.append(tab)
    return pd.concat(parts, ignore_index=True)


def _stratum_of(fit, newdata: pd.DataFrame) -> np.ndarray:
    fd = fit.fit_data
    spec = fd.spec
    if not spec.strata:
        return np.zeros(len(newdata), int)
    missing = [s for s in spec.strata if s not in newdata.columns]
    if missing:
        raise SchemaError([f"column {c!r} (a stratum of the model) not found in newdata" for c in missing],
                          source="predict_survival")
    keys = newdata[list(spec.strata)].astype(str).agg(", ".join, axis=1) if len(spec.strata) > 1 \
        else newdata[spec.strata[0]]
    labels = fd.data.strata_labels
    codes = np.array([labels.index(k) if k in labels else -1 for k in keys])
    if (codes < 0).any():
        raise SchemaError([f"stratum value(s) {labels_of(pd.unique(keys[codes < 0]))} of newdata were not in "
                           f"the fitted data (strata {labels_of(labels)})"], source="predict_survival")
    return codes


def predict_survival(fit, newdata: pd.DataFrame, *, client: str | None = None,
                     conf_level: float = 0.95) -> pd.DataFrame:
    """Predicted survival for new covariate values, or for covariate paths, from a fitted Cox model.

    Method: module docstring (:mod:`allianceStats.survival.curves`), as R's ``survfit(fit, newdata)`` and, for
    paths, ``survfit(fit, newdata, id = client)``.

    Parameters
    ----------
    fit : CoxResult
        A fitted model.
    newdata : pandas.DataFrame
        Without ``client``: one row per curve with every covariate (and stratum) of the model. With
        ``client``: counting-process rows ``(start, stop]`` (columns named as in the model's ``Surv()``) giving
        each client's covariate path; a path's time runs on without gaps from its first row.
    client : str, optional
        Column naming the paths.
    conf_level : float
        Level of the "log" intervals (``CoxResult.predict_survival`` passes the fit's level by default).

    Returns
    -------
    pandas.DataFrame
        ``curve`` (row label of ``newdata`` or the client), ``time, n_risk, n_events, n_censor,
        cumulative_hazard, survival, std_error`` (of the survival probability), ``ci_lower, ci_upper`` and
        ``std_error_log`` (of the cumulative hazard, R's ``std.err``).

    Raises
    ------
    SchemaError
        A covariate or stratum column missing from ``newdata``, a factor level or stratum not seen in the fit.

    Examples
    --------
    >>> import pandas as pd
    >>> from allianceStats.survival.cox import fit_cox
    >>> d = pd.DataFrame({"time": [1, 2, 3, 4, 5], "event": [1, 1, 0, 1, 1], "x": [0.5, 0., 1., 0., 1.]})
    >>> fit = fit_cox(d, "Surv(time, event) ~ x")
    >>> curves = predict_survival(fit, pd.DataFrame({"x": [0.0, 1.0]}, index=["low", "high"]))
    >>> curves.groupby("curve", sort=False)["survival"].last().round(3).to_dict()
    {'low': 0.001, 'high': 0.276}
    """
    conf_level = check_conf_level(conf_level)
    require_frame(newdata, where="predict_survival", what="newdata")
    fd = fit.fit_data
    spec = fd.spec
    missing = [c for c in spec.covariates if c not in newdata.columns]
    if missing:
        raise SchemaError([f"column {c!r} (a covariate of the model) not found in newdata" for c in missing],
                          source="predict_survival")
    X2 = build_design(newdata, spec, fd.data.design.levels).X - fd.means
    if np.isnan(X2).any():
        bad = np.isnan(X2).any(axis=1)
        raise SchemaError([f"missing covariate value(s) in newdata at row(s) {labels_of(newdata.index[bad])}"],
                          source="predict_survival")
    beta = fit.params["estimate"].to_numpy()
    V = fit.vcov.to_numpy()
    risk2 = np.exp(X2 @ beta)
    strata2 = _stratum_of(fit, newdata)
    cache: dict[int, dict] = {}

    def pieces(g):
        if g not in cache:
            cache[g] = _hazard_pieces(fit, g)
        return cache[g]

    out = []
    if client is None:
        for i in range(len(newdata)):
            pc = pieces(strata2[i])
            dt = np.cumsum(pc["hazard"][:, None] * X2[i] - pc["xbar"], axis=0)
            var = (np.cumsum(pc["varhaz"]) + np.einsum("ij,jk,ik->i", dt, V, dt)) * risk2[i] ** 2
            out.append(_curve_frame(newdata.index[i], pc["time"], pc, pc["hazard"] * risk2[i], var,
                                    slice(None)))
    else:
        if client not in newdata.columns:
            raise SchemaError([f"column {client!r} not found in newdata"], source="predict_survival")
        if spec.start is None or spec.start not in newdata.columns or spec.stop not in newdata.columns:
            raise SchemaError([f"a covariate path needs the columns {spec.start!r} and {spec.stop!r} of the model's "
                               f"Surv(start, stop, event) in newdata"], source="predict_survival")
        for cid, rows in newdata.groupby(client, sort=False).indices.items():
            t0 = newdata[spec.start].to_numpy(float)[rows]
            t1 = newdata[spec.stop].to_numpy(float)[rows]
            times, hz, vh, dts = [], [], [], []
            offset = 0.0
            counts = {"n_risk": [], "n_events": [], "n_censor": []}
            for j, row in enumerate(rows):
                if j > 0:
                    offset += t1[j - 1] - t0[j]
                pc = pieces(strata2[row])
                sel = (pc["time"] > t0[j]) & (pc["time"] <= t1[j])
                times.append(offset + pc["time"][sel])
                hz.append(pc["hazard"][sel] * risk2[row])
                vh.append(pc["varhaz"][sel] * risk2[row] ** 2)
                dts.append((pc["hazard"][sel][:, None] * X2[row] - pc["xbar"][sel]) * risk2[row])
                for k in counts:
                    counts[k].append(pc[k][sel])
            dt = np.cumsum(np.vstack(dts), axis=0)
            var = np.cumsum(np.concatenate(vh)) + np.einsum("ij,jk,ik->i", dt, V, dt)
            pc = {k: np.concatenate(v) for k, v in counts.items()}
            out.append(_curve_frame(cid, np.concatenate(times), pc, np.concatenate(hz), var, slice(None)))
    table = pd.concat(out, ignore_index=True)
    lo, hi = confidence_band(table["survival"], table["std_error_log"], conf_level, "log")
    table["ci_lower"], table["ci_upper"] = lo, hi
    return table[["curve", "time", "n_risk", "n_events", "n_censor", "cumulative_hazard", "survival",
                  "std_error", "ci_lower", "ci_upper", "std_error_log"]]


def _curve_frame(label, times, pc, hazard, var, sel) -> pd.DataFrame:
    cum = np.cumsum(hazard)
    surv = np.exp(-cum)
    se = np.sqrt(var)
    return pd.DataFrame({"curve": label, "time": times, "n_risk": pc["n_risk"][sel], "n_events": pc["n_events"][sel],
                         "n_censor": pc["n_censor"][sel], "cumulative_hazard": cum, "survival": surv,
                         "std_error": se * surv, "std_error_log": se})
