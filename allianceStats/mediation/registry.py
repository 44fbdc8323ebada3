"""The SDT hypothesis registry: the review's claims as data, each with the model that tests it.

Self-Determination Theory (Deci & Ryan 2000; Ryan, Lynch, Vansteenkiste & Deci 2011) holds that therapist
behaviours support the client's basic psychological needs — autonomy, competence, relatedness — and that need
satisfaction fosters autonomous motivation, which carries engagement and outcome. The review this project
starts from (docs/design.md) maps behaviours to needs and states a cycle:

- behaviour -> need: empathic attunement -> relatedness; motivational calibration -> autonomy; transparency and
  collaboration -> competence and autonomy; emotional presence -> relatedness; rupture repair -> relatedness and
  autonomy; responsiveness -> competence and relatedness;
- the chain: therapist behaviours -> alliance -> need satisfaction -> autonomous motivation -> engagement /
  outcome -> later alliance;
- docs/design.md Q1 (alliance -> later outcome within client), Q2 (outcome -> later alliance) and Q5 (the chain,
  within and between clients). Q3 (dropout), Q4 (ruptures, variability) and Q6 (therapist level) are tested by
  ``fit_dropout``, ``level_variability_repair`` and ``fit_mlm``; they are not in this registry.

Each :class:`Hypothesis` names variable *roles* (e.g. ``empathic_attunement``), not columns; a data set's
columns are mapped to roles when it is tested. Models:

- ``path``: ``y ~ x`` (ordinary least squares on session rows) with a cluster bootstrap over clients;
  the effect is the slope.
- ``serial_mediation``: :func:`allianceStats.mediation` with ``serial=True``; the effect is the full chain.
- ``lagged_path``: ``y_{t+1} ~ x_within_t + x_between + y_t`` within client (``x_within`` = deviation from the
  client's mean, Curran & Bauer 2011), consecutive sessions only, cluster bootstrap; the effect is ``x_within``.
- ``multilevel_mediation``: :func:`allianceStats.multilevel_mediation` (within or between indirect effect).

A hypothesis is *supported* when its interval lies entirely above zero (every claim here is positive).

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
Curran, P. J., & Bauer, D. J. (2011). The disaggregation of within-person and between-person effects in
longitudinal models of change. *Annual Review of Psychology* 62, 583-619.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from ..errors import AllianceStatsError
from .engine import Effect, Equation, PathModel
from .multilevel import multilevel_mediation
from .observed import build_model, fit_path_model

MODELS = ("path", "serial_mediation", "lagged_path", "multilevel_mediation")
RESULT_COLUMNS = ["hypothesis", "statement", "estimate", "ci_lower", "ci_upper", "p_value", "supported", "model",
                  "note"]

_RYAN2011 = "Ryan, Lynch, Vansteenkiste & Deci (2011), Couns. Psychol. 39(2)"


@dataclass(frozen=True)
class Hypothesis:
    """One claim: ``roles`` maps the model's slots (``x``, ``m1``.., ``y``) to variable roles."""

    id: str
    statement: str
    citation: str
    roles: Mapping[str, str]
    model: str
    effect: str = field(default="")  # for multilevel_mediation: "within indirect" / "between indirect"


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
    Hypothesis("C1", "Therapist behaviour strengthens the alliance.",
               "Flückiger et al. (2018), Psychotherapy 55(4)", {"x": "therapist_behaviour", "y": "alliance"},
               "path"),
    Hypothesis("C2", "The alliance satisfies the basic psychological needs.", _RYAN2011,
               {"x": "alliance", "y": "needs"}, "path"),
    Hypothesis("C3", "Need satisfaction fosters autonomous motivation.",
               "Deci & Ryan (2000), Psychol. Inq. 11(4)", {"x": "needs", "y": "motivation"}, "path"),
    Hypothesis("C4", "Autonomous motivation carries engagement.", _RYAN2011,
               {"x": "motivation", "y": "engagement"}, "path"),
    Hypothesis("C5", "Autonomous motivation carries outcome.", _RYAN2011,
               {"x": "motivation", "y": "outcome"}, "path"),
    Hypothesis("C6", "Engagement in one session strengthens the alliance in the next (within client).",
               "Zilcha-Mano (2017), Am. Psychol. 72(4)", {"x": "engagement", "y": "alliance"}, "lagged_path"),
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


def hypotheses() -> pd.DataFrame:
    """The SDT hypothesis registry as a table: ``id, statement, citation, roles, model, effect``.

    ``roles`` maps each model slot (``x``, ``m``/``m1``.., ``y``) to a variable role; map a data set's columns to
    these roles in :func:`test_hypotheses`. A fresh copy is returned on every call (the registry itself is an
    immutable tuple, ``REGISTRY``). See the module docstring for the sources (Deci & Ryan 2000; Ryan et al. 2011).

    Examples
    --------
    >>> import allianceStats as als
    >>> reg = als.hypotheses()
    >>> reg.set_index("id").loc["B1", "roles"]
    {'x': 'empathic_attunement', 'y': 'relatedness'}
    >>> sorted(reg["model"].unique())
    ['lagged_path', 'multilevel_mediation', 'path', 'serial_mediation']
    """
    return pd.DataFrame([{"id": h.id, "statement": h.statement, "citation": h.citation, "roles": dict(h.roles),
                          "model": h.model, "effect": h.effect} for h in REGISTRY])


def _lagged_frame(data, x, y, cluster, session):
    """Consecutive-session pairs within cluster: ``x_within`` and ``x_between`` at t, ``y`` at t and t + 1."""
    from ..decomposition import decompose  # person-mean centring (Curran & Bauer 2011), defined in one place

    df = data[[cluster, session, x, y]].dropna().sort_values([cluster, session])
    parts = decompose(df, x, client=cluster, time=session, lags=())
    grouped = df.groupby(cluster, sort=False)
    out = pd.DataFrame({cluster: df[cluster].to_numpy(), "x_within": parts[f"{x}_within"].to_numpy(),
                        "x_between": parts[f"{x}_between"].to_numpy(), "y_now": df[y].to_numpy(),
                        "y_next": grouped[y].shift(-1).to_numpy(),
                        "gap": (grouped[session].shift(-1) - df[session]).to_numpy()})
    return out[out["gap"] == 1].drop(columns="gap")


def _fit_one(h: Hypothesis, data, cols, cluster, session, n_boot, level, seed, ml_cache):
    """Fit the model of one hypothesis; returns (estimate, ci_lower, ci_upper, p_value, model text)."""
    boot_cluster = cluster if cluster in data.columns else None
    if h.model == "path":
        x, y = cols["x"], cols["y"]
        used = [x, y] + ([boot_cluster] if boot_cluster else [])
        model = PathModel((x, y), (Equation(y, (x,)),), {(y, x): "b"}, (Effect(f"{x} -> {y}", (((y, x),),)),))
        res = fit_path_model(data[used].dropna(), model, cluster=boot_cluster, n_boot=n_boot, ci="percentile",
                             level=level, seed=seed, options={"hypothesis": h.id})
        row, text = res.effects.iloc[0], f"OLS {y} ~ {x}"
    elif h.model == "lagged_path":
        if session not in data.columns or boot_cluster is None:
            raise AllianceStatsError(f"needs the '{cluster}' and '{session}' columns to pair consecutive sessions")
        lagged = _lagged_frame(data, cols["x"], cols["y"], cluster, session)
        model = PathModel(("x_within", "x_between", "y_now", "y_next"),
                          (Equation("y_next", ("x_within", "x_between", "y_now")),), {},
                          (Effect("x_within -> y_next", ((("y_next", "x_within"),),)),))
        res = fit_path_model(lagged, model, cluster=cluster, n_boot=n_boot, ci="percentile", level=level,
                             seed=seed, options={"hypothesis": h.id})
        row = res.effects.iloc[0]
        text = f"OLS {cols['y']}[t+1] ~ {cols['x']}_within[t] + {cols['x']}_between + {cols['y']}[t]"
    elif h.model == "serial_mediation":
        mediators = [cols[k] for k in sorted(k for k in cols if k.startswith("m"))]
        res = fit_path_model(data[[cols["x"], *mediators, cols["y"]] + ([boot_cluster] if boot_cluster else [])]
                             .dropna(), build_model(cols["x"], mediators, cols["y"], serial=True),
                             cluster=boot_cluster, n_boot=n_boot, ci="percentile", level=level, seed=seed,
                             options={"hypothesis": h.id})
        chain = " -> ".join([cols["x"], *mediators, cols["y"]])
        row, text = res.effects.set_index("effect").loc[chain], f"serial mediation {chain}"
    else:  # multilevel_mediation
        if boot_cluster is None:
            raise AllianceStatsError(f"needs the cluster column '{cluster}'")
        key = (cols["x"], cols["m"], cols["y"])
        if key not in ml_cache:  # within and between hypotheses share one fit, and its warnings
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                fit = multilevel_mediation(data, *key, cluster=cluster, n_draws=max(n_boot, 1000), level=level,
                                           seed=seed)
            ml_cache[key] = (fit, [(w.message, w.category) for w in caught])
        fit, caught = ml_cache[key]
        for message, category in caught:
            warnings.warn(message, category, stacklevel=2)
        row = fit.effects.set_index("effect").loc[h.effect]
        text = f"multilevel 1-1-1 mediation {' -> '.join(key)} ({h.effect})"
    return float(row["estimate"]), float(row["ci_lower"]), float(row["ci_upper"]), float(row["p_value"]), text


def test_hypotheses(data: pd.DataFrame, mapping: Mapping[str, str], *, cluster: str = "client",
                    session: str = "session", ids: list[str] | None = None, seed: int | None = None,
                    n_boot: int = 2000, level: float = 0.95) -> pd.DataFrame:
    """Test the registry's hypotheses on a data set whose columns are mapped to roles.

    For each hypothesis (all, or those in ``ids``) whose roles are all mapped, fit its model (see the module
    docstring: cluster-bootstrap OLS paths, a serial mediation, a within-client lagged path, or a multilevel
    1-1-1 mediation) and report the effect with its percentile (or Monte Carlo) interval at ``level``.
    ``supported`` is True when the interval lies above zero. Hypotheses with an unmapped role are kept with a
    ``note`` saying which role is missing; a model that cannot be fitted is reported the same way.
    Sources: the registry (Deci & Ryan 2000; Ryan et al. 2011; Preacher & Hayes 2008; Bauer et al. 2006).

    Parameters
    ----------
    data : session table (one row per session); never modified.
    mapping : role -> column, e.g. ``{"empathic_attunement": "empathy", "motivational_calibration":
        "autonomy_support", "therapist_behaviour": "empathy", "alliance": "alliance", "autonomy": "autonomy", ...}``.
    cluster : column resampled as a whole by the bootstrap (clients); rows are resampled when it is absent.
    session : session number column, used to pair consecutive sessions for lagged paths.
    seed : seed for every bootstrap / Monte Carlo draw (each hypothesis uses the same seed).

    Returns
    -------
    DataFrame ``hypothesis, statement, estimate, ci_lower, ci_upper, p_value, supported, model, note``.

    Examples
    --------
    >>> import allianceStats as als
    >>> df = als.load_example()
    >>> out = als.test_hypotheses(df, {"empathic_attunement": "empathy", "relatedness": "relatedness",
    ...                                "motivational_calibration": "autonomy_support"},
    ...                           ids=["B1", "B2", "B3a"], n_boot=500, seed=1)
    >>> out[["hypothesis", "model"]].values.tolist()[:2]
    [['B1', 'OLS relatedness ~ empathy'], ['B2', 'not fitted']]
    >>> out.loc[1, "note"]
    "role 'autonomy' is not mapped to a column"
    """
    if not isinstance(data, pd.DataFrame):
        raise AllianceStatsError(f"data must be a pandas DataFrame, found {type(data).__name__}.")
    known_roles = {r for h in REGISTRY for r in h.roles.values()}
    problems = [f"role '{r}' is not a role of any hypothesis" for r in mapping if r not in known_roles]
    problems += [f"role '{r}' is mapped to column '{c}', which is not in the data" for r, c in mapping.items()
                 if c not in data.columns]
    chosen = REGISTRY if ids is None else tuple(h for h in REGISTRY if h.id in set(ids))
    if ids is not None:
        problems += [f"hypothesis id '{i}' is not in the registry" for i in ids if i not in {h.id for h in REGISTRY}]
    if problems:
        raise AllianceStatsError("test_hypotheses(): " + "; ".join(problems) + f". Known roles: {sorted(known_roles)}"
                                 f"; ids: {[h.id for h in REGISTRY]}.")
    rows, ml_cache = [], {}
    for h in chosen:
        missing = [r for r in h.roles.values() if r not in mapping]
        base = {"hypothesis": h.id, "statement": h.statement}
        if missing:
            rows.append({**base, "estimate": np.nan, "ci_lower": np.nan, "ci_upper": np.nan, "p_value": np.nan,
                         "supported": pd.NA, "model": "not fitted",
                         "note": f"role '{missing[0]}' is not mapped to a column" if len(missing) == 1 else
                         f"roles {missing} are not mapped to columns"})
            continue
        cols = {slot: mapping[role] for slot, role in h.roles.items()}
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                est, lo, hi, p, text = _fit_one(h, data, cols, cluster, session, n_boot, level, seed, ml_cache)
        except AllianceStatsError as err:
            rows.append({**base, "estimate": np.nan, "ci_lower": np.nan, "ci_upper": np.nan, "p_value": np.nan,
                         "supported": pd.NA, "model": "not fitted", "note": f"could not be fitted: {err}"})
            continue
        rows.append({**base, "estimate": est, "ci_lower": lo, "ci_upper": hi, "p_value": p,
                     "supported": bool(lo > 0), "model": text,
                     "note": "; ".join(sorted({str(w.message) for w in caught}))})
    out = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    out["supported"] = out["supported"].astype("boolean")
    out.attrs["level"] = level
    return out


test_hypotheses.__test__ = False  # a function of the public API, not a test for pytest to collect
