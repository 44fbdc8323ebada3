"""Level, variability and repaired ruptures of the alliance, side by side, as predictors of outcome and retention.

Question Q4 of docs/design.md: do rupture repair and alliance variability carry information beyond the mean level?
One call fits two client-level models with the same three alliance predictors, each computed per client by
:func:`~allianceStats.dynamics.variability`:

``level``        the client's mean alliance;
``variability``  its RMSSD (default; von Neumann et al., 1941; Jahng et al., 2008) or within-client SD;
``repaired``     the number of repaired ruptures (:func:`~allianceStats.dynamics.detect_ruptures`; Stiles et al.,
                 2004), with ``unrepaired`` (ruptures not repaired) as a control, so that ``repaired`` compares
                 a repaired with an unrepaired rupture's client rather than with a client without ruptures.

Outcome model (ordinary least squares, one row per client)
    :math:`y_i = \\gamma_0 + \\gamma_1 \\text{level}_i + \\gamma_2 \\text{variability}_i + \\gamma_3
    \\text{repaired}_i + \\gamma_4 \\text{unrepaired}_i + \\gamma_5 \\text{sessions}_i [+ \\gamma_6 y_{i,\\text{first}}]
    + \\varepsilon_i`, where :math:`y_i` is the **last observed** outcome (end of treatment, or of observation
    for a dropout; ``outcome_at="last"``) or the client's mean outcome (``"mean"``); ``sessions`` (number of
    observed alliance scores) controls for the exposure: longer treatments have more chances to rupture;
    ``baseline=True`` adds the first observed outcome (the ANCOVA form of change). Classical OLS standard
    errors, *t* tests with *n - p* df.

Retention model (Cox, a landmark analysis)
    The same predictors computed over sessions 1..\\ *L* only (``landmark``, default 6), and the time to
    dropout of the clients still in treatment after session *L* (Anderson, Cain & Gelber, 1983). Using
    ruptures or variability over the whole treatment to predict dropout would let the outcome define the
    predictor (a client who leaves at session 3 cannot have a repaired rupture at session 8). Within a short
    window the client's own SD rarely flags a rupture (with *k* = 2 a single dip needs 6 scores to reach 2 SD),
    so ``rupture_options={"sd": "pooled"}`` (and often ``"k": 1``) is the practical choice here.

``standardize=True`` (default) divides ``level``, ``variability``, ``repaired`` and ``unrepaired`` by their SD
across the clients of each model, so that their coefficients are per SD and comparable side by side; the
controls stay in raw units. Clients that :func:`detect_ruptures` does not screen (fewer than 3 scores, zero SD)
or without an RMSSD are left out (counted in ``n_excluded``).

This is an observational comparison: the three predictors are correlated and measured with error, and
neither model is causal. Report the definitions (``options``) with the numbers.

References
----------
Stiles, W. B., et al. (2004). *Journal of Counseling Psychology, 51*(1), 81-92.
Jahng, S., Wood, P. K., & Trull, T. J. (2008). *Psychological Methods, 13*(4), 354-375.
Anderson, J. R., Cain, K. C., & Gelber, R. D. (1983). *Journal of Clinical Oncology, 1*(11), 710-719.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._deprecation import renamed_arguments
from ..data.checks import check_bool, check_choice, check_conf_level, check_positive_int
from ..errors import IdentificationError
from ..results import CLOSED_FORM, Convergence, Provenance, ResultDisplay
from ._table import provenance, session_table
from .indices import variability
from .survival import DropoutResult, client_survival, fit_client_table

PREDICTORS = ["level", "variability", "repaired", "unrepaired"]
PARAM_COLUMNS = ["term", "estimate", "std_error", "statistic", "df", "p_value", "ci_lower", "ci_upper"]


@dataclass(frozen=True, repr=False)
class LevelVariabilityRepairResult(ResultDisplay):
    """Result of :func:`fit_level_variability_repair`.

    ``outcome_params``: OLS table ``term, estimate, std_error, statistic, df, p_value, ci_lower, ci_upper``;
    ``outcome_fit``: ``n, r2, adj_r2, df_resid``; ``retention``: the landmark Cox :class:`DropoutResult` (or
    None with ``landmark=None``); ``clients``: the per-client predictors of the outcome model in raw units
    (``client, level, variability, repaired, unrepaired, sessions, outcome_first, outcome_y``, the last being the
    modelled outcome);
    ``n_excluded``: clients left out of the outcome model.

    The result protocol (:class:`allianceStats.results.Result`): ``n_obs`` is the number of clients in the
    outcome model; ``convergence`` is the Cox fit's (the OLS outcome model is closed form; without a retention
    model it is :data:`~allianceStats.results.CLOSED_FORM`); ``conf_level`` is the level of every interval.
    """

    outcome_params: pd.DataFrame
    outcome_fit: dict[str, float]
    retention: DropoutResult | None
    clients: pd.DataFrame
    n_excluded: int
    conf_level: float
    options: dict[str, Any]
    provenance: Provenance
    n_obs: int = 0
    convergence: Convergence = CLOSED_FORM

    def summary(self) -> str:
        """Both models as text, with the definitions used."""
        o = self.options
        lines = [f"Alliance level vs variability ({o['variability']}) vs repaired ruptures "
                 f"({'per SD' if o['standardize'] else 'raw units'})",
                 f"Outcome model: {o['outcome_at']} observed {o['outcome']!r} on the three predictors "
                 f"(+ unrepaired ruptures, sessions{', first outcome' if o['baseline'] else ''}); "
                 f"n = {self.outcome_fit['n']}, R2 = {self.outcome_fit['r2']:.3f}"
                 + (f", {self.n_excluded} clients left out" if self.n_excluded else ""),
                 self.outcome_params.to_string(index=False, float_format=lambda v: f"{v:.4f}")]
        if self.retention is not None:
            lines += [f"Retention model (landmark after session {o['landmark']}):", self.retention.summary()]
        return "\n".join(lines)


def _client_predictors(data, alliance, client, session, sessions_max, var_index, rupture_options):
    d = data if sessions_max is None else data[data[session] <= sessions_max]
    # pac is not used here; a fixed cut-off avoids the sample-quantile default failing on flat data
    v = variability(d, alliance, client=client, session=session, pac_cutoff=1.0, rupture_options=rupture_options)
    out = pd.DataFrame({"client": v["client"], "level": v["mean"], "variability": v[var_index],
                        "repaired": v["n_repaired"], "unrepaired": v["n_ruptures"] - v["n_repaired"],
                        "sessions": v["n_scores"].astype(float)})
    return out


def _ols(y: np.ndarray, X: pd.DataFrame, conf_level: float):
    n, p = X.shape
    if n <= p:
        raise IdentificationError(f"{n} clients for {p} coefficients in the outcome model: too few to fit")
    if np.linalg.matrix_rank(X.to_numpy()) < p:
        raise IdentificationError(f"the outcome-model predictors {list(X.columns)} are linearly dependent in "
                                  f"these data (e.g. no client has a repaired rupture); drop one or change the "
                                  f"rupture definition")
    import statsmodels.api as sm

    res = sm.OLS(y, X).fit()
    q = stats.t.ppf(0.5 + conf_level / 2, res.df_resid)
    ci = np.column_stack([res.params - q * res.bse, res.params + q * res.bse])
    tab = pd.DataFrame({"term": list(X.columns), "estimate": res.params.to_numpy(), "std_error": res.bse.to_numpy(),
                        "statistic": res.tvalues.to_numpy(), "df": float(res.df_resid),
                        "p_value": res.pvalues.to_numpy(), "ci_lower": ci[:, 0], "ci_upper": ci[:, 1]},
                       columns=PARAM_COLUMNS)
    return tab, {"n": int(n), "r2": float(res.rsquared), "adj_r2": float(res.rsquared_adj),
                 "df_resid": float(res.df_resid)}


def _zscore(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    out = df.copy()
    for c in cols:
        sd = out[c].std(ddof=1)
        if not sd > 0:
            raise IdentificationError(f"predictor {c!r} does not vary across the {len(out)} clients analysed "
                                      f"(SD {float(sd):.3g}); it cannot be estimated. For 'repaired' / "
                                      f"'unrepaired': a less strict rupture definition (rupture_options="
                                      f"{{'k': 1, 'sd': 'pooled'}}) or a later landmark gives more events")
        out[c] = (out[c] - out[c].mean()) / sd
    return out


@renamed_arguments(time="session")
def fit_level_variability_repair(data: pd.DataFrame, *, alliance: str = "alliance", outcome: str = "outcome",
                                 client: str = "client", session: str = "session", event: str | None = "dropout",
                                 variability_index: str = "rmssd", outcome_at: str = "last",
                                 baseline: bool = True, landmark: int | None = 6, standardize: bool = True,
                                 rupture_options: Mapping[str, Any] | None = None,
                                 conf_level: float = 0.95) -> LevelVariabilityRepairResult:
    """Alliance level, variability and repaired ruptures side by side, predicting outcome and retention (Q4).

    Outcome: OLS of the last observed (or mean) outcome on level, variability (RMSSD or SD), repaired and
    unrepaired ruptures, number of sessions and (``baseline=True``) the first outcome. Retention: Cox model of
    dropout after session ``landmark`` on the same predictors computed over sessions 1..``landmark``
    (``landmark=None`` or ``event=None`` skips it). Definitions and caveats: module docstring
    (:mod:`allianceStats.dynamics.comparison`); ruptures: Stiles et al. (2004); RMSSD: Jahng et al. (2008).
    Formerly ``level_variability_repair`` (that name warns until 0.3.0).

    Parameters
    ----------
    data : pandas.DataFrame
        Long session table (not modified).
    alliance, outcome : str
        The alliance score and the outcome.
    client, session : str
        Client-id and session-number columns (``time=`` is the old name of ``session=``).
    event : str or None
        Dropout column (1 on a dropout's last observed row); ``None`` skips the retention model.
    variability_index : {"rmssd", "sd"}
        The variability predictor.
    outcome_at : {"last", "mean"}
        The modelled outcome: the last observed value or the client's mean.
    baseline : bool
        Add the first observed outcome to the outcome model.
    landmark : int or None
        Session after which retention is modelled (at least 3); ``None`` skips the retention model.
    standardize : bool
        Per-SD coefficients for the four alliance predictors.
    rupture_options : mapping, optional
        Keyword arguments for :func:`~allianceStats.dynamics.detect_ruptures`.
    conf_level : float
        Level of every interval (default 0.95).

    Returns
    -------
    LevelVariabilityRepairResult
        ``outcome_params``, ``outcome_fit``, ``retention`` (a :class:`DropoutResult` or None), ``clients``.

    Raises
    ------
    SchemaError
        A column is missing or not numeric, a session number or client id is missing, a pair repeats.
    OptionError
        An option outside its choices or range.
    IdentificationError
        Too few clients, or a predictor that does not vary (e.g. no repaired rupture).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(7)
    >>> rows = []
    >>> for i in range(80):
    ...     a, last = rng.normal(4, .5), int(rng.integers(4, 13))
    ...     x = a + rng.normal(0, .4, last)
    ...     y = 40 + 8 * a + rng.normal(0, 5, last).cumsum() / 3
    ...     rows += [(f"c{i}", s + 1, x[s], y[s], int(s + 1 == last < 12)) for s in range(last)]
    >>> df = pd.DataFrame(rows, columns=["client", "session", "alliance", "outcome", "dropout"])
    >>> res = fit_level_variability_repair(df, rupture_options={"k": 1.5})
    >>> res.outcome_params["term"].tolist()
    ['intercept', 'level', 'variability', 'repaired', 'unrepaired', 'sessions', 'outcome_first']
    >>> res.retention.params["term"].tolist()
    ['level', 'variability', 'repaired', 'unrepaired']
    """
    started = time.perf_counter()
    where = "fit_level_variability_repair"
    check_choice("variability_index", variability_index, ("rmssd", "sd"))
    check_choice("outcome_at", outcome_at, ("last", "mean"))
    conf_level = check_conf_level(conf_level)
    baseline = check_bool("baseline", baseline)
    standardize = check_bool("standardize", standardize)
    if landmark is not None:
        landmark = check_positive_int("landmark", landmark, minimum=3)  # ruptures need 3 scores
    df = session_table(data, [alliance, outcome], client=client, session=session, where=where)

    # outcome model
    pred = _client_predictors(df, alliance, client, session, None, variability_index, rupture_options)
    ys = df[df[outcome].notna()].groupby(client, sort=True)[outcome]
    y = (ys.last() if outcome_at == "last" else ys.mean()).rename("outcome_y")
    first = ys.first().rename("outcome_first")
    tab = pred.merge(y, left_on="client", right_index=True, how="left").merge(
        first, left_on="client", right_index=True, how="left")
    cols = [*PREDICTORS, "sessions"] + (["outcome_first"] if baseline else [])
    complete = tab[["outcome_y", *cols]].notna().all(axis=1)
    used = tab[complete].reset_index(drop=True)
    X = _zscore(used, PREDICTORS)[cols] if standardize else used[cols]
    X.insert(0, "intercept", 1.0)
    out_params, out_fit = _ols(used["outcome_y"].to_numpy(float), X, conf_level)

    retention = None
    if landmark is not None and event is not None:
        surv = client_survival(data, (), client=client, session=session, event=event, where=where)
        early = _client_predictors(df, alliance, client, session, landmark, variability_index, rupture_options)
        cl = surv.merge(early[["client", *PREDICTORS]], on="client", how="inner").dropna().reset_index(drop=True)
        cl = cl[cl["time"] > landmark].reset_index(drop=True)
        if standardize and len(cl) > 1:
            cl = _zscore(cl, PREDICTORS)
        firsts = data.groupby(client)[session].min().reindex(cl["client"]).to_numpy()
        ropts = {"landmark": landmark, "predictors": PREDICTORS, "standardize": standardize}
        retention = fit_client_table(cl, firsts, PREDICTORS, method="cox", ties="efron", baseline="linear",
                                     landmark_after=landmark, conf_level=conf_level,
                                     early_sessions=tuple(range(1, landmark + 1)),
                                     provenance=provenance(data[[client, session, alliance, event]], ropts,
                                                           function=where, started=started),
                                     stacklevel=4)  # -> this function -> its renamed-arguments wrapper -> caller
    options = {"alliance": alliance, "outcome": outcome, "client": client, "session": session, "event": event,
               "variability": variability_index, "outcome_at": outcome_at, "baseline": baseline,
               "landmark": landmark, "standardize": standardize, "rupture_options": dict(rupture_options or {}),
               "conf_level": conf_level}
    keep = [c for c in ["client", *PREDICTORS, "sessions", "outcome_first", "outcome_y"] if c in used.columns]
    convergence = CLOSED_FORM if retention is None else Convergence(
        converged=retention.convergence.converged, iterations=retention.convergence.iterations,
        optimizer=f"OLS (closed form); retention: {retention.convergence.optimizer}",
        message=retention.convergence.message, warnings=retention.convergence.warnings)
    return LevelVariabilityRepairResult(
        outcome_params=out_params, outcome_fit=out_fit, retention=retention, clients=used[keep],
        n_excluded=int((~complete).sum()), conf_level=conf_level, options=options,
        provenance=provenance(data[list(dict.fromkeys([client, session, alliance, outcome]))], options,
                              function=where, started=started),
        n_obs=int(out_fit["n"]), convergence=convergence)
