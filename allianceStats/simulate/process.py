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

:func:`simulate_dyad_signals` — two signals per dyad (e.g. client and therapist movement energy) at
``sampling_rate`` Hz: the client's is an AR(1) process; the therapist's follows it by ``lag_seconds`` with
correlation ``coupling`` (plus independent AR(1) noise), so windowed cross-correlation peaks at +``lag_seconds``.

Both use only ``rng.normal`` / ``rng.random`` / ``rng.choice`` of a seeded :class:`numpy.random.Generator`, so the
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

import numpy as np
import pandas as pd

from ..data.checks import check_positive_int, resolve_seed
from ..errors import OptionError

__all__ = ["simulate_mi_sessions", "simulate_dyad_signals"]

THERAPIST_CODES = ("Q", "SR", "CR", "AF", "SEEK", "GI", "PERSUADE")
REFLECTIONS = ("SR", "CR")


def _logistic(z):
    return 1.0 / (1.0 + np.exp(-z))


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
    others = [c for c in THERAPIST_CODES if c not in REFLECTIONS]
    n_c = n_therapists * clients_per_therapist
    u_c = rng.normal(0.0, sd_client, n_c)
    rows = []
    for t in range(n_therapists):
        for ci in range(clients_per_therapist):
            c = t * clients_per_therapist + ci
            for s in range(1, sessions_per_client + 1):
                u_s = rng.normal(0.0, sd_session)
                p_refl = _logistic(refl_t[t])
                refl = rng.random(turns_per_session) < p_refl
                kind = rng.random(turns_per_session)
                t_code = np.where(refl, np.where(kind < 0.5, "SR", "CR"),
                                  np.array(others)[np.minimum((kind * len(others)).astype(int), len(others) - 1)])
                eta = intercept + lag_log_odds_ratio * refl + u_t[t] + u_c[c] + u_s
                ct = rng.random(turns_per_session) < _logistic(eta)
                st = rng.random(turns_per_session) < p_sustain
                c_code = np.where(ct, "CT", np.where(st, "ST", "FN"))
                dur = 1.0 + rng.exponential(3.0, 2 * turns_per_session)
                gaps = rng.exponential(0.5, 2 * turns_per_session)
                onset = np.cumsum(np.r_[0.0, (dur + gaps)[:-1]])
                codes = np.empty(2 * turns_per_session, dtype=object)
                codes[0::2], codes[1::2] = t_code, c_code
                rows.append(pd.DataFrame({
                    "therapist": f"t{t + 1:02d}", "client": f"c{c + 1:03d}", "session": s,
                    "order": np.arange(1, 2 * turns_per_session + 1),
                    "speaker": np.tile(["therapist", "client"], turns_per_session), "code": codes,
                    "onset": np.round(onset, 3), "offset": np.round(onset + dur, 3)}))
    events = pd.concat(rows, ignore_index=True)
    truth = {"lag_log_odds_ratio": float(lag_log_odds_ratio), "intercept": float(intercept),
             "sd_therapist": sd_therapist, "sd_client": sd_client, "sd_session": sd_session,
             "given": list(REFLECTIONS), "target": "CT", "at": ["CT", "ST", "FN"], "seed": seed}
    return events, truth


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
