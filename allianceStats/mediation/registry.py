"""The SDT hypothesis registry: the review's claims as data, each with the model that tests it.

Self-Determination Theory (Deci & Ryan 2000; Ryan, Lynch, Vansteenkiste & Deci 2011) holds that therapist
behaviours support the client's basic psychological needs — autonomy, competence, relatedness — and that need
satisfaction fosters autonomous motivation, which carries engagement and outcome. The review this project
starts from (docs/design.md) maps behaviours to needs and states a cycle:

- behaviour -> need: empathic attunement -> relatedness; motivational calibration -> autonomy; transparency and
  collaboration -> competence and autonomy; emotional presence -> relatedness; rupture repair -> relatedness and
  autonomy; responsiveness -> competence and relatedness;
- the cycle: therapist behaviours -> alliance -> need satisfaction -> autonomous motivation -> engagement (and
  outcome) -> alliance at the next session;
- docs/design.md Q1 (alliance -> later outcome within client), Q2 (outcome -> later alliance) and Q5 (the chain,
  within and between clients). Q3 (dropout), Q4 (ruptures, variability) and Q6 (therapist level) are tested by
  ``fit_dropout``, ``fit_level_variability_repair`` and ``fit_mlm``; they are not in this registry.

The cycle is defined here and only here: the hypotheses with ``cycle=True`` (:data:`CYCLE`: C1 behaviour ->
alliance, C2 alliance -> needs, C3 needs -> motivation, C4 motivation -> engagement, C6 engagement -> next
session's alliance) are its arrows, each a within-client effect, and a report draws the cycle from
``evaluate_hypotheses(data, mapping, ids=CYCLE).paths``.

Each :class:`Hypothesis` names variable *roles* (e.g. ``empathic_attunement``), not columns; a data set's
columns are mapped to roles when it is tested, one column or several (e.g. ``"needs": ["autonomy",
"competence", "relatedness"]``). Models (the regressions are fitted by :func:`~allianceStats.mediation.observed.
fit_path_model`, ML = OLS, with a bootstrap that resamples whole clients when the client column is present):

- ``path``: ``y ~ x`` on session rows (pooled: within- and between-client variation together); the effect is
  the slope.
- ``within_path``: ``y ~ x_within + x_between`` on session rows, ``x_within`` the deviation from the client's
  mean and ``x_between`` the client mean (Curran & Bauer 2011); the effect is the ``x_within`` slope, which
  equals the fixed-effects (within-client) estimator (Mundlak 1978).
- ``lagged_path``: ``y_{t+1} ~ x_within_t + x_between + y_t`` within client, consecutive sessions only; the
  effect is the ``x_within`` slope.
- ``serial_mediation``: :func:`allianceStats.fit_mediation` with ``serial=True``; the effect is the full chain.
- ``multilevel_mediation``: :func:`allianceStats.fit_multilevel_mediation` (within or between indirect effect).

In ``path``, ``within_path`` and ``lagged_path`` a role mapped to several columns gives one arrow per column:
several predictors enter one model together (each arrow controls the others), several outcomes get one model
each. A hypothesis is *supported* when its interval lies entirely above zero (every claim here is positive).

References
----------
Deci, E. L., & Ryan, R. M. (2000). The "what" and "why" of goal pursuits. *Psychological Inquiry* 11(4), 227-268.
Ryan, R. M., Lynch, M. F., Vansteenkiste, M., & Deci, E. L. (2011). Motivation and autonomy in counseling,
psychotherapy, and behavior change. *The Counseling Psychologist* 39(2), 193-260.
Markland, D., Ryan, R. M., Tobin, V. J., & Rollnick, S. (2005). Motivational interviewing and self-determination
theory. *Journal of Social and Clinical Psychology* 24(6), 811-831.
Elliott, R., Bohart, A. C., Watson, J. C., & Murphy, D. (2018). Therapist empathy and client outcome: an updated
meta-analysis. *Psychotherapy* 55(4), 399-410.
Eubanks, C. F., Muran, J. C., & Safran, J. D. (2018). Alliance rupture repair: a meta-analysis.
*Psychotherapy* 55(4), 508-519.
Flückiger, C., Del Re, A. C., Wampold, B. E., & Horvath, A. O. (2018). The alliance in adult psychotherapy: a
meta-analytic synthesis. *Psychotherapy* 55(4), 316-340.
Zilcha-Mano, S. (2017). Is the alliance really therapeutic? *American Psychologist* 72(4), 311-325.
Falkenström, F., Finkel, S., Sandell, R., Rubel, J. A., & Holmqvist, R. (2017). Dynamic models of individual
change in psychotherapy process research. *JCCP* 85(6), 537-549.
Mundlak, Y. (1978). On the pooling of time series and cross section data. *Econometrica* 46(1), 69-85.
Curran, P. J., & Bauer, D. J. (2011). The disaggregation of within-person and between-person effects in
longitudinal models of change. *Annual Review of Psychology* 62, 583-619.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._deprecation import FormerTable, renamed_arguments
from ..data.checks import (
    check_choice,
    check_conf_level,
    check_positive_int,
    first_labels,
    require_frame,
    require_numeric,
    resolve_seed,
)
from ..errors import AllianceStatsError, OptionError, SchemaError
from ..results import Convergence, Provenance, ResultDisplay, make_provenance
from .engine import Effect, Equation, PathModel
from .intervals import CI_METHODS
from .multilevel import fit_multilevel_mediation
from .observed import build_model, fit_path_model
from .tables import PATH_COLUMNS

__all__ = ["Hypothesis", "REGISTRY", "CYCLE", "MODELS", "RESULT_COLUMNS", "VERDICTS", "HypothesesResult", "hypotheses",
           "evaluate_hypotheses"]

MODELS = ("path", "within_path", "lagged_path", "serial_mediation", "multilevel_mediation")
#: columns of ``HypothesesResult.table``: one row per tested effect (several for a role mapped to several columns)
RESULT_COLUMNS = ["hypothesis", "statement", "effect", "estimate", "std_error", "statistic", "p_value", "ci_lower",
                  "ci_upper", "supported", "verdict", "inference", "model", "note"]
#: what ``supported`` means, in words (``verdict``): every claim of the registry is a positive effect
VERDICTS = {"above": "supported: the interval lies above 0",
            "includes": "not supported: the interval includes 0",
            "below": "not supported: the interval lies below 0 (an effect opposite to the claim)"}
_SINGLE_ARROW = ("path", "within_path", "lagged_path")

_RYAN2011 = "Ryan, Lynch, Vansteenkiste & Deci (2011), Couns. Psychol. 39(2)"


@dataclass(frozen=True)
class Hypothesis:
    """One claim: ``roles`` maps the model's slots (``x``, ``m``/``m1``.., ``y``) to variable roles.

    ``effect`` names the effect reported for ``multilevel_mediation`` (``"within indirect"`` / ``"between
    indirect"``); ``cycle`` marks the arrows of the review's cycle (:data:`CYCLE`).
    """

    id: str
    statement: str
    citation: str
    roles: Mapping[str, str]
    model: str
    effect: str = field(default="")
    cycle: bool = False


def _path(id_, behaviour, need, statement, citation):
    return Hypothesis(id_, statement, citation, {"x": behaviour, "y": need}, "path")


REGISTRY: tuple[Hypothesis, ...] = (
    _path("B1", "empathic_attunement", "relatedness", "Empathic attunement satisfies the need for relatedness.",
          f"Elliott et al. (2018), Psychotherapy 55(4); {_RYAN2011}"),
    _path("B2", "motivational_calibration", "autonomy",
          "Motivational calibration (autonomy-supportive pacing) satisfies the need for autonomy.",
          "Markland, Ryan, Tobin & Rollnick (2005), J. Soc. Clin. Psychol. 24(6)"),
    _path("B3a", "transparency_collaboration", "competence",
          "Transparency and collaboration satisfy the need for competence.", _RYAN2011),
    _path("B3b", "transparency_collaboration", "autonomy",
          "Transparency and collaboration satisfy the need for autonomy.", _RYAN2011),
    _path("B4", "emotional_presence", "relatedness", "Emotional presence satisfies the need for relatedness.",
          _RYAN2011),
    _path("B5a", "rupture_repair", "relatedness", "Rupture repair restores relatedness.",
          "Eubanks, Muran & Safran (2018), Psychotherapy 55(4)"),
    _path("B5b", "rupture_repair", "autonomy", "Rupture repair restores autonomy.",
          "Eubanks, Muran & Safran (2018), Psychotherapy 55(4)"),
    _path("B6a", "responsiveness", "competence", "Responsiveness satisfies the need for competence.", _RYAN2011),
    _path("B6b", "responsiveness", "relatedness", "Responsiveness satisfies the need for relatedness.", _RYAN2011),
    Hypothesis("C1", "In sessions where the therapist shows more of a behaviour than usual for this client, the "
                     "alliance is stronger (within client).",
               "Flückiger et al. (2018), Psychotherapy 55(4)", {"x": "therapist_behaviour", "y": "alliance"},
               "within_path", cycle=True),
    Hypothesis("C2", "A stronger alliance than usual for the client goes with more need satisfaction in the "
                     "session (within client).", _RYAN2011,
               {"x": "alliance", "y": "needs"}, "within_path", cycle=True),
    Hypothesis("C3", "More need satisfaction than usual goes with more autonomous motivation (within client).",
               "Deci & Ryan (2000), Psychol. Inq. 11(4)", {"x": "needs", "y": "motivation"}, "within_path",
               cycle=True),
    Hypothesis("C4", "More autonomous motivation than usual carries more engagement (within client).", _RYAN2011,
               {"x": "motivation", "y": "engagement"}, "within_path", cycle=True),
    Hypothesis("C5", "More autonomous motivation than usual carries better outcome (within client).", _RYAN2011,
               {"x": "motivation", "y": "outcome"}, "within_path"),
    Hypothesis("C6", "Engagement in one session strengthens the alliance in the next (within client).",
               "Zilcha-Mano (2017), Am. Psychol. 72(4)", {"x": "engagement", "y": "alliance"}, "lagged_path",
               cycle=True),
    Hypothesis("C7", "Therapist behaviour -> alliance -> need satisfaction -> autonomous motivation -> engagement "
                     "(serial indirect effect).", _RYAN2011,
               {"x": "therapist_behaviour", "m1": "alliance", "m2": "needs", "m3": "motivation", "y": "engagement"},
               "serial_mediation"),
    Hypothesis("Q1", "Alliance above the client's own average predicts better outcome at the next session.",
               "Falkenström et al. (2017), JCCP 85(6)", {"x": "alliance", "y": "outcome"}, "lagged_path"),
    Hypothesis("Q2", "Better outcome than the client's own average predicts a stronger alliance at the next "
                     "session (reciprocity).", "Zilcha-Mano (2017), Am. Psychol. 72(4)",
               {"x": "outcome", "y": "alliance"}, "lagged_path"),
    Hypothesis("Q5w", "Within clients, sessions with a stronger alliance satisfy needs more, which raises "
                      "autonomous motivation (within indirect effect).",
               "Bauer, Preacher & Gil (2006); Zhang, Zyphur & Preacher (2009)",
               {"x": "alliance", "m": "needs", "y": "motivation"}, "multilevel_mediation", "within indirect"),
    Hypothesis("Q5b", "Clients with a stronger alliance have higher need satisfaction and so more autonomous "
                      "motivation (between indirect effect).", "Zhang, Zyphur & Preacher (2009)",
               {"x": "alliance", "m": "needs", "y": "motivation"}, "multilevel_mediation", "between indirect"),
)

#: the arrows of the review's cycle, in order: behaviour -> alliance -> needs -> motivation -> engagement ->
#: alliance at the next session. The one definition of the cycle (a report draws it from these hypotheses).
CYCLE: tuple[str, ...] = tuple(h.id for h in REGISTRY if h.cycle)


def hypotheses() -> pd.DataFrame:
    """The SDT hypothesis registry as a table: ``id, statement, citation, roles, model, effect, cycle``.

    ``roles`` maps each model slot (``x``, ``m``/``m1``.., ``y``) to a variable role; map a data set's columns to
    these roles in :func:`evaluate_hypotheses`. ``cycle`` marks the arrows of the review's cycle (:data:`CYCLE`).
    A fresh copy is returned on every call (the registry itself is an immutable tuple, ``REGISTRY``). See the
    module docstring for the models and the sources (Deci & Ryan 2000; Ryan et al. 2011).

    Returns
    -------
    DataFrame
        One row per hypothesis of ``REGISTRY``, in registry order.

    Examples
    --------
    >>> import allianceStats as als
    >>> reg = als.hypotheses()
    >>> reg.set_index("id").loc["B1", "roles"]
    {'x': 'empathic_attunement', 'y': 'relatedness'}
    >>> sorted(reg["model"].unique())
    ['lagged_path', 'multilevel_mediation', 'path', 'serial_mediation', 'within_path']
    >>> reg.loc[reg["cycle"], "id"].tolist()
    ['C1', 'C2', 'C3', 'C4', 'C6']
    """
    return pd.DataFrame([{"id": h.id, "statement": h.statement, "citation": h.citation, "roles": dict(h.roles),
                          "model": h.model, "effect": h.effect, "cycle": h.cycle} for h in REGISTRY])


@dataclass(frozen=True, repr=False)
class HypothesesResult(ResultDisplay, FormerTable):
    """The registry's hypotheses tested on one data set (follows :class:`allianceStats.results.Result`).

    Attributes
    ----------
    table : DataFrame
        One row per tested effect, columns :data:`RESULT_COLUMNS`: ``hypothesis, statement, effect, estimate,
        std_error, statistic, p_value, ci_lower, ci_upper, supported, model, note``. A hypothesis whose role is
        mapped to several columns has one row per arrow; one that was not fitted has one row with the reason in
        ``note`` (``model == "not fitted"``). Every column of a row comes from one inference method, named in
        ``inference`` (the fitted result's; see :func:`allianceStats.fit_mediation`): with ``ci="delta"`` Wald
        tests (cluster-robust by client where the client column is present), otherwise standard errors from the
        draws and a p-value that inverts the interval, so ``p_value < 1 - conf_level`` exactly when the interval
        excludes 0. ``supported``: the interval lies above 0; ``verdict`` says it in words (:data:`VERDICTS`) —
        "not supported" means the interval includes 0 (or lies below it).
    paths : DataFrame
        The single arrows (``path``, ``within_path``, ``lagged_path`` hypotheses) in the paths layout
        ``lhs, op, rhs, label, estimate, std_error, statistic, p_value, ci_lower, ci_upper``: ``lhs`` the
        outcome column, ``rhs`` the predictor column, ``label`` the hypothesis id; the numbers are those of
        ``table`` (the interval is the hypothesis test's, by ``ci``). Draw the cycle from
        ``paths[paths["label"].isin(CYCLE)]``.
    fits : dict
        Hypothesis id -> tuple of the fitted results behind it (:class:`MediationResult` or
        :class:`MultilevelMediationResult`).
    mapping : dict
        Role -> column(s) as given.
    conf_level, ci (``None``: each model's default), n_draws, n_obs (rows of ``data``), convergence (all fits),
    provenance (``function="evaluate_hypotheses"``, the seed every hypothesis used)

    Until 0.3.0 the result can still be used like the DataFrame ``test_hypotheses()`` returned (``res["estimate"]``,
    ``res.loc``): that access goes to ``table`` with a :class:`FutureWarning`.
    """

    _former = "test_hypotheses()"  # until 0.3.0, DataFrame-style use goes to .table with a FutureWarning

    table: pd.DataFrame
    paths: pd.DataFrame
    fits: dict[str, tuple[Any, ...]]
    mapping: dict[str, Any]
    conf_level: float
    ci: str | None
    n_draws: int
    n_obs: int
    convergence: Convergence
    provenance: Provenance

    def summary(self) -> str:
        """Plain-text summary: the table of hypotheses with their estimates, intervals and verdicts."""
        from .tables import format_p_value

        shown = self.table[["hypothesis", "effect", "estimate", "p_value", "ci_lower", "ci_upper", "supported",
                            "model"]].copy()
        resolution = 0.0 if self.ci == "delta" else 2.0 / self.n_draws
        shown["p_value"] = [format_p_value(p, resolution) for p in shown["p_value"]]
        fitted = int((self.table["model"] != "not fitted").sum())
        methods = sorted(set(self.table["inference"].dropna()) - {""})
        with pd.option_context("display.width", 160, "display.max_colwidth", 70):
            return (f"SDT hypotheses: {fitted} effect(s) tested, {len(self.table) - fitted} not fitted; "
                    f"{100 * self.conf_level:g}% intervals ({self.ci or 'each model’s default'}, "
                    f"{self.n_draws} draws, seed {self.provenance.seed})\n"
                    + "".join(f"inference: {m}\n" for m in methods)
                    + f"{VERDICTS['above']}; {VERDICTS['includes']} (or lies below 0); the p-value agrees with "
                      "the interval (p < 1 - conf_level exactly when the interval excludes 0)\n\n"
                    + shown.to_string(index=False, float_format="{:.4f}".format))

    def __len__(self) -> int:
        return len(self.table)


# ---- the models --------------------------------------------------------------------------------------------------
def _columns(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _within_frame(data, xs, y, client, session):
    """Complete rows with ``<x>_within`` and ``<x>_between`` (person-mean centring, defined in decompose)."""
    from ..decomposition import decompose  # person-mean centring (Curran & Bauer 2011), defined in one place

    df = data[[client, session, *xs, y]].dropna()
    parts = decompose(df, xs, client=client, session=session, lags=())
    cols = [c for x in xs for c in (f"{x}_within", f"{x}_between")]
    return parts[[client, *cols, y]]


def _lagged_frame(data, xs, y, client, session):
    """Consecutive-session pairs within client: ``<x>_within`` and ``<x>_between`` at t, ``y`` at t and t + 1."""
    from ..decomposition import decompose

    df = data[[client, session, *xs, y]].dropna().sort_values([client, session])
    parts = decompose(df, xs, client=client, session=session, lags=())
    grouped = df.groupby(client, sort=False)
    out = pd.DataFrame({client: df[client].to_numpy()})
    for x in xs:
        out[f"{x}_within"] = parts[f"{x}_within"].to_numpy()
        out[f"{x}_between"] = parts[f"{x}_between"].to_numpy()
    out[f"{y}[t]"] = df[y].to_numpy()
    out[f"{y}[t+1]"] = grouped[y].shift(-1).to_numpy()
    gap = (grouped[session].shift(-1) - df[session]).to_numpy()
    return out[gap == 1]


def _arrow_model(h: Hypothesis, xs: list[str], y: str) -> tuple[list[str], str, list[str], str]:
    """(predictors, outcome, the predictor of each arrow, model text) of a single-arrow hypothesis."""
    if h.model == "path":
        return xs, y, xs, f"OLS {y} ~ {' + '.join(xs)}"
    within = [f"{x}_within" for x in xs]
    preds = [c for x in xs for c in (f"{x}_within", f"{x}_between")]
    if h.model == "within_path":
        return preds, y, within, f"OLS {y} ~ {' + '.join(preds)} (within-client slope)"
    return [*preds, f"{y}[t]"], f"{y}[t+1]", within, f"OLS {y}[t+1] ~ {' + '.join(preds)} + {y}[t]"


def _fit_arrows(h, data, cols, client, session, settings, function):
    """Fit a ``path`` / ``within_path`` / ``lagged_path`` hypothesis: one row (and result) per arrow."""
    xs, ys = _columns(cols["x"]), _columns(cols["y"])
    both = sorted(set(xs) & set(ys))
    if both:
        raise AllianceStatsError(f"column(s) {both} are mapped to both the predictor and the outcome role")
    has_client = client in data.columns
    if h.model != "path" and not (has_client and session in data.columns):
        raise AllianceStatsError(f"needs the '{client}' and '{session}' columns to separate within-client "
                                 "variation")
    rows, fits = [], []
    for y in ys:
        preds, outcome, arrows, text = _arrow_model(h, xs, y)
        if h.model == "path":
            frame = data[[*xs, y] + ([client] if has_client else [])].dropna()
        elif h.model == "within_path":
            frame = _within_frame(data, xs, y, client, session)
        else:
            frame = _lagged_frame(data, xs, y, client, session)
        effects = tuple(Effect(f"{a} -> {outcome}", (((outcome, a),),)) for a in arrows)
        model = PathModel(tuple(dict.fromkeys((*preds, outcome))), (Equation(outcome, tuple(preds)),), {}, effects)
        res = fit_path_model(frame, model, client=client if has_client else None, function=function,
                             options={"hypothesis": h.id, "x": xs, "y": y}, **settings)
        fits.append(res)
        for x, (_, eff) in zip(xs, res.effects.iterrows()):
            effect = f"{x}[t] -> {y}[t+1]" if h.model == "lagged_path" else f"{x} -> {y}"
            rows.append({"effect": effect, "lhs": y, "rhs": x, "model": text, "inference": res.inference["interval"],
                         **eff[["estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper"]]})
    return rows, fits


def _fit_one(h: Hypothesis, data, cols, client, session, settings, ml_settings, ml_cache, function):
    """Fit the model of one hypothesis; returns (rows, fitted results)."""
    if h.model in _SINGLE_ARROW:
        return _fit_arrows(h, data, cols, client, session, settings, function)
    several = [f"role '{h.roles[slot]}' is mapped to {len(v)} columns" for slot, v in cols.items()
               if not isinstance(v, str)]
    if several:
        raise AllianceStatsError(f"{'; '.join(several)}; the {h.model.replace('_', ' ')} model needs one column "
                                 "per role")
    if h.model == "serial_mediation":
        mediators = [cols[k] for k in sorted(k for k in cols if k.startswith("m"))]
        has_client = client in data.columns
        frame = data[[cols["x"], *mediators, cols["y"]] + ([client] if has_client else [])].dropna()
        res = fit_path_model(frame, build_model(cols["x"], mediators, cols["y"], serial=True),
                             client=client if has_client else None, function=function,
                             options={"hypothesis": h.id}, **settings)
        chain = " -> ".join([cols["x"], *mediators, cols["y"]])
        row = res.effects.set_index("effect").loc[chain]
        return [{"effect": chain, "model": f"serial mediation {chain}", "inference": res.inference["interval"],
                 **row}], [res]
    # multilevel_mediation
    if client not in data.columns:
        raise AllianceStatsError(f"needs the client column '{client}'")
    key = (cols["x"], cols["m"], cols["y"])
    if key not in ml_cache:  # within and between hypotheses share one fit, and its warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = fit_multilevel_mediation(data, *key, client=client, **ml_settings)
        ml_cache[key] = (fit, [(w.message, w.category) for w in caught])
    fit, caught = ml_cache[key]
    for message, category in caught:
        warnings.warn(message, category, stacklevel=2)
    chain = " -> ".join(key)
    row = fit.effects.set_index("effect").loc[h.effect]
    return [{"effect": f"{chain} ({h.effect})", "model": f"multilevel 1-1-1 mediation {chain} ({h.effect})",
             "inference": fit.inference["interval"], **row}], [fit]


def _verdict(row) -> str:
    if row["ci_lower"] > 0:
        return VERDICTS["above"]
    if row["ci_upper"] < 0:
        return VERDICTS["below"]
    if np.isnan(row["ci_lower"]) or np.isnan(row["ci_upper"]):
        return "not tested: the interval could not be computed"
    return VERDICTS["includes"]


def _check_mapping(data, mapping, ids, where):
    if not isinstance(mapping, Mapping):
        raise OptionError(f"{where}(): mapping={mapping!r} must be a dict from the registry's roles to columns, "
                          "e.g. {'alliance': 'alliance', 'needs': ['autonomy', 'competence', 'relatedness']}")
    known_roles = sorted({r for h in REGISTRY for r in h.roles.values()})
    known_ids = [h.id for h in REGISTRY]
    problems = [f"role {r!r} is not a role of any hypothesis" for r in mapping if r not in known_roles]
    for role, value in mapping.items():
        names = _columns(value) if isinstance(value, str | list | tuple) else None
        if not names or not all(isinstance(c, str) for c in names) or len(set(names)) < len(names):
            problems.append(f"role {role!r} is mapped to {value!r}; give a column name or a list of distinct "
                            "column names")
    if ids is not None:
        problems += [f"hypothesis id {i!r} is not in the registry" for i in ids if i not in known_ids]
    if problems:
        raise OptionError(f"{where}(): " + "; ".join(problems) + f". Known roles: {known_roles}; ids: {known_ids}")
    have = list(map(str, data.columns))
    missing = [f"role {role!r} is mapped to column {c!r}, which is not in data; it has columns "
               f"[{first_labels(have, limit=20)}]" for role, value in mapping.items() for c in _columns(value)
               if c not in data.columns]
    if missing:
        raise SchemaError(missing, source=where)


@renamed_arguments(cluster="client", n_boot="n_draws", level="conf_level")
def evaluate_hypotheses(data: pd.DataFrame, mapping: Mapping[str, str | Sequence[str]], *, client: str = "client",
                        session: str = "session", ids: Sequence[str] | None = None, ci: str | None = None,
                        n_draws: int = 2000, conf_level: float = 0.95, seed: int | None = None) -> HypothesesResult:
    """Test the registry's hypotheses on a data set whose columns are mapped to roles.

    For each hypothesis (all, or those in ``ids``, in registry order) whose roles are all mapped, fit its model
    (see the module docstring: OLS paths — pooled, within-client or lagged — with a bootstrap over clients, a
    serial mediation, or a multilevel 1-1-1 mediation) and report each effect with its interval at
    ``conf_level``; ``supported`` is True when the interval lies above zero, and ``verdict`` says so in words
    ("not supported: the interval includes 0"). Standard errors, p-values and intervals of a row come from one
    method (its ``inference`` column; with the client column present they respect the clustering: a client
    bootstrap, cluster-robust Wald or Monte Carlo, or the multilevel model). Hypotheses with an unmapped role
    are kept with a ``note`` saying which role is missing; a model that cannot be fitted is reported the same
    way. Sources: the registry (Deci & Ryan 2000; Ryan et al. 2011; Preacher & Hayes 2008; Bauer et al. 2006).

    Parameters
    ----------
    data : DataFrame
        Session table (one row per session); never modified.
    mapping : dict
        Role -> column, or -> list of columns for several arrows (see the module docstring), e.g.
        ``{"empathic_attunement": "empathy", "therapist_behaviour": ["empathy", "autonomy_support"],
        "alliance": "alliance", "needs": ["autonomy", "competence", "relatedness"], ...}``.
    client : str
        Client column: the bootstrap resamples whole clients, and within-client parts are taken within it.
        Where it is absent, rows are resampled and the within-client models are not fitted.
    session : str
        Session number column, used to separate within-client variation and to pair consecutive sessions.
    ids : list of str, optional
        The hypotheses to test, e.g. :data:`CYCLE`; default all.
    ci : {None, "percentile", "bca", "monte_carlo", "delta"}
        Interval of every effect; ``None`` (default) uses each model's default: percentile bootstrap for the
        regressions and serial mediation, Monte Carlo for multilevel mediation (a bootstrap of the multilevel
        model refits it ``n_draws`` times).
    n_draws : int
        Bootstrap resamples or Monte Carlo draws of every model.
    conf_level : float
        Confidence level of every interval.
    seed : int or None
        Seed of every draw (each hypothesis uses the same seed); ``None`` draws one. Recorded in
        ``provenance.seed``.

    Returns
    -------
    HypothesesResult
        ``table`` (one row per tested effect), ``paths`` (the arrows, for path diagrams such as the cycle), the
        underlying ``fits``.

    Raises
    ------
    OptionError
        ``mapping``, ``ids`` or another argument is invalid.
    SchemaError
        A mapped column is missing, not numeric or holds an infinite value (column and rows named).

    Examples
    --------
    >>> import allianceStats as als
    >>> data = als.load_example()
    >>> res = als.evaluate_hypotheses(data, {"empathic_attunement": "empathy", "relatedness": "relatedness",
    ...                                      "motivational_calibration": "autonomy_support"},
    ...                               ids=["B1", "B2", "B3a"], n_draws=500, seed=1)
    >>> res.table[["hypothesis", "model"]].values.tolist()[:2]
    [['B1', 'OLS relatedness ~ empathy'], ['B2', 'not fitted']]
    >>> res.table.loc[1, "note"]
    "role 'autonomy' is not mapped to a column"

    The cycle, one arrow per column (several behaviours and needs):

    >>> cycle = als.evaluate_hypotheses(data, {"therapist_behaviour": ["empathy", "autonomy_support"],
    ...     "alliance": "alliance", "needs": ["autonomy", "competence", "relatedness"],
    ...     "motivation": "motivation", "engagement": "engagement"}, ids=als.mediation.CYCLE, n_draws=200, seed=1)
    >>> cycle.paths[["label", "rhs", "lhs"]].head(3).values.tolist()
    [['C1', 'empathy', 'alliance'], ['C1', 'autonomy_support', 'alliance'], ['C2', 'alliance', 'autonomy']]
    >>> len(cycle.paths), cycle.converged
    (10, True)
    """
    started = time.perf_counter()
    where = "evaluate_hypotheses"
    require_frame(data, where=where)
    ids = None if ids is None else ([ids] if isinstance(ids, str) else list(ids))
    _check_mapping(data, mapping, ids, where)
    # an infinite value would break every hypothesis using its column; say so once, naming column and rows
    require_numeric(data, list(dict.fromkeys(c for v in mapping.values() for c in _columns(v))), where=where,
                    finite=True)
    if ci is not None:
        check_choice("ci", ci, CI_METHODS)
    conf_level = check_conf_level(conf_level)
    n_draws = check_positive_int("n_draws", n_draws, minimum=100)
    seed = resolve_seed(seed)
    settings = {"n_draws": n_draws, "ci": ci or "percentile", "conf_level": conf_level, "seed": seed}
    ml_settings = {"n_draws": n_draws, "ci": ci or "monte_carlo", "conf_level": conf_level, "seed": seed}
    chosen = REGISTRY if ids is None else tuple(h for h in REGISTRY if h.id in set(ids))
    rows, fits, ml_cache = [], {}, {}
    empty = {"effect": "", "estimate": np.nan, "std_error": np.nan, "statistic": np.nan, "p_value": np.nan,
             "ci_lower": np.nan, "ci_upper": np.nan, "supported": pd.NA, "verdict": "not tested", "inference": "",
             "model": "not fitted"}
    for h in chosen:
        base = {"hypothesis": h.id, "statement": h.statement}
        missing = [r for r in h.roles.values() if r not in mapping]
        if missing:
            rows.append({**base, **empty, "note": f"role '{missing[0]}' is not mapped to a column"
                         if len(missing) == 1 else f"roles {missing} are not mapped to columns"})
            continue
        cols = {slot: mapping[role] for slot, role in h.roles.items()}
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                found, results = _fit_one(h, data, cols, client, session, settings, ml_settings, ml_cache, where)
        except AllianceStatsError as err:
            rows.append({**base, **empty, "note": f"could not be fitted: {err}"})
            continue
        fits[h.id] = tuple(results)
        note = "; ".join(sorted({str(w.message) for w in caught}))
        rows += [{**base, **row, "supported": bool(row["ci_lower"] > 0), "verdict": _verdict(row), "note": note}
                 for row in found]
    table = pd.DataFrame(rows, columns=[*RESULT_COLUMNS, "lhs", "rhs"])
    arrows = table[table["lhs"].notna()]
    paths = pd.DataFrame({"lhs": arrows["lhs"], "op": "~", "rhs": arrows["rhs"], "label": arrows["hypothesis"],
                          **{c: arrows[c].astype(float) for c in PATH_COLUMNS[4:]}},
                         columns=PATH_COLUMNS).reset_index(drop=True)
    table = table[RESULT_COLUMNS].copy()
    table["supported"] = table["supported"].astype("boolean")
    unconverged = sorted(i for i, rs in fits.items() if not all(r.convergence.converged for r in rs))
    convergence = Convergence(not unconverged, 0, "per hypothesis (see fits)",
                              warnings=tuple(f"hypothesis {i}: the model did not converge" for i in unconverged))
    options = {"mapping": {r: (v if isinstance(v, str) else list(v)) for r, v in mapping.items()}, "client": client,
               "session": session, "ids": ids, "ci": ci, "n_draws": n_draws, "conf_level": conf_level}
    return HypothesesResult(
        table=table, paths=paths, fits=fits, mapping=dict(mapping), conf_level=conf_level, ci=ci, n_draws=n_draws,
        n_obs=len(data), convergence=convergence,
        provenance=make_provenance(data, options=options, seed=seed, function=where, started=started))

