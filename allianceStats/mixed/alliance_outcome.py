r"""The alliance–outcome model: does the alliance at one session predict the outcome at the next?

Model (Falkenström, Finkel, Sandell, Rubel & Holmqvist 2017; Zilcha-Mano 2017)
-------------------------------------------------------------------------------
For session :math:`t` of client :math:`i` of therapist :math:`j`, with the alliance :math:`a_{tij}` split by
:func:`allianceStats.decompose` into the within-client deviation :math:`a^W_{tij} = a_{tij} - \bar a_{ij}`, the
between-client part :math:`a^B_{ij} = \bar a_{ij} - \bar{\bar a}_j` and the therapist mean :math:`a^T_j`
(unweighted mean of the therapist's client means; Baldwin, Wampold & Imel 2007):

.. math::
    y_{tij} = \gamma_0 + \gamma_W a^W_{t-1,ij} + \gamma_B a^B_{ij} + \gamma_T a^T_j + \gamma_s (t-1)
              + \rho\, y_{t-1,ij} + u_{0ij} + u_{1ij}(t-1) + v_{0j} + e_{tij}

``alliance_within_lag1`` (:math:`a^W_{t-1}`, the *state-like* alliance, measured before the outcome it
predicts), ``alliance_between`` (*trait-like*), ``alliance_therapist``, ``session0`` (:math:`t-1`) and, with
``prior_outcome=True``, ``outcome_lag1`` (:math:`y_{t-1}`), with a random intercept (and, with
``random_slope=True``, a random slope of time) per client and a random intercept per therapist. Lags are
by session number: a lag is missing at a client's first session and after a missed session; rows with any
missing model variable are left out (the same rows for both estimators).

Beside it: the fixed-effects within estimator
---------------------------------------------
``PanelOLS(entity_effects=True)`` of linearmodels on the same rows (outcome on the lagged within alliance,
time and the lagged outcome; client dummies absorb every between-client term), with standard errors
clustered by client. It makes no assumption about the client effects, but with the lagged outcome as a
predictor it has Nickell's (1981) bias: for :math:`T` sessions per client,

.. math:: \operatorname{plim}(\hat\rho_{FE} - \rho) \approx -\frac{1 + \rho}{T - 1},

which is large for short treatments (:math:`T = 6`, :math:`\rho = 0.3`: about −0.26) and spills over to
predictors correlated with :math:`y_{t-1}`. The random-effects (mixed) estimate tends to err the other way,
because :math:`y_{t-1}` is correlated with the client's random intercept, which the model assumes independent
of the predictors (Hsiao 2014, ch. 4). A consistent estimate needs a dynamic panel model (ML-SEM:
:func:`allianceStats.fit_dpm`; Allison, Williams & Moral-Benito 2017), which is what Falkenström et al.
recommend for this question.

References: Falkenström, F., Finkel, S., Sandell, R., Rubel, J. A., & Holmqvist, R. (2017). *J. Consult. Clin.
Psychol.* 85(6), 537–549. Zilcha-Mano, S. (2017). *Am. Psychol.* 72(4), 311–325. Nickell, S. (1981).
*Econometrica* 49(6), 1417–1426. Baldwin, S. A., Wampold, B. E., & Imel, Z. E. (2007). *J. Consult. Clin.
Psychol.* 75(6), 842–852. Allison, P. D., Williams, R., & Moral-Benito, E. (2017). *Socius* 3.
Hsiao, C. (2014). *Analysis of Panel Data* (3rd ed.). Cambridge University Press.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .._deprecation import renamed_arguments, renamed_attribute
from ..data.checks import check_bool, check_conf_level, require_columns, require_numeric
from ..errors import IdentificationError, SchemaError
from ..results import Convergence, Provenance, ResultDisplay, make_provenance
from .result import MixedResult

COMPARISON_COLUMNS = ["term", "estimator", "estimate", "std_error", "statistic", "p_value", "ci_lower",
                      "ci_upper"]


@dataclass(frozen=True, repr=False)
class AllianceOutcomeResult(ResultDisplay):
    """The alliance–outcome model fitted two ways (see :mod:`allianceStats.mixed.alliance_outcome`).

    Attributes
    ----------
    mixed : MixedResult
        The mixed model.
    fixed_effects : linearmodels PanelEffectsResults
        The within estimator (client effects, standard errors clustered by client).
    comparison : pandas.DataFrame
        Both estimators side by side: columns ``term, estimator, estimate, std_error, statistic, p_value,
        ci_lower, ci_upper`` with ``estimator`` ``"mixed"`` or ``"fixed_effects"``; intervals at ``conf_level``.
    data : pandas.DataFrame
        The analysis rows with the derived columns.
    formula : str
        The mixed model's formula.
    nickell_bias : float or None
        :math:`-(1+\\hat\\rho_{FE})/(T-1)` with ``sessions_per_client`` = T (None without the prior outcome).
    sessions_per_client : float
        Mean analysed sessions per client.
    conf_level : float
        Level of every interval.
    n_obs : int
        Sessions analysed (the same rows for both estimators).
    notes : tuple of str
        What the user should know.
    convergence, provenance
        The mixed model's convergence; provenance of this call (``function="fit_alliance_outcome"``).
    """

    mixed: MixedResult
    fixed_effects: Any = field(repr=False)
    comparison: pd.DataFrame
    data: pd.DataFrame = field(repr=False)
    formula: str
    nickell_bias: float | None
    sessions_per_client: float
    conf_level: float
    n_obs: int
    notes: tuple[str, ...]
    convergence: Convergence
    provenance: Provenance

    level = renamed_attribute("level", "conf_level")

    def summary(self) -> str:
        """The two estimators side by side, then the notes."""
        wide = self.comparison.pivot(index="term", columns="estimator", values=["estimate", "std_error"])
        wide = wide.reindex(columns=[(v, e) for e in ("mixed", "fixed_effects") for v in ("estimate", "std_error")])
        wide.columns = [f"{v} ({e})" for v, e in wide.columns]
        wide = wide.reindex(self.comparison.term.drop_duplicates())
        lines = [f"Alliance-outcome model: {self.formula}",
                 f"{self.n_obs} sessions of {self.data[self._client].nunique()} clients "
                 f"(mean {self.sessions_per_client:.2f} analysed sessions per client)", "",
                 wide.to_string(float_format=lambda v: f"{v:.4f}", na_rep="-"), ""]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    @property
    def _client(self) -> str:
        return self.provenance.options["client"]

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.summary()


def _lagged(data, outcome, alliance, client, therapist, session):
    """Derived columns: decompose() parts of the alliance plus the outcome at session t-1 (by number)."""
    from ..decomposition import decompose

    out = decompose(data, alliance, client=client, therapist=therapist, session=session)
    prev = data[[client, session, outcome]].copy()
    prev[session] = prev[session] + 1
    lagged = data[[client, session]].merge(prev, on=[client, session], how="left")[outcome].to_numpy()
    out[f"{outcome}_lag1"] = lagged
    return out


def _check_table(data, outcome, alliance, client, therapist, session) -> None:
    where = "fit_alliance_outcome"
    try:
        require_columns(data, [outcome, alliance, client, therapist, session], where=where)
    except SchemaError as err:
        hint = "; give therapist=None for a two-level model (no therapists)"
        raise SchemaError([p + hint if therapist is not None and p.startswith(f"column {therapist!r} not found")
                           else p for p in err.problems], source=where) from None
    require_numeric(data, [outcome, alliance, session], where=where)


@renamed_arguments(time="session")
def fit_alliance_outcome(data: pd.DataFrame, *, outcome: str = "outcome", alliance: str = "alliance",
                         client: str = "client", therapist: str | None = "therapist", session: str = "session",
                         prior_outcome: bool = True, random_slope: bool = True, reml: bool = True,
                         conf_level: float = 0.95) -> AllianceOutcomeResult:
    """Outcome at session t on the within-client alliance at t−1, the client and therapist alliance means,
    time and the prior outcome — by a mixed model and, beside it, by the fixed-effects within estimator.

    The model, the derived columns, the fixed-effects comparison and the Nickell (1981) bias are defined in
    the module docstring (Falkenström et al. 2017; Zilcha-Mano 2017).

    Parameters
    ----------
    data : pandas.DataFrame
        Long session table (one row per client and session); never modified.
    outcome, alliance : str
        Columns of the outcome and the alliance (numeric).
    client, therapist, session : str
        Column roles. ``therapist=None`` drops the therapist mean and the therapist random intercept (two
        levels; ``alliance_between`` is then the raw client mean). Lags go by session number.
    prior_outcome : bool, default True
        Add the outcome at session t−1 as a predictor.
    random_slope : bool, default True
        Random slope of time (``session0``) per client, correlated with the client intercept.
    reml : bool, default True
        REML or ML for the mixed model.
    conf_level : float, default 0.95
        Level of the intervals of both estimators (Wald t with Satterthwaite df for the mixed model; Wald
        with clustered standard errors for the within estimator).

    Returns
    -------
    AllianceOutcomeResult
        Both fits, the side-by-side table ``comparison``, the Nickell bias and the result protocol.

    Raises
    ------
    SchemaError
        A named column is missing or not numeric.
    OptionError
        A boolean option or ``conf_level`` has an invalid value.
    IdentificationError
        No client has two consecutive sessions with the alliance and the outcome observed.

    Notes
    -----
    The mixed part is :func:`allianceStats.mixed.fit_mlm` on the formula in ``result.formula``; it matches
    lme4 1.1-31 on the same rows, and the fixed-effects estimates match R's ``lm(y ~ ... + factor(client))``
    (``tests/mixed/fixtures/extras_fixtures.R``, 1e-5 relative). Renamed in 0.2.0: ``time=`` → ``session=``,
    ``result.level`` → ``result.conf_level`` (the old names warn until 0.3.0).

    Examples
    --------
    >>> from allianceStats.data.example import load_example
    >>> from allianceStats.mixed import fit_alliance_outcome
    >>> res = fit_alliance_outcome(load_example(), random_slope=False)
    >>> res.formula
    'outcome ~ alliance_within_lag1 + alliance_between + alliance_therapist + session0 + outcome_lag1 +
     (1 | client) + (1 | therapist)'
    >>> sorted(set(res.comparison.estimator)), res.converged, res.n_obs == len(res.data)
    (['fixed_effects', 'mixed'], True, True)
    >>> bool(res.nickell_bias < 0)
    True
    """
    from linearmodels import PanelOLS

    from .engine import fit_mlm

    started = time.perf_counter()
    _check_table(data, outcome, alliance, client, therapist, session)
    prior_outcome = check_bool("prior_outcome", prior_outcome)
    random_slope = check_bool("random_slope", random_slope)
    reml = check_bool("reml", reml)
    conf_level = check_conf_level(conf_level)

    derived = _lagged(data, outcome, alliance, client, therapist, session)
    within_lag, between = f"{alliance}_within_lag1", f"{alliance}_between"
    time0, y_lag = f"{session}0", f"{outcome}_lag1"
    fixed = [within_lag, between] + ([f"{alliance}_therapist"] if therapist else []) + [time0]
    fixed += [y_lag] if prior_outcome else []
    random = f"(1 + {time0} | {client})" if random_slope else f"(1 | {client})"
    random += f" + (1 | {therapist})" if therapist else ""
    formula = f"{outcome} ~ {' + '.join(fixed)} + {random}"

    used = derived.dropna(subset=[outcome, *fixed]).reset_index(drop=True)
    if used.empty:
        raise IdentificationError(
            f"fit_alliance_outcome(): no row has the outcome, the alliance at the previous session"
            f"{' and the previous outcome' if prior_outcome else ''} all observed. Each client needs at least "
            f"two consecutive sessions ({session} t-1 and t) with {alliance!r} and {outcome!r} recorded.")
    mixed = fit_mlm(used, formula, reml=reml, conf_level=conf_level)

    fe_terms = [within_lag, time0] + ([y_lag] if prior_outcome else [])
    panel = used.set_index([client, session])
    fe = PanelOLS(panel[outcome], panel[fe_terms], entity_effects=True).fit(cov_type="clustered",
                                                                            cluster_entity=True)
    ci = fe.conf_int(level=conf_level)
    mixed_rows = mixed.params[["term", "estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper"]]
    fe_rows = pd.DataFrame({"term": fe_terms, "estimate": fe.params[fe_terms].to_numpy(),
                            "std_error": fe.std_errors[fe_terms].to_numpy(),
                            "statistic": fe.tstats[fe_terms].to_numpy(), "p_value": fe.pvalues[fe_terms].to_numpy(),
                            "ci_lower": ci.loc[fe_terms, "lower"].to_numpy(),
                            "ci_upper": ci.loc[fe_terms, "upper"].to_numpy()})
    comparison = pd.concat([mixed_rows.assign(estimator="mixed"), fe_rows.assign(estimator="fixed_effects")],
                           ignore_index=True)[COMPARISON_COLUMNS]

    t_mean = float(used.groupby(client).size().mean())
    notes = [
        f"{within_lag} is the client's deviation from their own mean alliance at the previous session "
        f"(state-like, within-client effect); {between} is the client's mean "
        + ("minus their therapist's mean (trait-like, between-client effect)." if therapist
           else "(trait-like, between-client effect)."),
        "fixed_effects: linearmodels PanelOLS with client effects on the same rows; standard errors clustered "
        "by client. Between-client and therapist terms are absorbed by the client effects.",
    ]
    nickell = None
    if prior_outcome:
        rho = float(fe.params[y_lag])
        if t_mean > 1:
            nickell = -(1.0 + rho) / (t_mean - 1.0)
        notes.append(
            f"Nickell (1981) bias: with the lagged outcome as a predictor and on average {t_mean:.2f} analysed "
            f"sessions per client, the fixed-effects estimate of {y_lag} is biased by about "
            f"-(1 + rho)/(T - 1) = {nickell:.3f} (at rho = {rho:.3f}), and the bias spills over to predictors "
            f"correlated with {y_lag}; the mixed-model estimate tends to be biased the other way (the lagged outcome "
            "is correlated with the client's random intercept). For a consistent estimate fit a dynamic panel "
            "model (allianceStats.fit_dpm; Allison, Williams & Moral-Benito 2017)."
            if nickell is not None else
            "Nickell bias cannot be approximated: every client has a single analysed session.")
    if not mixed.converged:
        notes.append(f"the mixed model did not converge: {mixed.convergence.message}")
    if mixed.singular:
        notes.append("the mixed model is a boundary (singular) fit: a variance is (near) zero or a correlation "
                     "is ±1 (see mixed.varcomp); if it is the time slope, consider random_slope=False.")
    provenance = make_provenance(data, options={"outcome": outcome, "alliance": alliance, "client": client,
                                                "therapist": therapist, "session": session,
                                                "prior_outcome": prior_outcome, "random_slope": random_slope,
                                                "reml": reml, "conf_level": conf_level},
                                 extra_versions=("linearmodels", "nlopt"), function="fit_alliance_outcome",
                                 started=started)
    return AllianceOutcomeResult(mixed=mixed, fixed_effects=fe, comparison=comparison, data=used,
                                 formula=formula, nickell_bias=nickell, sessions_per_client=t_mean,
                                 conf_level=conf_level, n_obs=mixed.n_obs, notes=tuple(notes),
                                 convergence=mixed.convergence, provenance=provenance)
