"""Simulated process data with known truth: coded MI sessions with a lag effect, and dyad signals with synchrony.

:func:`simulate_mi_sessions` — therapists, their clients and the clients' sessions; in each session therapist and
client take turns. The therapist's turn is coded with MITI 4 codes (``Q``, ``SR``, ``CR``, ``AF``, ``SEEK``,
``GI``, ``PERSUADE``); the therapist's share of reflections varies between therapists. The client's turn is change
talk ``CT``, sustain talk ``ST`` or follow/neutral ``FN``:

.. math:: \\operatorname{logit} P(\\mathrm{CT}_t) = \\beta_0 + \\beta_1\\,\\mathrm{reflection}_{t-1}
          + u_{\\text{therapist}} + u_{\\text{client}} + u_{\\text{session}},

with normal random intercepts; a client turn that is not change talk is sustain talk with probability
``p_sustain``. ``truth["lag_log_odds_ratio"]`` is :math:`\\beta_1` (conditional on the random effects; a pooled
analysis estimates a smaller, marginal value). Turns carry onset and offset times (seconds).

:func:`simulate_behaviour_chain` — behaviour -> alliance -> needs: the same coded sessions, plus one row of
ratings per session. Session *t* of client *i* of therapist *j* has its own log-odds of reflecting,
:math:`\\operatorname{logit}(\\pi) + v_j + v_i + v_{it}` (``reflection_rate`` = :math:`\\pi`; normal parts with SDs
``sd_reflection_therapist``, ``sd_reflection_client``, ``sd_reflection_session``), so the behaviour varies between
therapists, between clients and from session to session. :math:`r_{it}` is the share of reflections (``SR``,
``CR``) among the session's therapist utterances as coded — the ``reflection_rate`` that
:func:`allianceStats.process.behaviour_rates` computes — and :math:`\\bar r_i` its mean over the client's sessions.
The ratings are

.. math::
    A_{it} &= \\alpha_0 + a_W (r_{it} - \\bar r_i) + a_B \\bar r_i + u^A_j + u^A_i + e^A_{it} \\\\
    N_{it} &= \\nu_0 + b_W (A_{it} - \\bar A_i) + b_B \\bar A_i + c'_W (r_{it} - \\bar r_i) + c'_B \\bar r_i
              + u^N_j + u^N_i + e^N_{it}

(alliance ``A``, need satisfaction ``N``; independent normal therapist, client and session parts with SDs
``sd_alliance_*`` and ``sd_needs_*``). The client means are the observed means of the simulated sessions — the
means :func:`allianceStats.decompose` computes —, so ``alliance ~ rate_within + rate_between`` with therapist and
client intercepts, and the 1-1-1 mediation rate -> alliance -> needs (:func:`allianceStats.fit_multilevel_mediation`)
are correctly specified and estimate :math:`a_W, a_B, b_W, b_B, c'_W, c'_B` without bias; the within-client indirect
effect is :math:`a_W b_W` (no random slopes) and the between one :math:`a_B b_B`. (With latent client means the
between slopes of such models would carry the sampling-error bias of observed means; Lüdtke et al. 2008,
*Psychol. Methods* 13(3), 203-229.) The defaults (:data:`CHAIN_DEFAULTS`) put the alliance on a WAI-SR-like scale
(mean about 3.5, no clipping) with a 10-point rise in the session's reflection share raising it by
:math:`0.1 a_W` = 0.2.

:func:`simulate_dyad_signals` — two signals per dyad (e.g. client and therapist movement energy) at
``sampling_rate`` Hz: the client's is an AR(1) process; the therapist's follows it by ``lag_seconds`` with
correlation ``coupling`` (plus independent AR(1) noise), so windowed cross-correlation peaks at +``lag_seconds``.

All use only ``rng.normal`` / ``rng.random`` / ``rng.exponential`` of a seeded :class:`numpy.random.Generator`, so the
same seed gives the same data on every machine.

Example
-------
>>> from allianceStats.simulate.process import simulate_mi_sessions
>>> events, truth = simulate_mi_sessions(n_therapists=2, clients_per_therapist=2, sessions_per_client=2,
...                                      turns_per_session=10, seed=1)
>>> events.columns.tolist()
['therapist', 'client', 'session', 'order', 'speaker', 'code', 'onset', 'offset']
>>> truth["lag_log_odds_ratio"]
0.8
"""
from __future__ import annotations

import warnings
from types import MappingProxyType

import numpy as np
import pandas as pd

from ..data.checks import check_number, check_positive_int, resolve_seed
from ..errors import DataWarning, OptionError

__all__ = ["simulate_mi_sessions", "simulate_behaviour_chain", "CHAIN_DEFAULTS", "simulate_dyad_signals"]

THERAPIST_CODES = ("Q", "SR", "CR", "AF", "SEEK", "GI", "PERSUADE")
REFLECTIONS = ("SR", "CR")
COLUMNS = ["therapist", "client", "session", "order", "speaker", "code", "onset", "offset"]
#: largest number of coded events simulate_behaviour_chain makes (a bigger design is almost surely a typo)
MAX_EVENTS = 20_000_000


def _logistic(z):
    return 1.0 / (1.0 + np.exp(-z))


def _coded_session(rng: np.random.Generator, p_reflection: float, intercept: float, effects: tuple[float, ...],
                   lag_log_odds_ratio: float, p_sustain: float, turns: int) -> tuple[pd.DataFrame, float]:
    """One coded session of ``turns`` therapist-client turns, and its share of reflections among therapist turns.

    The therapist reflects with probability ``p_reflection`` (half simple, half complex), otherwise uses one of
    the other MITI 4 codes with equal probability; the client's next turn is change talk with log odds
    ``intercept + lag_log_odds_ratio * reflection + sum(effects)`` (the random intercepts, added in that order),
    else sustain talk with probability ``p_sustain``, else
    follow/neutral. Draw order (kept fixed: seeded data sets depend on it): reflection, kind, change talk,
    sustain talk, durations, gaps.
    """
    others = [c for c in THERAPIST_CODES if c not in REFLECTIONS]
    refl = rng.random(turns) < p_reflection
    kind = rng.random(turns)
    t_code = np.where(refl, np.where(kind < 0.5, "SR", "CR"),
                      np.array(others)[np.minimum((kind * len(others)).astype(int), len(others) - 1)])
    eta = intercept + lag_log_odds_ratio * refl
    for u in effects:
        eta = eta + u
    ct = rng.random(turns) < _logistic(eta)
    st = rng.random(turns) < p_sustain
    c_code = np.where(ct, "CT", np.where(st, "ST", "FN"))
    dur = 1.0 + rng.exponential(3.0, 2 * turns)
    gaps = rng.exponential(0.5, 2 * turns)
    onset = np.cumsum(np.r_[0.0, (dur + gaps)[:-1]])
    codes = np.empty(2 * turns, dtype=object)
    codes[0::2], codes[1::2] = t_code, c_code
    frame = pd.DataFrame({"order": np.arange(1, 2 * turns + 1), "speaker": np.tile(["therapist", "client"], turns),
                          "code": codes, "onset": np.round(onset, 3), "offset": np.round(onset + dur, 3)})
    return frame, float(refl.mean())


def simulate_mi_sessions(n_therapists: int = 10, clients_per_therapist: int = 6, sessions_per_client: int = 4,
                         turns_per_session: int = 40, *, lag_log_odds_ratio: float = 0.8, intercept: float = -1.0,
                         sd_therapist: float = 0.5, sd_client: float = 0.6, sd_session: float = 0.4,
                         reflection_rate: float = 0.35, sd_reflection: float = 0.8, p_sustain: float = 0.5,
                         seed: int | None = None) -> tuple[pd.DataFrame, dict]:
    """Coded MI sessions with a known lag effect of therapist reflections on client change talk (module docstring).

    Parameters
    ----------
    n_therapists, clients_per_therapist, sessions_per_client, turns_per_session : int
        Design sizes; a turn is one therapist utterance followed by one client utterance.
    lag_log_odds_ratio : float
        :math:`\\beta_1`, the log odds ratio of change talk after a reflection (vs after any other code).
    intercept : float
        :math:`\\beta_0`.
    sd_therapist, sd_client, sd_session : float
        SDs of the random intercepts of change talk.
    reflection_rate, sd_reflection : float
        Mean share of reflections among therapist codes, and the SD of the therapists' log-odds of reflecting.
    p_sustain : float
        P(sustain talk | not change talk).
    seed : int, optional
        Seed (recorded in ``truth["seed"]``).

    Returns
    -------
    (pandas.DataFrame, dict)
        The coded events (``therapist, client, session, order, speaker, code, onset, offset``) and the truth.
    """
    for name, v in (("n_therapists", n_therapists), ("clients_per_therapist", clients_per_therapist),
                    ("sessions_per_client", sessions_per_client), ("turns_per_session", turns_per_session)):
        check_positive_int(name, v)
    if not 0 < reflection_rate < 1 or not 0 <= p_sustain <= 1:
        raise OptionError(f"reflection_rate={reflection_rate!r} must be in (0, 1) and p_sustain={p_sustain!r} in "
                          "[0, 1]")
    seed = resolve_seed(seed)
    rng = np.random.default_rng(seed)
    u_t = rng.normal(0.0, sd_therapist, n_therapists)
    refl_t = np.log(reflection_rate / (1 - reflection_rate)) + rng.normal(0.0, sd_reflection, n_therapists)
    n_c = n_therapists * clients_per_therapist
    u_c = rng.normal(0.0, sd_client, n_c)
    rows = []
    for t in range(n_therapists):
        for ci in range(clients_per_therapist):
            c = t * clients_per_therapist + ci
            for s in range(1, sessions_per_client + 1):
                u_s = rng.normal(0.0, sd_session)
                frame, _ = _coded_session(rng, _logistic(refl_t[t]), intercept, (u_t[t], u_c[c], u_s),
                                          lag_log_odds_ratio, p_sustain, turns_per_session)
                rows.append(frame.assign(therapist=f"t{t + 1:02d}", client=f"c{c + 1:03d}", session=s)[COLUMNS])
    events = pd.concat(rows, ignore_index=True)
    truth = {"lag_log_odds_ratio": float(lag_log_odds_ratio), "intercept": float(intercept),
             "sd_therapist": sd_therapist, "sd_client": sd_client, "sd_session": sd_session,
             "given": list(REFLECTIONS), "target": "CT", "at": ["CT", "ST", "FN"], "seed": seed}
    return events, truth


#: defaults of :func:`simulate_behaviour_chain`; any of them can be overridden by keyword (module docstring)
CHAIN_DEFAULTS = MappingProxyType({
    "reflection_rate": 0.35, "sd_reflection_therapist": 0.5, "sd_reflection_client": 0.3,
    "sd_reflection_session": 0.5,
    "alliance_intercept": 3.0, "alliance_within": 2.0, "alliance_between": 1.5,
    "sd_alliance_therapist": 0.2, "sd_alliance_client": 0.4, "sd_alliance_session": 0.3,
    "needs_intercept": 2.0, "needs_within": 0.5, "needs_between": 0.4, "direct_within": 0.0, "direct_between": 0.0,
    "sd_needs_therapist": 0.1, "sd_needs_client": 0.4, "sd_needs_session": 0.3,
    "lag_log_odds_ratio": 0.8, "change_talk_intercept": -1.0, "sd_change_talk_therapist": 0.5,
    "sd_change_talk_client": 0.6, "sd_change_talk_session": 0.4, "p_sustain": 0.5,
})


def simulate_behaviour_chain(n_therapists: int = 10, clients_per_therapist: int = 6, sessions_per_client: int = 6,
                             turns_per_session: int = 40, *, seed: int | None = None,
                             **effects: float) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Coded MI sessions with session ratings of alliance and need satisfaction: behaviour -> alliance -> needs.

    The therapist's share of reflections varies between therapists, between the clients of a therapist and from
    session to session of a client; the session's alliance depends on the reflection share it actually had, and
    need satisfaction on the alliance (module docstring, "behaviour -> alliance -> needs"). The coded events are
    generated as in :func:`simulate_mi_sessions` (MITI 4 therapist codes, client change talk with a lag effect of
    reflections); the ratings are one row per session. The within-client and between-client slopes are known, so
    ``alliance ~ rate_within + rate_between`` and the 1-1-1 mediation reflections -> alliance -> needs can be
    checked against ``truth``.

    Parameters
    ----------
    n_therapists, clients_per_therapist, sessions_per_client, turns_per_session : int
        Design sizes; a turn is one therapist utterance followed by one client utterance.
    seed : int, optional
        Seed of a :class:`numpy.random.Generator` (recorded in ``truth["seed"]``); the same seed gives the same
        data on every machine.
    **effects : float
        Any value of :data:`CHAIN_DEFAULTS` (module docstring): ``reflection_rate`` and the SDs of the reflection
        log-odds (``sd_reflection_therapist``, ``sd_reflection_client``, ``sd_reflection_session``); the alliance
        equation (``alliance_intercept``, ``alliance_within`` = :math:`a_W`, ``alliance_between`` = :math:`a_B`,
        ``sd_alliance_therapist``, ``sd_alliance_client``, ``sd_alliance_session``); the needs equation
        (``needs_intercept``, ``needs_within`` = :math:`b_W`, ``needs_between`` = :math:`b_B`, ``direct_within``
        = :math:`c'_W`, ``direct_between`` = :math:`c'_B`, ``sd_needs_*``); change talk (``lag_log_odds_ratio``,
        ``change_talk_intercept``, ``sd_change_talk_*``, ``p_sustain``).

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame, dict)
        The coded events (``therapist, client, session, order, speaker, code, onset, offset``), the session
        ratings (``therapist, client, session, alliance, needs``) and the truth: every value of
        :data:`CHAIN_DEFAULTS` as used, ``within_indirect`` (:math:`a_W b_W`), ``between_indirect``
        (:math:`a_B b_B`), ``rate`` (``"reflection_rate"``, the column :func:`allianceStats.process.
        behaviour_rates` gives for the rate the model uses), ``given``/``target``/``at`` (the lag model's codes,
        as in :func:`simulate_mi_sessions`) and ``seed``.

    Raises
    ------
    OptionError
        An unknown effect name, a negative SD, a ``reflection_rate`` / ``p_sustain`` outside its range, or a design
        of more than :data:`MAX_EVENTS` coded events.

    Examples
    --------
    >>> events, sessions, truth = simulate_behaviour_chain(2, 2, 3, turns_per_session=10, seed=1)
    >>> sessions.columns.tolist(), len(sessions), len(events)
    (['therapist', 'client', 'session', 'alliance', 'needs'], 12, 240)
    >>> truth["alliance_within"], truth["within_indirect"]
    (2.0, 1.0)
    """
    unknown = sorted(set(effects) - set(CHAIN_DEFAULTS))
    if unknown:
        raise OptionError(f"simulate_behaviour_chain(): unknown effect(s) {unknown}; the effects are "
                          f"{sorted(CHAIN_DEFAULTS)}")
    for name, v in (("n_therapists", n_therapists), ("clients_per_therapist", clients_per_therapist),
                    ("sessions_per_client", sessions_per_client), ("turns_per_session", turns_per_session)):
        check_positive_int(name, v)
    n_events = 2 * n_therapists * clients_per_therapist * sessions_per_client * turns_per_session
    if n_events > MAX_EVENTS:
        raise OptionError(f"simulate_behaviour_chain(): {n_therapists} therapists x {clients_per_therapist} clients x "
                          f"{sessions_per_client} sessions x {turns_per_session} turns would make {n_events:,} coded "
                          f"events (more than {MAX_EVENTS:,}, several GB); choose a smaller design")
    if sessions_per_client == 1:
        warnings.warn("simulate_behaviour_chain(): with one session per client every within-client deviation is 0, "
                      "so the within-client paths (a_W, b_W, c'_W) cannot be estimated from these data; use "
                      "sessions_per_client >= 2", DataWarning, stacklevel=2)
    p = {k: check_number(k, effects.get(k, v), minimum=0.0 if k.startswith("sd_") else None)
         for k, v in CHAIN_DEFAULTS.items()}
    if not 0 < p["reflection_rate"] < 1 or not 0 <= p["p_sustain"] <= 1:
        raise OptionError(f"reflection_rate={p['reflection_rate']!r} must be in (0, 1) and "
                          f"p_sustain={p['p_sustain']!r} in [0, 1]")
    seed = resolve_seed(seed)
    rng = np.random.default_rng(seed)
    n_c, n_s = n_therapists * clients_per_therapist, sessions_per_client
    # therapist, then client parts of: reflection log-odds, change talk, alliance, needs
    parts = {level: {what: rng.normal(0.0, p[f"sd_{what}_{level}"], size)
                     for what in ("reflection", "change_talk", "alliance", "needs")}
             for level, size in (("therapist", n_therapists), ("client", n_c))}
    therapist_of = np.repeat(np.arange(n_therapists), clients_per_therapist)
    base = np.log(p["reflection_rate"] / (1 - p["reflection_rate"]))
    rows, rate = [], np.empty((n_c, n_s))
    for c in range(n_c):
        t = therapist_of[c]
        for s in range(n_s):
            logit_refl = base + parts["therapist"]["reflection"][t] + parts["client"]["reflection"][c] \
                + rng.normal(0.0, p["sd_reflection_session"])
            u_s = rng.normal(0.0, p["sd_change_talk_session"])
            frame, rate[c, s] = _coded_session(
                rng, _logistic(logit_refl), p["change_talk_intercept"],
                (parts["therapist"]["change_talk"][t], parts["client"]["change_talk"][c], u_s),
                p["lag_log_odds_ratio"], p["p_sustain"], turns_per_session)
            rows.append(frame.assign(therapist=f"t{t + 1:02d}", client=f"c{c + 1:03d}", session=s + 1)[COLUMNS])
    events = pd.concat(rows, ignore_index=True)

    def level_effects(what):  # therapist + client intercepts, one row per client, broadcast over sessions
        return (parts["therapist"][what][therapist_of] + parts["client"][what])[:, None]

    rate_between = rate.mean(axis=1, keepdims=True)
    alliance = (p["alliance_intercept"] + p["alliance_within"] * (rate - rate_between)
                + p["alliance_between"] * rate_between + level_effects("alliance")
                + rng.normal(0.0, p["sd_alliance_session"], (n_c, n_s)))
    alliance_between = alliance.mean(axis=1, keepdims=True)
    needs = (p["needs_intercept"] + p["needs_within"] * (alliance - alliance_between)
             + p["needs_between"] * alliance_between + p["direct_within"] * (rate - rate_between)
             + p["direct_between"] * rate_between + level_effects("needs")
             + rng.normal(0.0, p["sd_needs_session"], (n_c, n_s)))
    sessions = pd.DataFrame({"therapist": [f"t{therapist_of[c] + 1:02d}" for c in range(n_c) for _ in range(n_s)],
                             "client": [f"c{c + 1:03d}" for c in range(n_c) for _ in range(n_s)],
                             "session": np.tile(np.arange(1, n_s + 1), n_c),
                             "alliance": alliance.ravel(), "needs": needs.ravel()})
    truth = {**p, "within_indirect": p["alliance_within"] * p["needs_within"],
             "between_indirect": p["alliance_between"] * p["needs_between"], "rate": "reflection_rate",
             "given": list(REFLECTIONS), "target": "CT", "at": ["CT", "ST", "FN"], "seed": seed}
    return events, sessions, truth


def simulate_dyad_signals(n_dyads: int = 10, minutes: float = 10.0, sampling_rate: float = 25.0, *,
                          coupling: float | np.ndarray = 0.4, lag_seconds: float = 1.0, ar: float = 0.95,
                          seed: int | None = None) -> tuple[pd.DataFrame, dict]:
    """Dyad signals with known synchrony: the therapist's signal follows the client's (module docstring).

    Returns a long table ``dyad, sample, seconds, client_signal, therapist_signal`` and the truth (``coupling``
    per dyad, ``lag_seconds``, ``seed``). ``coupling`` is one correlation for all dyads or one per dyad.

    Examples
    --------
    >>> sig, truth = simulate_dyad_signals(n_dyads=2, minutes=1, sampling_rate=10, seed=1)
    >>> len(sig), truth["lag_seconds"]
    (1200, 1.0)
    """
    check_positive_int("n_dyads", n_dyads)
    n = int(round(minutes * 60 * sampling_rate))
    shift = int(round(lag_seconds * sampling_rate))
    if n <= shift + 2:
        raise OptionError(f"minutes={minutes!r} is too short for lag_seconds={lag_seconds!r}")
    if not -1 < ar < 1:
        raise OptionError(f"ar={ar!r} must be in (-1, 1)")
    cpl = np.broadcast_to(np.asarray(coupling, dtype=float), (n_dyads,)).copy()
    if np.any(np.abs(cpl) > 1):
        raise OptionError("coupling must lie in [-1, 1]")
    seed = resolve_seed(seed)
    rng = np.random.default_rng(seed)

    def ar1(size):
        e = rng.normal(0.0, np.sqrt(1 - ar**2), size)
        out = np.empty(size)
        out[0] = rng.normal()
        for i in range(1, size):
            out[i] = ar * out[i - 1] + e[i]
        return out

    parts = []
    for d in range(n_dyads):
        x = ar1(n + shift)
        noise = ar1(n)
        y = cpl[d] * x[:n] + np.sqrt(1 - cpl[d] ** 2) * noise
        parts.append(pd.DataFrame({"dyad": f"d{d + 1:02d}", "sample": np.arange(n),
                                   "seconds": np.arange(n) / sampling_rate, "client_signal": x[shift:shift + n],
                                   "therapist_signal": y}))
    return pd.concat(parts, ignore_index=True), {"coupling": cpl.tolist(), "lag_seconds": float(lag_seconds),
                                                 "seed": seed}
