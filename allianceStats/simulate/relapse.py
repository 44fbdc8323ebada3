r"""Alliance trajectories and relapse times with known truth: relapse hazard on the *current true* alliance.

Model (the shared-parameter joint model of Rizopoulos 2010, 2012 — what :func:`allianceStats.survival.fit_joint`
estimates)
-----
Client *i* has a true alliance trajectory and error-laden ratings at weekly sessions, the first at intake
(session *s* at week :math:`t = s - 1`, time in weeks since intake):

.. math:: m_i(t) = \beta_0 + \beta_1 t + b_{i0} + b_{i1} t, \qquad y_{it} = m_i(t) + \varepsilon_{it},
          \qquad (b_{i0}, b_{i1}) \sim N(0, D),\ \varepsilon_{it} \sim N(0, \sigma^2),

and relapses in continuous time with hazard :math:`h_i(t) = h_0 \exp\{\gamma\,\mathrm{female}_i + \alpha\,(m_i(t) -
\beta_0)\}` (:math:`h_0` is the hazard at the mean alliance of week 0) — the risk follows the current true
alliance, not the last noisy rating. Because :math:`m_i(t)` is linear in
*t*, the cumulative hazard is :math:`H_i(t) = e^{c_i}(e^{\alpha s_i t} - 1)/(\alpha s_i)` with
:math:`c_i = \log h_0 + \gamma\,\mathrm{female}_i + \alpha(\beta_0 + b_{i0})` and :math:`s_i = \beta_1 + b_{i1}`,
and the relapse time is drawn exactly by inversion, :math:`T_i = H_i^{-1}(E_i)`, :math:`E_i \sim \mathrm{Exp}(1)`.
Follow-up ends at ``follow_up`` weeks (administrative censoring) or at an earlier dropout, uniform over
follow-up with probability ``p_dropout`` (independent censoring, or a competing event in ``outcome``). Ratings
are observed at the sessions before the end of follow-up; each is missing with probability ``p_missing``.

The random effects are drawn as :math:`z L^\top` with *L* the Cholesky factor of *D* written out for the 2 x 2
case, from ``rng.standard_normal`` only, so the same seed gives the same data on every machine.

``truth``: every input value, ``D`` (2 x 2), the realised random effects, and ``seed``.

References
----------
Rizopoulos, D. (2010). JM: An R package for the joint modelling of longitudinal and time-to-event data.
*Journal of Statistical Software, 35*(9), 1-33.
Rizopoulos, D. (2012). *Joint models for longitudinal and time-to-event data*. Chapman & Hall/CRC.
Austin, P. C. (2012). Generating survival times to simulate Cox proportional hazards models with time-varying
covariates. *Statistics in Medicine, 31*(29), 3946-3958.

Example
-------
>>> from allianceStats.simulate.relapse import relapse_times
>>> sessions, events, truth = relapse_times(200, seed=3)
>>> sessions.columns.tolist(), events.columns.tolist()
(['client', 'session', 'week', 'alliance', 'female'], ['client', 'time', 'relapse', 'outcome', 'female'])
>>> truth["alpha"], int(events["relapse"].sum())
(-1.0, 96)
"""
from __future__ import annotations

from types import MappingProxyType

import numpy as np
import pandas as pd

from ..data.checks import check_number, check_positive_int
from ..errors import OptionError
from ._seed import generator

RELAPSE_DEFAULTS = MappingProxyType({
    "beta0": 3.6, "beta1": 0.03,        # mean true alliance at week 0 and change per week
    "sd_intercept": 0.5, "sd_slope": 0.04, "corr_intercept_slope": -0.2,
    "sigma": 0.35,                      # rating error SD
    "log_h0": float(np.log(0.03)),      # log relapse hazard per week at the mean alliance of week 0 (beta0)
    "alpha": -1.0,                      # log hazard ratio per point of the current true alliance
    "gamma": 0.3,                       # log hazard ratio of female
    "p_female": 0.5, "p_dropout": 0.25, "p_missing": 0.05,
})


def relapse_times(n_clients: int, *, n_sessions: int = 12, follow_up: float = 26.0, seed, **effects):
    """Simulate weekly alliance ratings and relapse times driven by the current true alliance (module docstring).

    Parameters
    ----------
    n_clients : int
        Number of clients.
    n_sessions : int
        Sessions offered (weekly, session *s* at week *s* - 1, the first at intake); ratings stop at the end of
        follow-up.
    follow_up : float
        Weeks of follow-up after intake (administrative censoring).
    seed : int, numpy.random.SeedSequence or None
        Required: the same seed gives the same data on every machine; ``truth["seed"]`` records it.
    **effects : float
        Population values to change (see :data:`RELAPSE_DEFAULTS`); ``log_h0`` is the log baseline hazard per
        week at a true alliance of ``beta0`` (the hazard is centred there).

    Returns
    -------
    sessions : pandas.DataFrame
        ``client, session, week, alliance, female``: one row per attended session before the end of follow-up
        (``alliance`` missing with probability ``p_missing``).
    events : pandas.DataFrame
        ``client, time`` (weeks to relapse or end of follow-up), ``relapse`` (1/0), ``outcome``
        (``"relapse"``, ``"dropout"`` or ``"completed"``), ``female``.
    truth : dict
        Population values, ``D``, realised ``random_effects`` (n_clients x 2) and ``seed``.

    Raises
    ------
    OptionError
        Sizes below 1, or an unknown effect name.

    Examples
    --------
    >>> s, e, t = relapse_times(50, n_sessions=6, seed=1)
    >>> int(s["session"].max()) <= 6, bool((e["time"] <= 26).all())
    (True, True)
    """
    n_clients = check_positive_int("n_clients", n_clients)
    n_sessions = check_positive_int("n_sessions", n_sessions)
    follow_up = check_number("follow_up", follow_up, minimum=0, strict=True)
    unknown = sorted(set(effects) - set(RELAPSE_DEFAULTS))
    if unknown:
        raise OptionError(f"unknown effect(s) {unknown}; choose among {sorted(RELAPSE_DEFAULTS)}")
    p = {**RELAPSE_DEFAULTS, **{k: float(v) for k, v in effects.items()}}
    rng, recorded = generator(seed)
    s0, s1, rho = p["sd_intercept"], p["sd_slope"], p["corr_intercept_slope"]
    # Cholesky factor of D written out (2 x 2), so no LAPACK call decides the draws
    chol = np.array([[s0, 0.0], [rho * s1, s1 * np.sqrt(1 - rho**2)]])
    b = rng.standard_normal((n_clients, 2)) @ chol.T
    female = (rng.random(n_clients) < p["p_female"]).astype(int)
    c = p["log_h0"] + p["gamma"] * female + p["alpha"] * b[:, 0]  # hazard centred at alliance beta0
    slope = p["beta1"] + b[:, 1]
    a_s = p["alpha"] * slope
    e = rng.exponential(size=n_clients)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        arg = 1 + e * a_s / np.exp(c)
        t_rel = np.where(np.abs(a_s) < 1e-12, e / np.exp(c), np.where(arg > 0, np.log(arg) / a_s, np.inf))
    drop = rng.random(n_clients) < p["p_dropout"]
    t_drop = np.where(drop, rng.uniform(0, follow_up, n_clients), np.inf)
    end = np.minimum(np.minimum(t_rel, t_drop), follow_up)
    relapse = (t_rel <= np.minimum(t_drop, follow_up)).astype(int)
    outcome = np.where(relapse == 1, "relapse", np.where(t_drop < follow_up, "dropout", "completed"))
    weeks = np.arange(0, n_sessions, dtype=float)
    attended = weeks[None, :] < end[:, None]
    true = p["beta0"] + p["beta1"] * weeks[None, :] + b[:, [0]] + b[:, [1]] * weeks[None, :]
    y = true + p["sigma"] * rng.standard_normal((n_clients, n_sessions))
    y[rng.random((n_clients, n_sessions)) < p["p_missing"]] = np.nan
    ci, si = np.nonzero(attended)
    ids = np.array([f"r{i:05d}" for i in range(n_clients)])
    sessions = pd.DataFrame({"client": ids[ci], "session": si + 1, "week": weeks[si], "alliance": y[ci, si],
                             "female": female[ci]})
    events = pd.DataFrame({"client": ids, "time": end, "relapse": relapse, "outcome": outcome, "female": female})
    truth = {**p, "D": np.array([[s0**2, rho * s0 * s1], [rho * s0 * s1, s1**2]]), "random_effects": b,
             "n_clients": n_clients, "n_sessions": n_sessions, "follow_up": follow_up, "seed": recorded}
    return sessions, events, truth
