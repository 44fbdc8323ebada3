"""lavaan syntax for the cross-lagged panel family: CLPM, RI-CLPM (with its three extensions) and the DPM.

The builders here are pure functions: variables and waves in, lavaan-subset syntax out. They run without
any estimation engine, so the text can be read, tested, and fitted in R by ``lavaan::lavaan()`` as it is.
Every parameter is written out (``lavaan()`` style, ``defaults="none"`` in :func:`allianceStats.fit_sem`):
nothing is added behind the user's back except the means of latent variables, which are 0.

Notation
--------
Variable ``v`` measured at waves ``t = 1..T`` is the observed column ``v_t`` (long data pivoted by
:func:`allianceStats.to_wide`), or any column name given through ``columns=``.

CLPM (cross-lagged panel model)::

    v_t = mu_vt + sum_u beta_vu,t * u_(t-1) + e_vt          (t >= 2)

with wave-1 variables freely covaried and the residuals ``e_vt`` covaried within a wave.

RI-CLPM (Hamaker, Kuiper & Grasman, 2015; specification of Mulder & Hamaker, 2021)::

    v_t = mu_vt + RI_v + w_v_t                              (observed residual variance fixed to 0)
    w_v_t = sum_u beta_vu,t * w_u_(t-1) + e_vt              (t >= 2)

``RI_v`` is the random intercept (loadings fixed to 1): stable, trait-like differences between clients.
``w_v_t`` is the within-client component (loading 1): the client's deviation from their own expected
score at wave ``t``. Wave-1 within components covary, later residuals covary within a wave, the random
intercepts covary with each other and not with the wave-1 within components; every observed variable
has a free intercept (the grand mean at that wave). The effect of outcome at wave 2 on alliance at wave 3
is the parameter ``w_alliance_3 ~ w_outcome_2``.

Constraints over time (``constraints=``): ``"lagged"`` makes every lagged effect equal across waves;
``"stationary"`` also makes the residual variances and covariances of waves ``t >= 2`` equal;
``equal_means=True`` makes each variable's intercept equal across waves.

Extensions (Mulder & Hamaker, 2021):

1. time-invariant predictors ``z`` (``predictors=``) predicting the observed variables with an effect
   equal over waves (``predictors_on="observed"``) or predicting the random intercepts (``"ri"``);
2. multiple groups (``groups=``), with ``group_equal=`` naming the parameter classes held equal across
   groups (``"lagged"``, ``"within"``, ``"between"``, ``"means"``, ``"predictors"``), for the
   likelihood-ratio tests of group differences;
3. multiple indicators per variable and wave (``indicators=``): a within factor ``w_v_t`` measured by the
   indicators, with the invariance sequence ``invariance="configural" | "weak" | "strong"`` over time,
   and at the between level either one random intercept per indicator (``between="indicator"``) or one
   between factor ``RI_v`` whose loadings equal the within loadings (``between="factor"``: invariance
   across levels, which needs at least weak invariance).

DPM (dynamic panel model with fixed effects and predetermined predictors; Allison, Williams &
Moral-Benito, 2017)::

    y_t = mu_t + rho * y_(t-1) + sum_x beta_x * x_(t-1) + FE_y + e_t        (t >= 2)

``FE_y`` is a latent fixed effect (loadings 1 on ``y_2..y_T``) free to covary with ``y_1`` and every
``x``; ``rho`` and ``beta`` are equal over time; ``x_t`` is predetermined: it may covary with the
residuals of earlier waves (``e_s``, ``s < t``), i.e. earlier outcomes may feed back into later ``x``.

References
----------
Hamaker, E. L., Kuiper, R. M., & Grasman, R. P. P. P. (2015). A critique of the cross-lagged panel
model. *Psychological Methods*, 20(1), 102-116.
Mulder, J. D., & Hamaker, E. L. (2021). Three extensions of the random intercept cross-lagged panel
model. *Structural Equation Modeling*, 28(4), 638-648.
Allison, P. D., Williams, R., & Moral-Benito, E. (2017). Maximum likelihood for cross-lagged panel
models with fixed effects. *Socius*, 3, 1-17.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from ..data.checks import check_bool, check_choice
from ..errors import OptionError

F = TypeVar("F", bound=Callable[..., Any])

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*$")
CONSTRAINTS = (None, "lagged", "stationary")
GROUP_EQUAL = ("lagged", "within", "between", "means", "predictors")
INVARIANCE = ("configural", "weak", "strong")
PREDICTORS_ON = ("observed", "ri")
RI_VARIANCES = ("free", "zero")
BETWEEN = ("indicator", "factor")


# ----------------------------------------------------------------------------------------------------
# small helpers


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _IDENT.match(name):
        raise OptionError(
            f"{what} {name!r} is not usable as a lavaan name: it must start with a letter and contain only "
            "letters, digits, '_' or '.'. Rename the column (e.g. data.rename(columns={...}))."
        )
    return name


def resolve_waves(waves: int | Sequence) -> tuple:
    """Waves as a tuple of labels: an integer ``T`` means ``(1, ..., T)``.

    >>> resolve_waves(3)
    (1, 2, 3)
    """
    if isinstance(waves, int) and not isinstance(waves, bool):
        if waves < 2:
            raise OptionError(f"waves={waves}: a panel model needs at least 2 waves.")
        return tuple(range(1, waves + 1))
    out = tuple(waves)
    if len(out) < 2:
        raise OptionError(f"waves={out!r}: a panel model needs at least 2 waves.")
    if len(set(out)) != len(out):
        raise OptionError(f"waves={out!r} contains duplicates.")
    return out


def observed_columns(variables: Sequence[str], waves: int | Sequence,
                     columns: Mapping[str, Sequence[str]] | None = None) -> dict[str, list[str]]:
    """Observed column of each variable at each wave: ``<variable>_<wave>`` unless ``columns`` says otherwise.

    >>> observed_columns(["alliance", "outcome"], 2)
    {'alliance': ['alliance_1', 'alliance_2'], 'outcome': ['outcome_1', 'outcome_2']}
    >>> observed_columns(["x"], 2, columns={"x": ["x1", "x2"]})
    {'x': ['x1', 'x2']}
    """
    waves = resolve_waves(waves)
    out = {}
    for v in variables:
        _check_name(v, "variable")
        if columns is not None and v in columns:
            cols = list(columns[v])
            if len(cols) != len(waves):
                raise OptionError(f"columns[{v!r}] has {len(cols)} names but there are {len(waves)} waves.")
        else:
            cols = [f"{v}_{w}" for w in waves]
        out[v] = [_check_name(c, "column") for c in cols]
    return out


def _variables(variables: Sequence[str]) -> list[str]:
    if isinstance(variables, str):
        raise OptionError(f"variables={variables!r}: give a list of at least two variable names, "
                           "e.g. ['alliance', 'outcome'].")
    vs = list(variables)
    if len(vs) < 1 or len(set(vs)) != len(vs):
        raise OptionError(f"variables={vs!r}: give distinct variable names.")
    return [_check_name(v, "variable") for v in vs]


class _Labels:
    """Label text for one parameter, given whether it is equal over time and/or across groups.

    A parameter held equal over waves gets one label for all waves; a parameter held equal across groups
    gets a plain label (lavaan applies it to every group); a parameter equal over time but free across
    groups gets ``c(L.g1, L.g2, ...)``. A parameter with no constraint gets no label.
    """

    def __init__(self, n_groups: int, group_equal: Sequence[str]):
        self.n_groups = n_groups
        self.group_equal = set(group_equal)

    def __call__(self, kind: str, base: str, wave=None, *, over_time: bool) -> str:
        across = self.n_groups > 1 and kind in self.group_equal
        if not (over_time or across):
            return ""
        name = base if over_time or wave is None else f"{base}_{wave}"
        if self.n_groups > 1 and not across:
            return "c(" + ", ".join(f"{name}_g{g}" for g in range(1, self.n_groups + 1)) + ")*"
        return f"{name}*"


def _check_options(constraints, groups, group_equal):
    check_choice("constraints", constraints, CONSTRAINTS)
    n_groups = 1 if groups is None else (groups if isinstance(groups, int) else len(list(groups)))
    if n_groups < 1:
        raise OptionError(f"groups={groups!r}: need at least one group.")
    ge = (group_equal,) if isinstance(group_equal, str) else tuple(group_equal or ())
    for g in ge:
        check_choice("group_equal", g, GROUP_EQUAL)
    if ge and n_groups < 2:
        raise OptionError(f"group_equal={ge!r} needs groups= with two or more groups.")
    return n_groups, ge


def _predictor_names(predictors) -> list[str]:
    if predictors is None:
        return []
    if isinstance(predictors, str):
        predictors = [predictors]
    return [_check_name(z, "predictor") for z in predictors]


def _join(header: str, lines: list[str]) -> list[str]:
    return [f"# {header}", *lines] if lines else []


def _lagged_lines(names: dict[str, list[str]], variables: list[str], waves: tuple, lab: _Labels,
                  constraints) -> list[str]:
    """``to_t ~ b*from_(t-1) + ...`` for every variable and wave t >= 2."""
    over_time = constraints in ("lagged", "stationary")
    lines = []
    for k in range(1, len(waves)):
        for v in variables:
            terms = []
            for u in variables:
                base = f"ar_{v}" if u == v else f"cl_{v}_{u}"
                terms.append(lab("lagged", base, waves[k], over_time=over_time) + names[u][k - 1])
            lines.append(f"{names[v][k]} ~ " + " + ".join(terms))
    return lines


def _within_cov_lines(names: dict[str, list[str]], variables: list[str], waves: tuple, lab: _Labels,
                      constraints) -> list[str]:
    """Wave-1 (co)variances free; residual (co)variances at t >= 2, equal over time when stationary."""
    stationary = constraints == "stationary"
    lines = []
    for k, w in enumerate(waves):
        later = k > 0
        for i, v in enumerate(variables):
            base = f"rv_{v}" if later else f"v1_{v}"
            lines.append(f"{names[v][k]} ~~ " + lab("within", base, w, over_time=stationary and later)
                         + names[v][k])
            for u in variables[i + 1:]:
                base = f"rc_{v}_{u}" if later else f"c1_{v}_{u}"
                lines.append(f"{names[v][k]} ~~ " + lab("within", base, w, over_time=stationary and later)
                             + names[u][k])
    return lines


def _intercept_lines(cols: dict[str, list[str]], variables: list[str], waves: tuple, lab: _Labels,
                     equal_means: bool) -> list[str]:
    lines = []
    for v in variables:
        for k, w in enumerate(waves):
            lines.append(f"{cols[v][k]} ~ " + lab("means", f"m_{v}", w, over_time=equal_means) + "1")
    return lines


# ----------------------------------------------------------------------------------------------------
# CLPM


def clpm_syntax(variables: Sequence[str], waves: int | Sequence, *, constraints: str | None = None,
                predictors: Sequence[str] | str | None = None, groups: int | Sequence | None = None,
                group_equal: Sequence[str] | str = (), equal_means: bool = False,
                columns: Mapping[str, Sequence[str]] | None = None) -> str:
    """lavaan syntax of the cross-lagged panel model (CLPM) for two or more variables.

    Model: each observed ``v_t`` (t >= 2) is regressed on every variable at ``t - 1``; wave-1 variables
    have free variances and covariances; residuals covary within a wave; every observed variable has a
    free intercept. This is the CLPM of the Mulder & Hamaker (2021) tutorial, the model the RI-CLPM
    (Hamaker, Kuiper & Grasman, 2015) extends with random intercepts; it assumes no stable between-client
    differences, so its cross-lagged paths mix within- and between-client associations.

    Parameters
    ----------
    variables, waves
        Variable names and waves (an integer ``T`` or the wave labels). Columns are ``<variable>_<wave>``
        unless ``columns`` maps a variable to its column per wave.
    constraints
        ``None``, ``"lagged"`` (lagged effects equal over waves) or ``"stationary"`` (also the residual
        variances and covariances of waves >= 2).
    predictors
        Time-invariant covariates regressed onto every observed variable with an effect equal over waves.
        They are exogenous and not written into the syntax (lavaan's ``fixed.x``).
    groups, group_equal, equal_means
        As in :func:`riclpm_syntax`.
    columns
        Column names when they do not follow ``<variable>_<wave>``, e.g. ``{"x": ["x1", ..., "x5"]}``.

    Returns
    -------
    str
        The syntax, one statement per line under ``#`` headers; fit it with ``defaults="none"``.

    Example
    -------
    >>> print(clpm_syntax(["x", "y"], 2))  # doctest: +NORMALIZE_WHITESPACE
    # Lagged regressions
    x_2 ~ x_1 + y_1
    y_2 ~ x_1 + y_1
    # Wave-1 (co)variances; residual (co)variances at later waves
    x_1 ~~ x_1
    x_1 ~~ y_1
    y_1 ~~ y_1
    x_2 ~~ x_2
    x_2 ~~ y_2
    y_2 ~~ y_2
    # Intercepts
    x_1 ~ 1
    x_2 ~ 1
    y_1 ~ 1
    y_2 ~ 1
    """
    variables = _variables(variables)
    waves = resolve_waves(waves)
    n_groups, ge = _check_options(constraints, groups, group_equal)
    equal_means = check_bool("equal_means", equal_means)
    lab = _Labels(n_groups, ge)
    cols = observed_columns(variables, waves, columns)
    zs = _predictor_names(predictors)
    lines = _join("Lagged regressions", _lagged_lines(cols, variables, waves, lab, constraints))
    if zs:
        pl = []
        for v in variables:
            for z in zs:
                pl.append(" + ".join(cols[v]) + " ~ " + lab("predictors", f"s_{v}_{z}", over_time=True) + z)
        lines += _join("Time-invariant predictors (effect equal over waves)", pl)
    lines += _join("Wave-1 (co)variances; residual (co)variances at later waves",
                   _within_cov_lines(cols, variables, waves, lab, constraints))
    lines += _join("Intercepts", _intercept_lines(cols, variables, waves, lab, equal_means))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------
# RI-CLPM


def riclpm_syntax(variables: Sequence[str], waves: int | Sequence, *, constraints: str | None = None,
                  predictors: Sequence[str] | str | None = None, predictors_on: str = "observed",
                  indicators: Mapping[str, Sequence[str]] | None = None, invariance: str = "configural",
                  between: str = "indicator", groups: int | Sequence | None = None,
                  group_equal: Sequence[str] | str = (), equal_means: bool = False,
                  ri_variances: str = "free",
                  columns: Mapping[str, Sequence] | None = None) -> str:
    """lavaan syntax of the random-intercept cross-lagged panel model (RI-CLPM) for two or more variables.

    Model (Hamaker, Kuiper & Grasman, 2015), specified as in Mulder & Hamaker (2021): observed
    ``v_t = mu_vt + RI_v + w_v_t`` with random intercepts ``RI_v`` (loadings fixed to 1), within components
    ``w_v_t`` (loading 1, observed residual variances fixed to 0), lagged regressions among the within
    components, wave-1 within covariances, residual covariances at later waves, random intercepts covaried
    with each other but not with the wave-1 within components, and a free intercept for every observed
    variable. See the module docstring for the extensions.

    Parameters
    ----------
    variables, waves
        Two or more variable names and the waves (an integer ``T`` or the wave labels).
    constraints
        ``None``, ``"lagged"`` (lagged effects equal over waves) or ``"stationary"`` (also the within
        residual variances and covariances of waves >= 2).
    predictors, predictors_on
        Extension 1: time-invariant predictors, regressed onto every observed variable with an effect equal
        over waves (``"observed"``) or onto the random intercepts (``"ri"``). They are exogenous and are not
        written into the syntax (lavaan's ``fixed.x = TRUE``).
    indicators, invariance, between
        Extension 3: ``indicators={variable: [indicator, ...]}``; the columns are ``<indicator>_<wave>``
        unless ``columns={variable: [[col per indicator] per wave]}``. ``invariance`` over time:
        ``"configural"``, ``"weak"`` (loadings equal over waves) or ``"strong"`` (also indicator intercepts
        equal over waves, within-factor means free from wave 2 on). ``between="indicator"``: one random
        intercept per indicator, all covaried; ``"factor"``: one between factor per variable whose loadings
        equal the within loadings (needs weak or strong invariance).
    groups, group_equal
        Extension 2: the number of groups (or their labels) and the parameter classes held equal across
        groups: ``"lagged"``, ``"within"`` (within (co)variances), ``"between"`` (random-intercept
        (co)variances), ``"means"``, ``"predictors"``.
    equal_means
        Intercepts of each variable equal over waves.
    ri_variances
        ``"free"`` or ``"zero"``: fixing the random-intercept variances and covariances to 0 gives a model
        equal to the CLPM (a check of the engine, and the boundary of the CLPM vs RI-CLPM test).
    columns
        Column names when they do not follow ``<variable>_<wave>``, e.g. ``{"x": ["x1", ..., "x5"]}``.

    Returns
    -------
    str
        The syntax, one statement per line under ``#`` headers; fit it with ``defaults="none"``
        (:func:`allianceStats.fit_riclpm` does).

    Example
    -------
    >>> syntax = riclpm_syntax(["alliance", "outcome"], 3)
    >>> print(syntax.splitlines()[1])
    RI_alliance =~ 1*alliance_1 + 1*alliance_2 + 1*alliance_3
    >>> "w_alliance_3 ~ w_alliance_2 + w_outcome_2" in syntax
    True
    >>> "ar_alliance*w_alliance_1" in riclpm_syntax(["alliance", "outcome"], 3, constraints="lagged")
    True
    """
    variables = _variables(variables)
    waves = resolve_waves(waves)
    n_groups, ge = _check_options(constraints, groups, group_equal)
    check_choice("predictors_on", predictors_on, PREDICTORS_ON)
    check_choice("ri_variances", ri_variances, RI_VARIANCES)
    equal_means = check_bool("equal_means", equal_means)
    lab = _Labels(n_groups, ge)
    zs = _predictor_names(predictors)
    if indicators is not None:
        return _riclpm_indicators(variables, waves, constraints, zs, predictors_on, indicators, invariance,
                                  between, lab, equal_means, ri_variances, columns)
    cols = observed_columns(variables, waves, columns)
    within = {v: [f"w_{c}" for c in cols[v]] for v in variables}

    lines = _join("Between part: random intercepts, loadings fixed to 1",
                  [f"RI_{v} =~ " + " + ".join(f"1*{c}" for c in cols[v]) for v in variables])
    lines += _join("Within part: one within component per observed variable, loading 1",
                   [f"{within[v][k]} =~ 1*{cols[v][k]}" for v in variables for k in range(len(waves))])
    lines += _join("Lagged regressions among the within components",
                   _lagged_lines(within, variables, waves, lab, constraints))
    lines += _join("Wave-1 within (co)variances; residual (co)variances at later waves",
                   _within_cov_lines(within, variables, waves, lab, constraints))
    lines += _join("Random-intercept variances and covariances (not covaried with wave-1 within components)",
                   _ri_cov_lines([f"RI_{v}" for v in variables], lab, ri_variances))
    if zs:
        pl = []
        for v in variables:
            for z in zs:
                if predictors_on == "observed":
                    pl.append(" + ".join(cols[v]) + " ~ "
                              + lab("predictors", f"s_{v}_{z}", over_time=True) + z)
                else:
                    pl.append(f"RI_{v} ~ " + lab("predictors", f"s_{v}_{z}", over_time=False) + z)
        lines += _join("Time-invariant predictors (extension 1)", pl)
    lines += _join("Observed residual variances fixed to 0",
                   [f"{c} ~~ 0*{c}" for v in variables for c in cols[v]])
    lines += _join("Intercepts: the grand mean of each variable at each wave",
                   _intercept_lines(cols, variables, waves, lab, equal_means))
    return "\n".join(lines)


def _ri_cov_lines(ris: list[str], lab: _Labels, ri_variances: str) -> list[str]:
    lines = []
    for i, a in enumerate(ris):
        for b in ris[i:]:
            if ri_variances == "zero":
                lines.append(f"{a} ~~ 0*{b}")
            else:
                base = f"ri_{a[3:]}" if a == b else f"ric_{a[3:]}_{b[3:]}"
                lines.append(f"{a} ~~ " + lab("between", base, over_time=False) + b)
    return lines


def _indicator_columns(variables, waves, indicators, columns) -> dict[str, list[list[str]]]:
    """cols[v][k][j]: column of indicator j of variable v at wave index k."""
    out = {}
    for v in variables:
        if v not in indicators:
            raise OptionError(f"indicators has no entry for variable {v!r}; give indicators={{{v!r}: [...]}}.")
        items = [_check_name(i, "indicator") for i in indicators[v]]
        if len(items) < 2:
            raise OptionError(f"indicators[{v!r}] has {len(items)} indicator(s); a within factor needs >= 2.")
        if columns is not None and v in columns:
            per_wave = [list(c) for c in columns[v]]
            if len(per_wave) != len(waves) or any(len(c) != len(items) for c in per_wave):
                raise OptionError(f"columns[{v!r}] must list {len(items)} columns for each of {len(waves)} waves.")
        else:
            per_wave = [[f"{i}_{w}" for i in items] for w in waves]
        out[v] = [[_check_name(c, "column") for c in cs] for cs in per_wave]
    return out


def _riclpm_indicators(variables, waves, constraints, zs, predictors_on, indicators, invariance, between,
                       lab, equal_means, ri_variances, columns) -> str:
    check_choice("invariance", invariance, INVARIANCE)
    check_choice("between", between, BETWEEN)
    if between == "factor" and invariance == "configural":
        raise OptionError("between='factor' gives the between factor the within loadings, which must then be "
                           "equal over time: use invariance='weak' or 'strong'.")
    if zs and predictors_on == "observed":
        raise OptionError("with indicators, time-invariant predictors act on the random intercepts: "
                           "use predictors_on='ri'.")
    if equal_means:
        raise OptionError("equal_means applies to single-indicator models; with indicators use "
                           "invariance='strong' for intercepts equal over time.")
    cols = _indicator_columns(variables, waves, indicators, columns)
    items = {v: list(indicators[v]) for v in variables}
    within = {v: [f"w_{v}_{w}" for w in waves] for v in variables}
    loads_equal = invariance in ("weak", "strong")

    def loading(v, j):
        return "1*" if j == 0 else (f"l_{items[v][j]}*" if loads_equal else "")

    lines = []
    if between == "indicator":
        ris = [f"RI_{i}" for v in variables for i in items[v]]
        blines = [f"RI_{items[v][j]} =~ " + " + ".join(f"1*{cols[v][k][j]}" for k in range(len(waves)))
                  for v in variables for j in range(len(items[v]))]
        lines += _join("Between part: one random intercept per indicator, loadings fixed to 1", blines)
    else:
        ris = [f"RI_{v}" for v in variables]
        blines = [f"RI_{v} =~ " + " + ".join(loading(v, j) + cols[v][k][j] for k in range(len(waves))
                                            for j in range(len(items[v]))) for v in variables]
        lines += _join("Between part: one factor per variable with the within loadings (invariance across "
                       "levels)", blines)
    lines += _join("Within part: measurement model of each within factor (first loading fixed to 1)",
                   [f"{within[v][k]} =~ " + " + ".join(loading(v, j) + cols[v][k][j]
                                                        for j in range(len(items[v])))
                    for v in variables for k in range(len(waves))])
    lines += _join("Lagged regressions among the within factors",
                   _lagged_lines(within, variables, waves, lab, constraints))
    lines += _join("Wave-1 within (co)variances; residual (co)variances at later waves",
                   _within_cov_lines(within, variables, waves, lab, constraints))
    lines += _join("Between (co)variances (not covaried with wave-1 within factors)",
                   _ri_cov_lines(ris, lab, ri_variances))
    if zs:
        lines += _join("Time-invariant predictors of the random intercepts (extension 1)",
                       [f"{r} ~ " + lab("predictors", f"s_{r[3:]}_{z}", over_time=False) + z
                        for r in ris for z in zs])
    lines += _join("Indicator residual variances (measurement error)",
                   [f"{c} ~~ {c}" for v in variables for cs in cols[v] for c in cs])
    ilines = []
    for v in variables:
        for j, item in enumerate(items[v]):
            for k, w in enumerate(waves):
                if invariance == "strong":
                    ilines.append(f"{cols[v][k][j]} ~ " + lab("means", f"i_{item}", w, over_time=True) + "1")
                else:
                    ilines.append(f"{cols[v][k][j]} ~ " + lab("means", f"i_{item}", w, over_time=False) + "1")
    lines += _join("Indicator intercepts" + (" (equal over waves: strong invariance)"
                                             if invariance == "strong" else ""), ilines)
    if invariance == "strong":
        lines += _join("Within-factor means free from wave 2 on (wave 1 fixed to 0 for identification)",
                       [f"{within[v][k]} ~ " + lab("means", f"a_{v}", w, over_time=False) + "1"
                        for v in variables for k, w in enumerate(waves) if k > 0])
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------
# DPM


def x_then_y(func: F) -> F:
    """``fit_dpm`` and ``dpm_syntax`` took ``(y, x)`` before 0.2.0 and take ``(x, y)`` now, like every other
    allianceStats function (x the predictor, y the outcome). A call that passes both by position is read in the
    new order and warns (FutureWarning, until 0.3.0) that the order changed; a list in the ``y`` slot (an old
    call with several predictors) is an :class:`OptionError`."""
    first = 1 if func.__name__ == "fit_dpm" else 0  # fit_dpm takes data first

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if len(args) >= first + 2:
            x, y = args[first], args[first + 1]
            head = "data, " if first else ""
            if not isinstance(y, str):
                raise OptionError(f"{func.__name__}(): y={y!r} must be one outcome column; since allianceStats 0.2.0 "
                                  f"the order is {func.__name__}({head}x, y) — x the predictor(s), y the outcome "
                                  f"(it was {func.__name__}({head}y, x)); pass x= and y= by keyword")
            from ..sem._messages import warn  # imported here: the builders run without the SEM engine

            warn(f"{func.__name__}(): x and y given by position are read in the order ({head}x, y) since "
                 f"allianceStats 0.2.0 (it was ({head}y, x)): here x={x!r} is the predictor and y={y!r} the "
                 f"outcome. Pass x= and y= by keyword to make the call unambiguous (this warning goes in 0.3.0)",
                 FutureWarning)
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@x_then_y
def dpm_syntax(x: Sequence[str] | str, y: str, waves: int | Sequence, *, predetermined: bool = True,
               error_invariance: bool = False, columns: Mapping[str, Sequence[str]] | None = None) -> str:
    """lavaan syntax of the ML-SEM dynamic panel model with fixed effects (Allison, Williams & Moral-Benito 2017).

    Model: ``y_t = mu_t + rho*y_(t-1) + sum_x beta_x*x_(t-1) + FE_y + e_t`` for ``t >= 2``, the specification of
    Stata's ``xtdpdml`` and R's ``dpm``: the fixed effect ``FE_y`` loads 1 on ``y_2..y_T`` and covaries freely
    with ``y_1`` and with ``x_1..x_(T-1)`` (the waves that enter the model); ``rho`` and every ``beta_x`` are
    equal over time; the exogenous block (``FE_y``, ``y_1``, the ``x``) is freely intercorrelated; ``x`` is
    predetermined (``predetermined=True``): ``x_t`` covaries with the residuals ``e_s`` of earlier waves
    ``2 <= s < t`` (never with the current or later ones), so earlier outcomes may feed back into later ``x``; residual
    variances are free per wave unless ``error_invariance=True``; intercepts are free per wave. Falkenström,
    Finkel, Sandell, Rubel & Holmqvist (2017) recommend this model for session-level alliance-outcome data with
    a lagged outcome.

    Parameters
    ----------
    x : str or list of str
        Time-varying predictor(s) (before 0.2.0 the second argument; see :func:`x_then_y`).
    y : str
        The outcome.
    waves : int or sequence
        Number of waves ``T`` or the wave labels (at least 3).
    predetermined, error_invariance : bool
        As described above.
    columns : mapping, optional
        Column names when they do not follow ``<variable>_<wave>``.

    Returns
    -------
    str
        The syntax; fit it with ``defaults="none"`` (:func:`allianceStats.fit_dpm` does).

    Example
    -------
    >>> s = dpm_syntax(x="alliance", y="outcome", waves=4)
    >>> print(s.splitlines()[1])
    FE_outcome =~ 1*outcome_2 + 1*outcome_3 + 1*outcome_4
    >>> "outcome_3 ~ rho*outcome_2 + beta_alliance*alliance_2" in s
    True
    >>> "outcome_2 ~~ alliance_3" in s  # alliance_3 is predetermined: it may follow the wave-2 residual
    True
    """
    predetermined = check_bool("predetermined", predetermined)
    error_invariance = check_bool("error_invariance", error_invariance)
    _check_name(y, "outcome")
    xs = [x] if isinstance(x, str) else list(x)
    if not xs:
        raise OptionError("fit_dpm needs at least one time-varying predictor x.")
    xs = [_check_name(v, "predictor") for v in xs]
    if y in xs:
        raise OptionError(f"{y!r} is both the outcome and a predictor; the lagged outcome is always included.")
    waves = resolve_waves(waves)
    if len(waves) < 3:
        raise OptionError(f"the dynamic panel model needs at least 3 waves (got {len(waves)}): with 2 the fixed "
                           "effect and the lagged outcome are not identified.")
    cols = observed_columns([y, *xs], waves, columns)
    T = len(waves)
    fe = f"FE_{y}"
    yc, xc = cols[y], {v: cols[v][:T - 1] for v in xs}
    lines = _join("Fixed effect: loadings 1 on the outcome from wave 2 on", [f"{fe} =~ " + " + ".join(
        f"1*{c}" for c in yc[1:])])
    lines += _join("Outcome equations: lagged outcome and lagged predictors, effects equal over time",
                   [f"{yc[k]} ~ rho*{yc[k - 1]} + " + " + ".join(f"beta_{v}*{xc[v][k - 1]}" for v in xs)
                    for k in range(1, T)])
    exo = [fe, yc[0], *[c for v in xs for c in xc[v]]]
    cov = [f"{a} ~~ {b}" for i, a in enumerate(exo) for b in exo[i:]]
    lines += _join("Exogenous block: fixed effect, first outcome and the predictors freely (co)varied", cov)
    if predetermined:
        pre = []
        for k in range(1, T - 1):  # residual of y at wave index k (wave >= 2) with x at later waves only
            later = [xc[v][j] for v in xs for j in range(k + 1, T - 1)]
            if later:
                pre.append(f"{yc[k]} ~~ " + " + ".join(later))
        lines += _join("Predetermined predictors: x_t covaries with the outcome residuals of earlier waves", pre)
    lines += _join("Outcome residual variances" + (" (equal over time)" if error_invariance else ""),
                   [f"{c} ~~ " + ("sigma2*" if error_invariance else "") + c for c in yc[1:]])
    lines += _join("Intercepts", [f"{c} ~ 1" for c in [*yc, *[c for v in xs for c in xc[v]]]])
    return "\n".join(lines)





__all__ = ["clpm_syntax", "riclpm_syntax", "dpm_syntax", "observed_columns", "resolve_waves", "x_then_y"]
