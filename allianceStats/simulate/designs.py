r"""Small data-generating processes whose truth is exactly what their model estimates (for power studies).

Each function returns ``(data, truth)``; ``truth["seed"]`` is the seed the data were drawn with (an int, or the
entropy and spawn key of a :class:`numpy.random.SeedSequence`); ``truth["targets"]`` maps parameter names to the
value the matching
model converges to as the number of clients grows (its pseudo-true value), so bias and coverage in
:func:`allianceStats.power` are measured against the right numbers — the error powRICLPM 0.2.0 made with
wrongly parsed population values is avoided by a test that fits a very large draw and recovers them.

Every design takes ``variables=``, the names of its columns (default ``x``, ``y``; ``x``, ``m``, ``y`` for the
mediation designs), and names its targets with them, as paths: ``"alliance -> outcome"``, ``"alliance -> outcome
(within)"``, ``"alliance -> needs -> motivation"``. The columns come in the order client, [session], the
variables.

``regression``
    :math:`y = \beta x + e` with a fixed, exactly standardised :math:`x` (sample variance 1) and
    :math:`e \sim N(0, \sigma^2)`, so the power of the t test of :math:`\beta` is exactly the noncentral t
    probability with :math:`\delta = \beta\sqrt{n-1}/\sigma`, df :math:`n-2` (the analytic check). Target
    ``"x -> y"``.
``within_between``
    Two-level: :math:`x_{it} = \mu_x + u_i + w_{it}`, :math:`y_{it} = \gamma_0 + \beta_W w_{it} + \beta_B u_i
    + v_i + e_{it}`, balanced, all normal. Fitting ``y ~ x_within + x_between + (1 | client)`` with
    sample person means (Curran & Bauer 2011), the within slope converges to :math:`\beta_W`; the between
    slope to :math:`(\beta_B \tau + \beta_W \sigma^2_w/T)/(\tau + \sigma^2_w/T)`, the attenuated value
    Lüdtke et al. (2008) describe for observed cluster means (:math:`\tau = \mathrm{var}(u)`). Targets
    ``"x -> y (within)"``, ``"x -> y (between)"``.
``binary_within_between``
    Two-level with a 0/1 outcome per session (e.g. any use): :math:`x_{it} = \mu_x + u_i + w_{it}`,
    :math:`\Pr(y_{it} = 1) = \mathrm{logit}^{-1}(\gamma_0 + \beta_W w_{it} + \beta_B u_i + b_i)`,
    :math:`b_i \sim N(0, \sigma_b^2)`, all normal. Writing :math:`w_{it} = (x_{it} - \bar x_i) + \bar w_i` and
    projecting :math:`\bar w_i` on :math:`\bar x_i`, the logistic random-intercept model
    ``y ~ x_within + x_between + (1 | client)`` holds *exactly* with sample person means: within slope
    :math:`\beta_W`, between slope the same attenuated value as in ``within_between``, and a client intercept
    SD of :math:`\sqrt{\sigma_b^2 + (\beta_W - \beta_B)^2 (\sigma^2_w/T)\,\tau/(\tau + \sigma^2_w/T)}`
    (``truth["params"]["fitted_client_sd"]``). Slopes are log odds ratios. Targets ``"x -> y (within)"``,
    ``"x -> y (between)"``.
``riclpm``
    :math:`k` variables over :math:`T` waves: :math:`x_{it} = \mu + RI_i + w_{it}`, :math:`w_{it} = \Phi
    w_{i,t-1} + \zeta_{it}`, :math:`w_{i1}` drawn from the stationary distribution (Hamaker, Kuiper &
    Grasman 2015). Optional dropout after each wave with a logistic hazard on the first variable's observed
    value (missing at random, so FIML is consistent). Targets: the elements of :math:`\Phi`, named
    ``"<from> -> <to>"``.
``multilevel_mediation``
    1-1-1 session data: client-specific slopes :math:`(a_j, b_j)` with covariance :math:`\sigma_{ab}`,
    within-client deviations centred exactly within each client (so observed client means are the true ones).
    Targets: within indirect ``"x -> m -> y (within)"`` = :math:`a_W b_W + \sigma_{ab}` (Bauer, Preacher & Gil
    2006), between indirect ``"x -> m -> y (between)"`` = :math:`a_B b_B`, within and between direct effects
    ``"x -> y (within)"``, ``"x -> y (between)"`` (Zhang, Zyphur & Preacher 2009).
``mediation``
    :math:`m = a x + e_m`, :math:`y = c' x + b m + e_y` with standard normal :math:`x` and errors. Targets:
    ``"x -> m"`` = a, ``"m -> y"`` = b, ``"x -> y (direct)"`` = :math:`c'`, ``"x -> m -> y"`` = :math:`ab`.

References: Lüdtke, O., Marsh, H. W., Robitzsch, A., et al. (2008). *Psychol. Methods* 13(3), 203–229.
Hamaker, E. L., Kuiper, R. M., & Grasman, R. P. P. P. (2015). *Psychol. Methods* 20(1), 102–116.

Example
-------
>>> from allianceStats.simulate import designs
>>> data, truth = designs.mediation(200, a=0.4, b=0.3, direct=0.1, variables=("alliance", "needs", "motivation"),
...                                 seed=1)
>>> truth["targets"]["alliance -> needs -> motivation"]
0.12
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.linalg import solve_discrete_lyapunov
from scipy.special import expit

from .._deprecation import renamed_arguments
from ..errors import OptionError
from ._seed import cholesky_factor, correlated_normal, generator


def _names(where: str, variables, default: tuple[str, ...]) -> tuple[str, ...]:
    """The design's column names: distinct identifiers (they enter model formulas), not 'client' or 'session'."""
    names = default if variables is None else variables
    if isinstance(names, str) or not all(isinstance(v, str) for v in names) or len(names) != len(default):
        raise OptionError(f"{where}: variables={variables!r} must be {len(default)} column names, e.g. "
                          f"{tuple(default)}")
    names = tuple(names)
    bad = [v for v in names if not v.isidentifier() or v in ("client", "session")]
    if bad or len(set(names)) != len(names):
        raise OptionError(f"{where}: variables={names!r} must be distinct names made of letters, digits and _ "
                          f"(not starting with a digit; not 'client' or 'session'); found {bad or 'a repeat'}")
    return names


def regression(n_clients: int, *, slope: float = 0.3, sd_error: float = 1.0, variables=("x", "y"), seed=None):
    """Single-level regression with a fixed standardised predictor (the analytic power check).

    >>> d, t = regression(50, slope=0.5, seed=2)
    >>> round(float(d["x"].var()), 12), t["targets"]["x -> y"]
    (1.0, 0.5)
    """
    if n_clients < 3:
        raise OptionError(f"regression(): n_clients={n_clients} must be at least 3.")
    x_name, y_name = _names("regression()", variables, ("x", "y"))
    rng, recorded = generator(seed)
    x = np.linspace(-1.0, 1.0, n_clients)
    x = (x - x.mean()) / x.std(ddof=1)
    y = slope * x + rng.normal(0.0, sd_error, n_clients)
    return pd.DataFrame({"client": np.arange(n_clients), x_name: x, y_name: y}), {
        "targets": {f"{x_name} -> {y_name}": float(slope)}, "params": {"slope": slope, "sd_error": sd_error},
        "variables": [x_name, y_name], "seed": recorded}


def within_between(n_clients: int, n_sessions: int, *, within: float = 0.3, between: float = 0.5,
                   var_x_between: float = 0.5, var_x_within: float = 0.5, var_y_between: float = 0.5,
                   var_y_within: float = 1.0, variables=("x", "y"), seed=None):
    """Two-level within/between data (balanced); targets are the fitted model's pseudo-true slopes.

    >>> d, t = within_between(30, 5, variables=("alliance", "outcome"), seed=3)
    >>> sorted(t["targets"])
    ['alliance -> outcome (between)', 'alliance -> outcome (within)']
    """
    if n_clients < 3 or n_sessions < 2:
        raise OptionError("within_between(): need at least 3 clients and 2 sessions per client.")
    x_name, y_name = _names("within_between()", variables, ("x", "y"))
    rng, recorded = generator(seed)
    u = rng.normal(0.0, np.sqrt(var_x_between), n_clients)
    v = rng.normal(0.0, np.sqrt(var_y_between), n_clients)
    w = rng.normal(0.0, np.sqrt(var_x_within), (n_clients, n_sessions))
    e = rng.normal(0.0, np.sqrt(var_y_within), (n_clients, n_sessions))
    x = 3.0 + u[:, None] + w
    y = 1.0 + within * w + between * u[:, None] + v[:, None] + e
    data = pd.DataFrame({"client": np.repeat(np.arange(n_clients), n_sessions),
                         "session": np.tile(np.arange(1, n_sessions + 1), n_clients),
                         x_name: x.ravel(), y_name: y.ravel()})
    noise = var_x_within / n_sessions
    pseudo_between = (between * var_x_between + within * noise) / (var_x_between + noise)
    path = f"{x_name} -> {y_name}"
    return data, {"targets": {f"{path} (within)": float(within), f"{path} (between)": float(pseudo_between)},
                  "variables": [x_name, y_name],
                  "params": {"within": within, "between": between, "var_x_between": var_x_between,
                             "var_x_within": var_x_within, "var_y_between": var_y_between,
                             "var_y_within": var_y_within}, "seed": recorded}


def binary_within_between(n_clients: int, n_sessions: int, *, within: float = 0.5, between: float = 0.5,
                          intercept: float = -0.5, client_sd: float = 1.0, var_x_between: float = 0.5,
                          var_x_within: float = 0.5, variables=("x", "y"), seed=None):
    r"""Two-level data with a 0/1 outcome per session from a logistic random-intercept model (module docstring).

    :math:`\mathrm{logit}\Pr(y_{it}=1) = \gamma_0 + \beta_W w_{it} + \beta_B u_i + b_i` with the predictor
    :math:`x_{it} = 3 + u_i + w_{it}`; ``within`` and ``between`` are log odds ratios per unit of the within- and
    between-client parts of the predictor, ``intercept`` is :math:`\gamma_0` (the log odds at the population
    mean of x), ``client_sd`` the SD of the client intercepts :math:`b_i` on the log-odds scale,
    ``var_x_between`` (:math:`\tau`) and ``var_x_within`` (:math:`\sigma^2_w`) the variances of :math:`u_i` and
    :math:`w_{it}`. Targets (the slopes of ``y ~ x_within + x_between + (1 | client)`` fitted by
    :func:`allianceStats.fit_glmm` with observed client means, Curran & Bauer 2011; Lüdtke et al. 2008): within
    :math:`\beta_W`, between :math:`(\beta_B\tau + \beta_W\sigma^2_w/T)/(\tau + \sigma^2_w/T)`. Independent
    normal draws only (the same data on every machine), then one uniform per session.

    >>> d, t = binary_within_between(40, 6, within=0.8, variables=("alliance", "use"), seed=3)
    >>> d.columns.tolist(), sorted(d["use"].unique().tolist())
    (['client', 'session', 'alliance', 'use'], [0, 1])
    >>> t["targets"]["alliance -> use (within)"], round(t["targets"]["alliance -> use (between)"], 4)
    (0.8, 0.5429)
    """
    if n_clients < 3 or n_sessions < 2:
        raise OptionError(f"binary_within_between(): need at least 3 clients and 2 sessions per client; got "
                          f"n_clients={n_clients}, n_sessions={n_sessions}.")
    values = {"within": within, "between": between, "intercept": intercept, "client_sd": client_sd,
              "var_x_between": var_x_between, "var_x_within": var_x_within}
    bad = [f"{k}={v!r}" for k, v in values.items()
           if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v)]
    if bad:
        raise OptionError(f"binary_within_between(): {', '.join(bad)} must be finite numbers.")
    bad = [f"{k}={values[k]!r}" for k in ("var_x_between", "var_x_within") if values[k] <= 0]
    bad += [f"client_sd={client_sd!r}"] if client_sd < 0 else []
    if bad:
        raise OptionError(f"binary_within_between(): {', '.join(bad)}: the variances of x must be > 0 and "
                          "client_sd >= 0.")
    x_name, y_name = _names("binary_within_between()", variables, ("x", "y"))
    rng, recorded = generator(seed)
    u = rng.normal(0.0, np.sqrt(var_x_between), n_clients)
    b = rng.normal(0.0, client_sd, n_clients)
    w = rng.normal(0.0, np.sqrt(var_x_within), (n_clients, n_sessions))
    eta = intercept + within * w + between * u[:, None] + b[:, None]
    y = (rng.random((n_clients, n_sessions)) < expit(eta)).astype(np.int64)
    data = pd.DataFrame({"client": np.repeat(np.arange(n_clients), n_sessions),
                         "session": np.tile(np.arange(1, n_sessions + 1), n_clients),
                         x_name: (3.0 + u[:, None] + w).ravel(), y_name: y.ravel()})
    noise = var_x_within / n_sessions
    pseudo_between = (between * var_x_between + within * noise) / (var_x_between + noise)
    fitted_sd = np.sqrt(client_sd ** 2 + (within - between) ** 2 * noise * var_x_between / (var_x_between + noise))
    path = f"{x_name} -> {y_name}"
    return data, {"targets": {f"{path} (within)": float(within), f"{path} (between)": float(pseudo_between)},
                  "variables": [x_name, y_name],
                  "params": {**{k: float(v) for k, v in values.items()}, "fitted_client_sd": float(fitted_sd)},
                  "seed": recorded}


@renamed_arguments(n_waves="n_sessions")
def riclpm(n_clients: int, n_sessions: int, *, lagged=((0.3, 0.1), (0.15, 0.3)), variables=("x", "y"),
           ri_var=(0.5, 0.5), ri_cor: float = 0.3, innovation_var=(0.5, 0.5), innovation_cor: float = 0.2,
           dropout: float = 0.0, dropout_slope: float = -0.5, seed=None):
    """Data from a k-variable RI-CLPM with optional MAR dropout; targets are the lagged effects.

    ``n_sessions`` waves (sessions 1..n_sessions; ``n_waves=`` is the old name). ``lagged[i][j]`` is the effect
    of variable ``j`` at wave t-1 on variable ``i`` at wave t (the transition matrix Φ). ``dropout`` is the
    baseline probability of leaving after each wave; the log-odds change by ``dropout_slope`` per unit of the first
    variable's last observed value.

    >>> d, t = riclpm(100, 4, seed=4)
    >>> t["targets"]["x -> y"], sorted(d.columns)
    (0.15, ['client', 'session', 'x', 'y'])
    """
    phi = np.asarray(lagged, dtype=float)
    k = len(variables) if not isinstance(variables, str) else 0
    variables = _names("riclpm()", variables, tuple(f"v{j + 1}" for j in range(max(k, 2))))
    if phi.shape != (k, k):
        raise OptionError(f"riclpm(): lagged must be {k}x{k} for variables {list(variables)}; got {phi.shape}.")
    if np.max(np.abs(np.linalg.eigvals(phi))) >= 1:
        raise OptionError("riclpm(): the lagged matrix is not stationary (an eigenvalue >= 1 in modulus).")
    if n_clients < 3 or n_sessions < 3:
        raise OptionError("riclpm(): need at least 3 clients and 3 waves (n_sessions).")
    rng, recorded = generator(seed)
    sd_ri = np.sqrt(np.asarray(ri_var, float))
    cov_ri = np.outer(sd_ri, sd_ri) * (np.full((k, k), ri_cor) + (1 - ri_cor) * np.eye(k))
    sd_in = np.sqrt(np.asarray(innovation_var, float))
    cov_in = np.outer(sd_in, sd_in) * (np.full((k, k), innovation_cor) + (1 - innovation_cor) * np.eye(k))
    stationary = solve_discrete_lyapunov(phi, cov_in)
    chol = cholesky_factor(cov_in, what="riclpm(): innovation covariance (innovation_var, innovation_cor)")
    ri = correlated_normal(rng, cov_ri, n_clients, what="riclpm(): random-intercept covariance (ri_var, ri_cor)")
    w = correlated_normal(rng, stationary, n_clients, what="riclpm(): stationary within covariance")
    values = np.empty((n_sessions, n_clients, k))
    for t in range(n_sessions):
        if t:
            w = w @ phi.T + rng.standard_normal((n_clients, k)) @ chol.T
        values[t] = ri + w
    last = np.full(n_clients, n_sessions)
    if dropout > 0:
        base = np.log(dropout / (1 - dropout))
        active = np.ones(n_clients, bool)
        for t in range(n_sessions - 1):
            p = 1 / (1 + np.exp(-(base + dropout_slope * values[t, :, 0])))
            leave = active & (rng.random(n_clients) < p)
            last[leave] = t + 1
            active &= ~leave
    t_idx, c_idx = np.nonzero(np.arange(1, n_sessions + 1)[:, None] <= last[None])
    order = np.lexsort((t_idx, c_idx))
    t_idx, c_idx = t_idx[order], c_idx[order]
    data = pd.DataFrame({"client": c_idx, "session": t_idx + 1})
    for j, name in enumerate(variables):
        data[name] = values[t_idx, c_idx, j]
    targets = {f"{variables[j]} -> {variables[i]}": float(phi[i, j]) for i in range(k) for j in range(k)}
    return data, {"targets": targets, "params": {"lagged": phi.tolist(), "ri_cov": cov_ri.tolist(),
                                                 "innovation_cov": cov_in.tolist(), "dropout": dropout,
                                                 "dropout_slope": dropout_slope},
                  "variables": list(variables), "stationary_cov": stationary, "seed": recorded}


def mediation(n_clients: int, *, a: float = 0.3, b: float = 0.3, direct: float = 0.1, variables=("x", "m", "y"),
              seed=None):
    """Single-mediator data (x -> m -> y); targets ``x -> m`` (a), ``m -> y`` (b), ``x -> y (direct)`` and the
    indirect effect ``x -> m -> y`` = a*b, named with ``variables``.

    >>> d, t = mediation(10, a=0.5, b=0.5, seed=5)
    >>> t["targets"]["x -> m -> y"], sorted(t["targets"])
    (0.25, ['m -> y', 'x -> m', 'x -> m -> y', 'x -> y (direct)'])
    """
    if n_clients < 5:
        raise OptionError(f"mediation(): n_clients={n_clients} must be at least 5.")
    xn, mn, yn = _names("mediation()", variables, ("x", "m", "y"))
    rng, recorded = generator(seed)
    x = rng.standard_normal(n_clients)
    m = a * x + rng.standard_normal(n_clients)
    y = direct * x + b * m + rng.standard_normal(n_clients)
    targets = {f"{xn} -> {mn}": float(a), f"{mn} -> {yn}": float(b), f"{xn} -> {yn} (direct)": float(direct),
               f"{xn} -> {mn} -> {yn}": float(round(a * b, 15))}
    return pd.DataFrame({"client": np.arange(n_clients), xn: x, mn: m, yn: y}), {
        "targets": targets, "params": {"a": a, "b": b, "direct": direct}, "variables": [xn, mn, yn],
        "seed": recorded}


def multilevel_mediation(n_clients: int, n_sessions: int, *, a_w: float = 0.4, b_w: float = 0.35,
                         sigma_ab: float = 0.03, a_b: float = 0.6, b_b: float = 0.5, c_w: float = 0.1,
                         c_b: float = 0.2, variables=("x", "m", "y"), seed=None):
    """1-1-1 mediation data with known within- and between-client indirect effects.

    ``(a_j, b_j) ~ N((a_w, b_w), [[0.04, sigma_ab], [sigma_ab, 0.04]])``; the model of Zhang, Zyphur & Preacher
    (2009) with random a and b slopes (Bauer, Preacher & Gil 2006) holds exactly with observed client means.

    >>> d, t = multilevel_mediation(20, 5, seed=1)
    >>> d.shape, round(t["targets"]["x -> m -> y (within)"], 2)
    ((100, 4), 0.17)
    """
    if n_clients < 3 or n_sessions < 2:
        raise OptionError("multilevel_mediation(): need at least 3 clients and 2 sessions per client.")
    xn, mn, yn = _names("multilevel_mediation()", variables, ("x", "m", "y"))
    rng, recorded = generator(seed)
    g = np.repeat(np.arange(n_clients), n_sessions)
    slopes = correlated_normal(rng, [[0.04, sigma_ab], [sigma_ab, 0.04]], n_clients, mean=[a_w, b_w],
                               what="multilevel_mediation(): covariance of the a and b slopes (sigma_ab)")
    xbar = rng.normal(size=n_clients)
    xw = rng.normal(size=g.size)
    xw -= np.bincount(g, xw)[g] / n_sessions
    m_dev = slopes[g, 0] * xw + 0.8 * rng.normal(size=g.size)
    m_dev -= np.bincount(g, m_dev)[g] / n_sessions
    mbar = a_b * xbar + 0.5 * rng.normal(size=n_clients)
    y = (b_b * mbar[g] + c_b * xbar[g] + 0.5 * rng.normal(size=n_clients)[g] + slopes[g, 1] * m_dev
         + c_w * xw + 0.8 * rng.normal(size=g.size))
    data = pd.DataFrame({"client": [f"c{j:03d}" for j in g], xn: xbar[g] + xw, mn: mbar[g] + m_dev, yn: y})
    targets = {f"{xn} -> {mn} -> {yn} (within)": a_w * b_w + sigma_ab, f"{xn} -> {mn} -> {yn} (between)": a_b * b_b,
               f"{xn} -> {yn} (within)": c_w, f"{xn} -> {yn} (between)": c_b}
    return data, {"targets": {k: float(v) for k, v in targets.items()}, "variables": [xn, mn, yn],
                  "params": {"a_w": a_w, "b_w": b_w, "sigma_ab": sigma_ab, "a_b": a_b, "b_b": b_b, "c_w": c_w,
                             "c_b": c_b}, "seed": recorded}
