r"""The cyclical alliance / Self-Determination-Theory process, simulated with known truth.

Model
-----
Sessions :math:`t = 1..T` of client :math:`i` of therapist :math:`j`. Every observed measure is the sum of a
time trend, a therapist part, a client (trait-like) part and a within-client (state-like) part
(Curran & Bauer 2011; Hamaker, Kuiper & Grasman 2015):

.. math:: X_{ijt} = \mu_X + \kappa_X (t-1) + u^X_j + v^X_i + w^X_{it}.

*Therapist behaviours* (``empathy``, ``autonomy_support``, 1–7 observer ratings) vary between therapists
(:math:`u^B_j`) and from session to session (:math:`w^B_{it}`, independent over sessions). The therapist part
of the alliance is :math:`u^A_j = \gamma\,\bar u^B_j + e_j`, where :math:`\bar u^B_j` is the mean of the
therapist's two behaviour effects (therapist behaviours, not only client traits, drive the alliance:
Baldwin, Wampold & Imel 2007).

The within-client state vector :math:`s_t = (A, N_{aut}, N_{com}, N_{rel}, M, E, Y)` — alliance, need
satisfaction (autonomy, competence, relatedness), autonomous motivation, engagement, outcome — follows the
review's cycle with contemporaneous paths (alliance satisfies needs, needs fuel motivation, motivation
drives engagement) and lagged paths (previous alliance, engagement and outcome shape the next session):

.. math::
    A_t &= \phi_A A_{t-1} + g_{EA} E_{t-1} + g_{YA} Y_{t-1} + b_{emp}\,B^{emp}_t + b_{as}\,B^{as}_t + \varepsilon_A \\
    N_{k,t} &= a_k A_t + d_k B_t + \varepsilon_{N_k} \\
    M_t &= \textstyle\sum_k c_k N_{k,t} + \varepsilon_M, \qquad E_t = e_M M_t + \varepsilon_E \\
    Y_t &= \phi_Y Y_{t-1} + \beta_{AY} A_{t-1} + \beta_{EY} E_t + \varepsilon_Y

with :math:`d`: autonomy support → autonomy, empathy → relatedness. In matrix form
:math:`(I - C)s_t = L s_{t-1} + G B_t + \varepsilon_t`, i.e. a VAR(1)
:math:`s_t = \Phi s_{t-1} + \xi_t`; :math:`s_1` is drawn from the stationary distribution
(:math:`\Sigma = \Phi\Sigma\Phi' + Q`, solved with :func:`scipy.linalg.solve_discrete_lyapunov`), so the
within-client variances are the same at every session and ``truth`` gives them exactly.

Client traits :math:`v_i` are multivariate normal with the correlation ``trait_correlation`` between every
pair (alliance–outcome: ``trait_corr_alliance_outcome``).

*Measures.* ``alliance`` is the continuous WAI-SR-scale alliance score of the process (1–5). The twelve
WAI-SR items ``wai_1..wai_12`` are its error-laden indicators (item = alliance + N(0, ``item_sd``²), rounded
to 1–5, plus a stable client-specific item effect with SD ``item_client_sd``, so that between-client
reliability is realistic) with subscale means ``wai_goal``, ``wai_task``, ``wai_bond`` (Hatcher & Gillaspy 2006);
``srs`` (0–40) is a second, noisier indicator. ``outcome`` is percent days abstinent (0–100) and ``days_use`` the
implied days of use in the past week (0–7).

*Missing sessions, missing answers and dropout.* Each session after the first is missed (row absent) with
probability ``p_missed``; at an attended session each measure (alliance with its items, each need,
motivation, engagement, outcome) is unanswered with probability ``p_missing_measure`` (completely at random).
After session :math:`t \ge 2` a client drops out with the discrete-time hazard
:math:`\mathrm{logit}\,h = \alpha_0 + \alpha_1(\bar A^{early}_i - \mu_A)`, where :math:`\bar A^{early}_i`
is the client's mean observed alliance in sessions 1–2: early alliance predicts retention. The last
observed row of a client who dropped out has ``dropout = 1``. Dropout depends only on observed values, so it
is missing at random (FIML and mixed models stay unbiased).

``truth`` holds every population value: means and slopes, standard deviations of each level, the ICCs, the
within-client paths, the stationary within covariance, the dropout hazard, and the realised therapist and
client effects. All values are on the scale of the observed columns; clipping to the schema ranges affects
well under 0.1 % of values at the defaults.
"""
from __future__ import annotations

from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy.linalg import solve_discrete_lyapunov

from ..errors import OptionError
from ._seed import cholesky_factor, correlated_normal, generator

STATE = ("alliance", "autonomy", "competence", "relatedness", "motivation", "engagement", "outcome")
BEHAVIOURS = ("empathy", "autonomy_support")
WAI_SUBSCALES = {"goal": (4, 6, 8, 11), "task": (1, 2, 10, 12), "bond": (3, 5, 7, 9)}

SDT_DEFAULTS = MappingProxyType({
    # means at session 1 and linear change per session
    "mean_empathy": 5.0, "mean_autonomy_support": 4.8,
    "mean_alliance": 3.4, "slope_alliance": 0.03,
    "mean_autonomy": 3.4, "mean_competence": 3.3, "mean_relatedness": 3.6,
    "mean_motivation": 4.5, "mean_engagement": 3.5,
    "mean_outcome": 50.0, "slope_outcome": 1.5,
    # therapist level
    "therapist_sd_behaviour": 0.5, "therapist_behaviour_to_alliance": 0.3, "therapist_sd_alliance": 0.1,
    "therapist_sd_outcome": 3.0,
    # client level (trait-like)
    "client_sd_alliance": 0.35, "client_sd_needs": 0.35, "client_sd_motivation": 0.6,
    "client_sd_engagement": 0.4, "client_sd_outcome": 9.0,
    "trait_correlation": 0.3, "trait_corr_alliance_outcome": 0.4,
    # within-client (state-like) process
    "within_sd_behaviour": 0.6,
    "phi_alliance": 0.3, "engagement_to_alliance": 0.1, "outcome_to_alliance": 0.005,
    "empathy_to_alliance": 0.15, "autonomy_support_to_alliance": 0.1,
    "alliance_to_autonomy": 0.5, "alliance_to_competence": 0.4, "alliance_to_relatedness": 0.6,
    "autonomy_support_to_autonomy": 0.15, "empathy_to_relatedness": 0.15,
    "autonomy_to_motivation": 0.4, "competence_to_motivation": 0.3, "relatedness_to_motivation": 0.2,
    "motivation_to_engagement": 0.35,
    "phi_outcome": 0.3, "alliance_to_outcome": 4.0, "engagement_to_outcome": 3.0,
    "residual_sd_alliance": 0.25, "residual_sd_needs": 0.25, "residual_sd_motivation": 0.4,
    "residual_sd_engagement": 0.3, "residual_sd_outcome": 5.0,
    # measurement
    "item_sd": 0.6, "item_client_sd": 0.15, "srs_sd": 2.0,
    # missingness and dropout
    "p_missed": 0.05, "p_missing_measure": 0.02, "dropout_intercept": float(np.log(0.06 / 0.94)),
    "dropout_early_alliance": -1.2,
})

_RANGES = {"alliance": (1, 5), "autonomy": (1, 5), "competence": (1, 5), "relatedness": (1, 5),
           "motivation": (1, 7), "engagement": (1, 5), "outcome": (0, 100),
           "empathy": (1, 7), "autonomy_support": (1, 7)}


def _within_system(p):
    """Contemporaneous C, lagged L, behaviour loadings G and residual covariance of the within process."""
    ix = {name: k for k, name in enumerate(STATE)}
    C = np.zeros((7, 7))
    L = np.zeros((7, 7))
    G = np.zeros((7, 2))
    L[ix["alliance"], ix["alliance"]] = p["phi_alliance"]
    L[ix["alliance"], ix["engagement"]] = p["engagement_to_alliance"]
    L[ix["alliance"], ix["outcome"]] = p["outcome_to_alliance"]
    G[ix["alliance"]] = p["empathy_to_alliance"], p["autonomy_support_to_alliance"]
    for need in ("autonomy", "competence", "relatedness"):
        C[ix[need], ix["alliance"]] = p[f"alliance_to_{need}"]
        C[ix["motivation"], ix[need]] = p[f"{need}_to_motivation"]
    G[ix["autonomy"], 1] = p["autonomy_support_to_autonomy"]
    G[ix["relatedness"], 0] = p["empathy_to_relatedness"]
    C[ix["engagement"], ix["motivation"]] = p["motivation_to_engagement"]
    C[ix["outcome"], ix["engagement"]] = p["engagement_to_outcome"]
    L[ix["outcome"], ix["outcome"]] = p["phi_outcome"]
    L[ix["outcome"], ix["alliance"]] = p["alliance_to_outcome"]
    res_sd = np.array([p["residual_sd_alliance"]] + [p["residual_sd_needs"]] * 3
                      + [p["residual_sd_motivation"], p["residual_sd_engagement"], p["residual_sd_outcome"]])
    return C, L, G, np.diag(res_sd**2)


def _trait_cov(p):
    sds = np.array([p["client_sd_alliance"]] + [p["client_sd_needs"]] * 3
                   + [p["client_sd_motivation"], p["client_sd_engagement"], p["client_sd_outcome"]])
    R = np.full((7, 7), p["trait_correlation"])
    R[0, 6] = R[6, 0] = p["trait_corr_alliance_outcome"]
    np.fill_diagonal(R, 1.0)
    return np.outer(sds, sds) * R


def _check(n_therapists, clients_per_therapist, n_sessions, effects):
    problems = []
    for name, value, low in (("n_therapists", n_therapists, 1), ("clients_per_therapist", clients_per_therapist, 1),
                             ("n_sessions", n_sessions, 2)):
        if not isinstance(value, (int, np.integer)) or value < low:
            problems.append(f"{name} must be an integer >= {low}; got {value!r}")
    unknown = sorted(set(effects) - set(SDT_DEFAULTS))
    if unknown:
        problems.append(f"unknown effect name(s) {unknown}; valid names: {sorted(SDT_DEFAULTS)}")
    if problems:
        raise OptionError("sdt_cycle(): " + "; ".join(problems))


def sdt_cycle(n_therapists: int, clients_per_therapist: int, n_sessions: int, *, seed, **effects):
    """Simulate session data from the cyclical alliance / SDT model, with its population values.

    The model (therapist, client and within-client parts; behaviours -> alliance -> needs -> motivation ->
    engagement -> outcome -> next session's alliance; dropout driven by early alliance) is stated in this
    module's docstring. Any value of :data:`SDT_DEFAULTS` can be overridden by keyword.

    Parameters
    ----------
    n_therapists, clients_per_therapist, n_sessions : int
        Design size. Sessions are numbered 1..n_sessions; missed sessions and sessions after dropout are absent.
    seed : int, numpy.random.SeedSequence or None
        Required: the same seed gives the same data, bit for bit. ``None`` draws a fresh seed; either way the
        seed used is ``truth["seed"]``.
    **effects : float
        Population values to change (see :data:`SDT_DEFAULTS`).

    Returns
    -------
    data : pandas.DataFrame
        Long session table (columns listed in the module docstring), sorted by client and session.
    truth : dict
        ``params`` (every input value), ``means``, ``slopes``, ``sd`` (therapist / client / within),
        ``icc``, ``within_paths`` (contemporaneous and lag-1 paths of the within process),
        ``stationary_cov`` (within covariance of the state vector), ``dropout`` (hazard coefficients),
        ``therapist_effects`` and ``client_effects`` (the realised random effects), ``seed`` (the seed used).

    Examples
    --------
    >>> data, truth = sdt_cycle(4, 5, 8, seed=11)
    >>> int(data["client"].nunique()), int(data["session"].max()) <= 8
    (20, True)
    >>> truth["within_paths"]["lag1"]["alliance -> outcome"]
    4.0
    >>> truth["seed"]
    11
    """
    _check(n_therapists, clients_per_therapist, n_sessions, effects)
    p = dict(SDT_DEFAULTS)
    p.update({k: float(v) for k, v in effects.items()})
    rng, recorded = generator(seed)
    n_clients = n_therapists * clients_per_therapist

    C, L, G, S_eps = _within_system(p)
    inv = np.linalg.inv(np.eye(7) - C)
    Phi = inv @ L
    S_b = np.eye(2) * p["within_sd_behaviour"] ** 2
    Q = inv @ (G @ S_b @ G.T + S_eps) @ inv.T
    if np.max(np.abs(np.linalg.eigvals(Phi))) >= 1:
        raise OptionError("sdt_cycle(): the lagged effects make the within-client process explosive "
                          "(largest eigenvalue of the transition matrix >= 1); use smaller lagged effects.")
    stationary = solve_discrete_lyapunov(Phi, Q)

    # therapist level
    ther_b = rng.normal(0.0, p["therapist_sd_behaviour"], size=(n_therapists, 2))
    ther_a = p["therapist_behaviour_to_alliance"] * ther_b.mean(axis=1) + rng.normal(
        0.0, p["therapist_sd_alliance"], n_therapists)
    ther_y = rng.normal(0.0, p["therapist_sd_outcome"], n_therapists)
    ther_of_client = np.repeat(np.arange(n_therapists), clients_per_therapist)

    # client level
    traits = correlated_normal(rng, _trait_cov(p), n_clients, what="client trait covariance (client_sd_*, "
                               "trait_correlation, trait_corr_alliance_outcome)")

    means = np.array([p["mean_alliance"], p["mean_autonomy"], p["mean_competence"], p["mean_relatedness"],
                      p["mean_motivation"], p["mean_engagement"], p["mean_outcome"]])
    slopes = np.zeros(7)
    slopes[0], slopes[6] = p["slope_alliance"], p["slope_outcome"]
    fixed_part = np.zeros((n_clients, 7))
    fixed_part[:, 0] = ther_a[ther_of_client]
    fixed_part[:, 6] = ther_y[ther_of_client]
    fixed_part += traits

    states = np.empty((n_sessions, n_clients, 7))
    behav = np.empty((n_sessions, n_clients, 2))
    chol_q = cholesky_factor(S_eps, what="within-client residual covariance (residual_sd_*)")
    # s_0 from the stationary distribution, so every observed session (s_1, s_2, ...) is stationary too
    s = correlated_normal(rng, stationary, n_clients, what="stationary within-client covariance")
    for t in range(n_sessions):
        b = rng.normal(0.0, p["within_sd_behaviour"], size=(n_clients, 2))
        eps = rng.standard_normal((n_clients, 7)) @ chol_q.T
        s = (s @ L.T + b @ G.T + eps) @ inv.T
        states[t], behav[t] = s, b

    session = np.arange(1, n_sessions + 1)
    observed = means + slopes * (session - 1)[:, None, None] + fixed_part[None] + states  # (T, N, 7)
    behaviour_obs = (np.array([p["mean_empathy"], p["mean_autonomy_support"]])
                     + ther_b[ther_of_client][None] + behav)

    # measurement: WAI-SR items and SRS from the alliance score
    alliance = observed[..., 0]
    item_client = rng.normal(0.0, p["item_client_sd"], size=(n_clients, 12))  # a client's stable item-specific view
    items = np.clip(np.rint(alliance[..., None] + item_client[None]
                            + rng.normal(0, p["item_sd"], size=alliance.shape + (12,))), 1, 5)
    srs = np.clip(np.round(4.0 + 8.5 * (alliance - 1.0) + rng.normal(0, p["srs_sd"], alliance.shape), 1), 0, 40)

    # attendance: missed sessions and dropout after session t >= 2, hazard driven by early alliance
    early = alliance[:2].mean(axis=0)
    hazard = 1.0 / (1.0 + np.exp(-(p["dropout_intercept"]
                                   + p["dropout_early_alliance"] * (early - p["mean_alliance"]))))
    last = np.full(n_clients, n_sessions)
    dropped = np.zeros(n_clients, dtype=bool)
    for t in range(2, n_sessions):  # may drop out after session t (1-based), t = 2..n_sessions-1
        leave = (~dropped) & (rng.random(n_clients) < hazard)
        last[leave] = t
        dropped |= leave
    attended = rng.random((n_sessions, n_clients)) >= p["p_missed"]
    attended[0] = True
    attended &= session[:, None] <= last[None]
    attended[last - 1, np.arange(n_clients)] = True  # the dropout session itself is observed

    t_idx, c_idx = np.nonzero(attended)
    order = np.lexsort((t_idx, c_idx))
    t_idx, c_idx = t_idx[order], c_idx[order]
    width = len(str(n_clients))
    client_ids = np.array([f"C{k + 1:0{width}d}" for k in range(n_clients)])
    ther_ids = np.array([f"T{k + 1:0{len(str(n_therapists))}d}" for k in range(n_therapists)])
    frame = {"therapist": ther_ids[ther_of_client[c_idx]], "client": client_ids[c_idx], "session": session[t_idx]}
    frame["empathy"] = np.clip(behaviour_obs[t_idx, c_idx, 0], 1, 7)
    frame["autonomy_support"] = np.clip(behaviour_obs[t_idx, c_idx, 1], 1, 7)
    for k in range(12):
        frame[f"wai_{k + 1}"] = items[t_idx, c_idx, k].astype(np.int64)
    for name, idx in WAI_SUBSCALES.items():
        frame[f"wai_{name}"] = items[t_idx, c_idx][:, [i - 1 for i in idx]].mean(axis=1)
    frame["srs"] = srs[t_idx, c_idx]
    for k, name in enumerate(STATE):
        lo, hi = _RANGES[name]
        frame[name] = np.clip(observed[t_idx, c_idx, k], lo, hi)
    data = pd.DataFrame(frame)
    data.insert(data.columns.get_loc("motivation"), "needs",
                data[["autonomy", "competence", "relatedness"]].mean(axis=1))
    data["days_use"] = np.clip(np.rint(7.0 * (1.0 - data["outcome"] / 100.0)), 0, 7).astype(np.int64)
    data["dropout"] = (dropped[c_idx] & (session[t_idx] == last[c_idx])).astype(np.int64)
    _blank_measures(data, rng, p["p_missing_measure"])

    truth = _truth(p, stationary, C, L, G, ther_ids, ther_b, ther_a, ther_y, client_ids, ther_of_client, traits,
                   dropped, last, early)
    truth["seed"] = recorded
    return data, truth


# measures left unanswered at an attended session (MCAR), with the columns scored from them
_MISSING_BLOCKS = {
    "alliance": ["alliance", *(f"wai_{k}" for k in range(1, 13)), "wai_goal", "wai_task", "wai_bond"],
    "autonomy": ["autonomy", "needs"], "competence": ["competence", "needs"], "relatedness": ["relatedness", "needs"],
    "motivation": ["motivation"], "engagement": ["engagement"], "outcome": ["outcome", "days_use"],
}


def _blank_measures(data, rng, prob):
    """Set each measure block missing with probability ``prob`` per attended session (missing completely at random)."""
    if prob <= 0:
        return
    for cols in _MISSING_BLOCKS.values():
        gone = rng.random(len(data)) < prob
        for c in cols:
            if data[c].dtype.kind in "iu":
                data[c] = data[c].astype(np.float64)
            data.loc[gone, c] = np.nan


def _truth(p, stationary, C, L, G, ther_ids, ther_b, ther_a, ther_y, client_ids, ther_of_client, traits,
           dropped, last, early):
    trait_cov = _trait_cov(p)
    within_var = dict(zip(STATE, np.diag(stationary)))
    within_var.update({b: p["within_sd_behaviour"] ** 2 for b in BEHAVIOURS})
    ther_var = dict.fromkeys(STATE, 0.0)
    ther_var["alliance"] = (p["therapist_behaviour_to_alliance"] ** 2 * p["therapist_sd_behaviour"] ** 2 / 2
                            + p["therapist_sd_alliance"] ** 2)
    ther_var["outcome"] = p["therapist_sd_outcome"] ** 2
    ther_var.update({b: p["therapist_sd_behaviour"] ** 2 for b in BEHAVIOURS})
    client_var = dict(zip(STATE, np.diag(trait_cov)))
    client_var.update(dict.fromkeys(BEHAVIOURS, 0.0))
    icc = {}
    for v in (*STATE, *BEHAVIOURS):
        total = ther_var[v] + client_var[v] + within_var[v]
        icc[v] = {"therapist": float(ther_var[v] / total), "client": float(client_var[v] / total),
                  "client_and_therapist": float((ther_var[v] + client_var[v]) / total)}
    names = list(STATE)
    beh = list(BEHAVIOURS)
    contemporaneous = {f"{names[j]} -> {names[i]}": float(C[i, j]) for i in range(7) for j in range(7) if C[i, j]}
    contemporaneous.update({f"{beh[j]} -> {names[i]}": float(G[i, j]) for i in range(7) for j in range(2) if G[i, j]})
    lag1 = {f"{names[j]} -> {names[i]}": float(L[i, j]) for i in range(7) for j in range(7) if L[i, j]}
    means = {v: p[f"mean_{v}"] for v in (*STATE, *BEHAVIOURS)}
    slopes = {v: p.get(f"slope_{v}", 0.0) for v in (*STATE, *BEHAVIOURS)}
    therapist_effects = pd.DataFrame({"therapist": ther_ids, "empathy": ther_b[:, 0], "autonomy_support": ther_b[:, 1],
                                      "alliance": ther_a, "outcome": ther_y})
    client_effects = pd.DataFrame(traits, columns=list(STATE))
    client_effects.insert(0, "therapist", ther_ids[ther_of_client])
    client_effects.insert(0, "client", client_ids)
    client_effects["early_alliance"] = early
    client_effects["dropped_out"] = dropped
    client_effects["last_session"] = last
    return {
        "params": dict(p),
        "means": means,
        "slopes": slopes,
        "sd": {"therapist": {k: float(np.sqrt(v)) for k, v in ther_var.items()},
               "client": {k: float(np.sqrt(v)) for k, v in client_var.items()},
               "within": {k: float(np.sqrt(v)) for k, v in within_var.items()}},
        "icc": icc,
        "within_paths": {"contemporaneous": contemporaneous, "lag1": lag1},
        "stationary_cov": pd.DataFrame(stationary, index=names, columns=names),
        "trait_cov": pd.DataFrame(trait_cov, index=names, columns=names),
        "dropout": {"intercept": p["dropout_intercept"], "early_alliance": p["dropout_early_alliance"],
                    "centre": p["mean_alliance"], "at_risk_sessions": "2 .. n_sessions-1"},
        "therapist_effects": therapist_effects,
        "client_effects": client_effects,
    }
