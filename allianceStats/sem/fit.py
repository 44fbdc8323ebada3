"""``fit_sem``: structural equation models by ML / FIML, and by (D)WLS for ordered items, matching lavaan.

Pipeline (lavaan's, Rosseel 2012), one named step each, in :func:`_fit_sem`:

1. prepare (``prepare.py``): data (or summary statistics, ``sample_stats.py``) → parameter table → sample
   statistics by missing-data pattern;
2. estimate (``estimate.py``): start values → optimisation (under inequality constraints an active set) → check of
   the optimum and of the solution;
3. vcov: standard errors from the information matrix, a sandwich, or the bootstrap;
4. baseline (``fit_measures.py``): the saturated (H1) and independence models;
5. fit measures (``fit_measures.py``): χ², CFI, TLI, RMSEA, SRMR, AIC, BIC, SABIC, scaled and robust versions;
6. parameter table (``parameter_estimates.py``): estimates, tests, intervals, standardized solutions.

Model and likelihood: see ``model.py`` (Σ(θ) = Λ(I−B)⁻¹Ψ(I−B)⁻ᵀΛᵀ + Θ, μ(θ) = ν + Λ(I−B)⁻¹α; Jöreskog
1973, Bollen 1989) and ``likelihood.py`` (casewise FIML, Arbuckle 1996; Enders 2010). With complete data
FIML is ordinary ML with a mean structure.

Defaults are lavaan's (``sem()``/``cfa()``, lavaan 0.6)
------------------------------------------------------
* ``missing="listwise"``: rows with a missing model variable are dropped (a :class:`DataWarning` says how many);
  ``missing="fiml"`` (lavaan's ``"ml"``, accepted too) uses them.
* ``information``: ``"expected"``, except ``"observed"`` under FIML and for Huber–White standard errors (MLR).
* ``meanstructure``: False — only the covariance structure, npar without intercepts — unless the data are
  incomplete under FIML, there are groups, the syntax has an intercept (``~ 1``), ``group_equal`` names intercepts
  or means, or ``sample_mean`` is given. Without a mean structure the intercepts are saturated (estimated freely,
  left out of npar, the tables and SRMR): the covariance parameters, their standard errors and χ² are those of
  lavaan's covariance-only fit.

Standard errors (as lavaan 0.6 computes them for the same options)
-----------------------------------------------------------------
* ``se="standard"``: inverse information (expected or observed as above; observed = the Hessian of −ℓ).
* ``se="robust.huber.white"`` (and ``estimator="MLR"``): Huber–White sandwich H⁻¹(Σ_i s_i s_iᵀ)H⁻¹ with casewise
  scores s_i (Yuan & Bentler 2000); MLR adds the Yuan–Bentler (Mplus variant) scaled χ².
* ``se="robust.sem"``: the sandwich E⁻¹(Σ_g n_g Δ_gᵀ W_g Γ_g W_g Δ_g)E⁻¹ around the expected information, with Γ_g the
  (non-normal) asymptotic covariance of the sample moments (Satorra & Bentler 1994; lavaan's MLM standard errors).
* ``se="robust"`` is lavaan's shorthand: ``"robust.sem"`` on complete data, ``"robust.huber.white"`` under FIML.
* ``se="bootstrap"``: ordinary (row-resampling, within groups) bootstrap; SE = SD of the replicates,
  percentile CIs, for defined (``:=``) parameters too (their replicates, not the delta method). Replicates
  are refitted by Fisher scoring from the full-sample estimates.

Test statistic and fit indices: as lavaan's ``fitMeasures``; definitions and references in ``fit_measures.py``.
Under FIML lavaan's ``*_robust`` CFI, TLI and RMSEA (FIML-corrected, Savalei 2018) are reported for ML and MLR.

Ordered items (``ordered=[...]``): the same six steps with lavaan's least-squares estimators for categorical data
(``fit_ordinal.py``; thresholds, polychoric correlations and their asymptotic covariance in ``polychoric.py``,
estimation, standard errors, tests and fit measures in ``wls.py``). WLSMV, the default there, is DWLS with robust
standard errors and the scaled-and-shifted test. Model variables not in ``ordered`` are continuous: their means,
variances, Pearson covariances and polyserial correlations with the ordered items join the sample statistics
(``polyserial.py``). ``missing="pairwise"`` (lavaan's) computes each of these statistics from the available values;
it is only for ordered items (lavaan would fit ML to a pairwise covariance matrix, whose standard errors and test
ignore the missing data: use ``"fiml"``).

Exogenous observed covariates are handled as ``lavaan::sem()`` with ``fixed.x = TRUE``: their means,
variances and covariances are fixed at the sample values and are not parameters; rows with a missing
covariate are dropped with a :class:`DataWarning` (lavaan does the same).

References: Arbuckle (1996) in Marcoulides & Schumacker (eds.), *Advanced SEM*; Bollen (1989) *Structural
Equations with Latent Variables*; Enders (2010) *Applied Missing Data Analysis*; Jöreskog (1973);
Rosseel (2012) *J. Stat. Softw.* 48(2); Satorra & Bentler (1994) in von Eye & Clogg (eds.), *Latent Variables
Analysis*; Satorra & Bentler (2001) *Psychometrika* 66; Savalei (2018) *Educ. Psychol. Meas.* 78; Yuan & Bentler
(2000) *Sociological Methodology* 30.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .._deprecation import renamed_arguments
from ..data.checks import check_bool, check_choice, check_conf_level, check_positive_int, resolve_seed, table_and_text
from ..errors import AllianceStatsError, BoundaryWarning, ConvergenceWarning, IdentificationError, OptionError
from ..results import Convergence, make_provenance
from ._messages import warn
from .estimate import OptimizerRecord, improper_solution, optimize, vcov_from_information
from .fit_measures import fit_measures, h1_information, moment_jacobian, non_x, reference_models
from .fit_ordinal import check_ordinal_options, fit_sem_ordinal, ordered_items
from .likelihood import PatternData
from .parameter_estimates import parameter_table, row_estimates
from .partable import GROUP_EQUAL
from .prepare import MISSING, Problem, prepare
from .result import MLState, SEMResult
from .sample_stats import SampleStatistics, check_sample_options, sample_statistics
from .syntax import parse_model
from .wls import ROBUST

ESTIMATORS = ["ML", "MLR", *ROBUST]
"""``estimator=`` values: ML and MLR for continuous data, lavaan's least-squares family for ordered items."""
ORDERED_UNVALIDATED = ("regressions", "residual.covariances")
"""``group_equal`` classes refused with ordered items (not yet validated against lavaan)."""
SE_TYPES = ["standard", "robust", "robust.sem", "robust.huber.white", "bootstrap", "none"]
"""``se=`` values (lavaan's names)."""


@renamed_arguments(n_boot="n_draws")
def fit_sem(data: pd.DataFrame | None = None, model: str | None = None, *, missing: str = "listwise",
            estimator: str | None = None, group: str | None = None, se: str = "standard",
            information: str | None = None,
            meanstructure: bool | None = None, std_lv: bool = False, orthogonal: bool = False,
            group_equal: Sequence[str] | str = (), group_partial: Sequence[str] | str = (), defaults: str = "sem",
            conf_level: float = 0.95, n_draws: int = 1000, seed: int | None = None,
            ordered: Sequence[str] | bool | None = None, parameterization: str = "delta",
            sample_cov: Any = None, sample_mean: Any = None, sample_nobs: Any = None) -> SEMResult:
    """Fit a structural equation model written in lavaan syntax, with lavaan's defaults, by ML / FIML, or by WLSMV
    for ordered items.

    Definition: maximum-likelihood estimation of the covariance (and mean) structure Σ(θ), μ(θ) implied by the
    model (Jöreskog 1973; Bollen 1989); with ``missing="fiml"`` the casewise (full-information) likelihood over
    missing-data patterns (Arbuckle 1996), lavaan's ``missing="ml"`` (Rosseel 2012). With ``ordered`` items,
    thresholds and polychoric correlations fitted by diagonally weighted least squares with robust standard errors
    and the scaled-and-shifted test (WLSMV; Muthén 1984; Asparouhov & Muthén 2010; :mod:`allianceStats.sem.wls`).
    The defaults are those of ``lavaan::sem()`` / ``cfa()`` (module docstring): on complete data
    ``fit_sem(data, model)`` gives the numbers of ``sem(model, data)`` — ML, expected information, no mean
    structure, listwise deletion. Validated against lavaan 0.6.14 (``tests/sem/test_lavaan_fixtures.py``,
    ``tests/sem/test_lavaan_habits.py``: HolzingerSwineford1939, PoliticalDemocracy; ordinal models in
    ``tests/sem/test_ordinal_fixtures.py``).

    The table comes first, as everywhere in allianceStats; lavaan's order ``fit_sem(model, data)`` (as in
    ``sem(model, data)``) is accepted as typed. A published covariance matrix is fitted with
    ``fit_sem(None, model, sample_cov=S, sample_nobs=N)`` (lavaan's ``sem(model, sample.cov = S, sample.nobs =
    N)``; :mod:`allianceStats.sem.sample_stats`).

    Parameters
    ----------
    data : DataFrame or None
        One column per observed variable (NaN = missing); never modified. None with ``sample_cov``.
    model : str
        lavaan syntax (``=~ ~ ~~ ~1 := == < >``, ``1*x``, ``a*x``, ``NA*x``, ``c(a, b)*x``, ``start(0.5)*x``,
        ``label("a")*x``, ``equal("a")*x``; :mod:`allianceStats.sem.syntax`).
    missing : {"listwise", "fiml", "pairwise"}
        Complete rows only (default, as lavaan; a :class:`DataWarning` says how many rows were dropped), or
        full-information ML over missing-data patterns. lavaan's name for FIML, ``"ml"``, is accepted too. With
        ordered items ``"listwise"`` (default) or ``"pairwise"``: thresholds, means and variances from the
        available values of each variable, correlations from the pairwise-complete rows and Γ from scores that are 0
        where a value is missing (lavaan's ``missing = "pairwise"``; :mod:`allianceStats.sem.polyserial`);
        ``"pairwise"`` is an :class:`~allianceStats.errors.OptionError` for an all-continuous model.
    estimator : {"ML", "MLR", "WLSMV", "WLSM", "DWLS", "ULSMV", "ULSM", "ULS", "WLS"}, optional
        ML, or ML estimates with Huber–White standard errors and the Yuan–Bentler scaled χ² (MLR). With
        ``ordered`` items lavaan's least-squares estimators. Unset (None): ``"ML"``, or ``"WLSMV"`` with ordered
        items, as lavaan's ``"default"``; ``"ML"`` or ``"MLR"`` with ordered items is an
        :class:`~allianceStats.errors.OptionError`, as lavaan stops there too.
    group : str, optional
        Column defining groups (multigroup model; groups in order of appearance).
    se : {"standard", "robust", "robust.sem", "robust.huber.white", "bootstrap", "none"}
        How standard errors are computed (module docstring); ``"robust"`` is lavaan's shorthand (``"robust.sem"`` on
        complete data, ``"robust.huber.white"`` under FIML). Under MLR, WLSMV, WLSM, ULSMV and ULSM
        ``"standard"`` means the estimator's robust standard errors.
    information : {"expected", "observed"}, optional
        Information matrix behind the standard errors; default as lavaan (``"observed"`` under FIML and MLR,
        ``"expected"`` otherwise).
    meanstructure : bool, optional
        Whether means and intercepts are part of the model; default as lavaan (module docstring).
    std_lv : bool
        lavaan's ``std.lv``: latent variables scaled by fixing their (residual) variances at 1 instead of their
        first loadings; with groups and equal loadings (and not equal ``"lv.variances"``) the variances are free
        after the first group, as lavaan. Also with ordered items.
    orthogonal : bool
        lavaan's ``orthogonal``: the covariances of the exogenous latent variables (and of the residuals of the
        endogenous ones) fixed at 0 instead of free. Also with ordered items.
    group_equal : str or list of str
        lavaan's ``group.equal``: parameter classes equal across groups — ``"loadings"``, ``"intercepts"``,
        ``"means"``, ``"residuals"``, ``"residual.covariances"``, ``"lv.variances"``, ``"lv.covariances"``,
        ``"regressions"``, and ``"thresholds"`` (ordered items only). With equal intercepts or thresholds the latent
        means are free after the first group; with equal thresholds also the scale factors (delta) or the residual
        variances of the ordered items (theta), lavaan's rules for categorical groups. A class equal to a fixed
        first-group parameter is fixed there too, as lavaan (e.g. ``"residuals"`` under theta). With ordered items
        ``"regressions"`` and ``"residual.covariances"`` are refused (not yet validated against lavaan).
    group_partial : list of str
        lavaan's ``group.partial``: parameters exempt from ``group_equal``, written as in the syntax
        (``"f =~ x2"``, ``"x7 ~ 1"``, ``"x3 ~~ x3"``, ``"u3 | t2"``).
    defaults : {"sem", "none"}
        ``"sem"`` adds lavaan ``sem()``'s default parameters; ``"none"`` fits only what is written, like
        ``lavaan::lavaan()``.
    conf_level : float
        Level of the intervals in ``params`` (Wald, or percentile under the bootstrap).
    n_draws : int
        Bootstrap replicates (``se="bootstrap"``).
    seed : int, optional
        Seed of the bootstrap; when None a fresh one is drawn and recorded in ``provenance.seed``.
    ordered : list of str or True, optional
        The ordered (ordinal) items, as lavaan's ``ordered=``; True means every observed indicator and outcome of the
        model (as lavaan's ``ordered = TRUE``: covariates that only predict stay numeric;
        :mod:`allianceStats.sem.ordinal`). The estimator is then ``"WLSMV"`` unless given. Thresholds are
        written ``u | t1 + t2``. The model's other observed variables are continuous (means, variances, Pearson and
        polyserial correlations, as lavaan); they may be indicators or outcomes. An observed continuous or binary (0/1)
        variable that only predicts (the MIMIC model ``F ~ culture + age``, a direct effect ``u3 ~ culture`` for DIF)
        is a covariate conditioned on, as lavaan's default ``conditional.x = TRUE``: probit regressions of the items on
        the covariates, residual polychoric correlations (:mod:`allianceStats.sem.conditional`; Muthén 1984; Muthén, du
        Toit & Spisic 1997), also with ``missing="pairwise"``. Continuous outcomes or indicators in such a model are
        regressed linearly on the covariates (intercepts, slopes, residual variances; residual polyserial and Pearson
        correlations), as lavaan. An ordered item that only predicts becomes a numeric covariate (its values as they
        are), with a warning, as lavaan. Ordered items that are indicators or outcomes may predict (an ordered
        mediator) under ``parameterization="theta"`` only; under ``"delta"`` that is refused (lavaan's delta fit did
        not converge).
    parameterization : {"delta", "theta"}
        Identification of the latent responses of ordered items (lavaan's ``parameterization=``).
    sample_cov : DataFrame, list or dict of DataFrame, optional
        Summary-statistics input: covariance matrix (divisor n − 1) with variable names as index and columns, one
        per group (lavaan's ``sample.cov``; rescaled by (n − 1)/n as lavaan does).
    sample_mean : Series, sequence or dict, optional
        Means to go with ``sample_cov`` (lavaan's ``sample.mean``; gives the model a mean structure).
    sample_nobs : int or sequence of int, optional
        Observations behind ``sample_cov`` (lavaan's ``sample.nobs``).

    Returns
    -------
    SEMResult
        ``params`` (``lhs, op, rhs, label, group, estimate, std_error, statistic, p_value, ci_lower,
        ci_upper, std_all, std_lv``), ``paths`` (the regressions), ``fit``, ``convergence``, ``provenance``,
        ``n_obs``, ``conf_level``; post-fit tools ``modindices()``, ``residuals()``, ``fitted()``, ``predict()``,
        ``r2``; ``summary()`` laid out as lavaan's; ``r_call()``.

    Raises
    ------
    FormulaError
        The syntax cannot be parsed or names a variable that is neither a column nor a latent variable.
    SchemaError
        ``data`` is not a DataFrame, or a model column is not numeric or has no observed value; a covariate that is
        text, a category or boolean (the message says how to code it: dummies, ``pd.to_numeric``, 0/1); with
        ``ordered`` items, codes that are not whole numbers, an item with a single category, a category empty in a
        group among the rows used, a continuous variable without variance in a group, or (pairwise) two variables
        observed together in fewer than 2 rows; a malformed ``sample_cov``.
    OptionError
        An option has a value not listed above, or needs the rows (robust, bootstrap, FIML) with ``sample_cov``;
        with ``ordered`` items ``missing="fiml"``, ``estimator="MLR"``, ``se="bootstrap"`` (lavaan's least-squares
        estimators take listwise or pairwise deletion and robust or standard errors).
    IdentificationError
        With ``ordered`` items: a group with fewer than 2 usable rows, collinear or constant covariates.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import allianceStats as als
    >>> rng = np.random.default_rng(3)
    >>> x = rng.normal(size=300); m = 0.5 * x + rng.normal(size=300); y = 0.4 * m + rng.normal(size=300)
    >>> df = pd.DataFrame({"x": x, "m": m, "y": y})
    >>> res = als.fit_sem(df, "m ~ a*x\\n y ~ b*m + x\\n ab := a*b")
    >>> int(res.fit["df"]), int(res.fit["npar"]), res.n_obs, res.options["meanstructure"]
    (0, 5, 300, False)
    >>> row = res.params.query("lhs == 'ab'").iloc[0]
    >>> bool(0.1 < row["estimate"] < 0.35)
    True
    >>> boot = als.fit_sem(df, "m ~ a*x\\n y ~ b*m + x\\n ab := a*b", se="bootstrap", n_draws=200, seed=1)
    >>> boot.provenance.seed, boot.provenance.function
    (1, 'fit_sem')

    A published covariance matrix (summary statistics), as ``sem(model, sample.cov = S, sample.nobs = 300)``:

    >>> b = res.params.query("label == 'b'")["estimate"].iloc[0]
    >>> again = als.fit_sem(None, "m ~ a*x\\n y ~ b*m + x", sample_cov=df.cov(), sample_nobs=300)
    >>> bool(np.isclose(again.params.query("label == 'b'")["estimate"].iloc[0], b))
    True

    Ordered items (five-point ratings) by WLSMV:

    >>> f = rng.normal(size=400)
    >>> items = pd.DataFrame({f"i{j}": np.digitize(0.8 * f + 0.6 * rng.normal(size=400), [-1.2, -0.3, 0.5, 1.3]) + 1
    ...                       for j in range(1, 5)})
    >>> cfa = als.fit_sem(items, "F =~ i1 + i2 + i3 + i4", ordered=["i1", "i2", "i3", "i4"])
    >>> cfa.options["estimator"], int(cfa.fit["df"]), int((cfa.params["op"] == "|").sum())
    ('WLSMV', 2, 16)

    A continuous outcome next to them (polyserial correlations), with 10% of the ratings missing, pairwise:

    >>> items["score"] = 20 + 3 * (0.6 * f + 0.8 * rng.normal(size=400))
    >>> items.loc[rng.random(400) < 0.1, "i2"] = np.nan
    >>> sem = als.fit_sem(items, "F =~ i1 + i2 + i3 + i4\\nscore ~ F", ordered=["i1", "i2", "i3", "i4"],
    ...                   missing="pairwise")
    >>> sem.n_obs, sem.options["missing"], bool(sem.params.query("op == '~'")["estimate"].iloc[0] > 0)
    (400, 'pairwise', True)

    A covariate of the latent variable (a MIMIC model; conditioned on, as lavaan's default ``conditional.x``):

    >>> items["culture"] = (rng.random(400) < 0.5).astype(float)
    >>> mimic = als.fit_sem(items, "F =~ i1 + i2 + i3 + i4\\nF ~ culture", ordered=["i1", "i2", "i3", "i4"],
    ...                     missing="pairwise")
    >>> mimic.options["conditional_x"], mimic.converged, mimic.r_call("d")[-21:]
    (['culture'], True, 'missing = "pairwise")')
    """
    started = time.perf_counter()
    sample: SampleStatistics | None = None
    if sample_cov is not None:
        if isinstance(data, str) and model is None:
            data, model = None, data    # lavaan's sem(model, sample.cov = S, ...)
        if data is not None:
            raise OptionError("give either data or sample_cov= (summary statistics), not both")
        sample = sample_statistics(sample_cov, sample_mean, sample_nobs)
    else:
        if sample_mean is not None or sample_nobs is not None:
            raise OptionError("sample_mean= and sample_nobs= go with sample_cov= (summary statistics)")
        data, model = table_and_text(data, model, where="fit_sem", text="model")
    if not isinstance(model, str):
        raise OptionError(f"model must be lavaan syntax (a str), found {type(model).__name__}")
    if missing not in MISSING and missing != "pairwise":   # lavaan's "ml" is accepted, the glossary's names offered
        check_choice("missing", missing, ["listwise", "fiml", "pairwise"])
    if estimator is not None:
        check_choice("estimator", estimator, ESTIMATORS)
    check_choice("se", se, SE_TYPES)
    check_choice("defaults", defaults, ["sem", "none"])
    check_choice("parameterization", parameterization, ["delta", "theta"])
    if information is not None:
        check_choice("information", information, ["expected", "observed"])
    if meanstructure is not None:
        meanstructure = check_bool("meanstructure", meanstructure)
    std_lv, orthogonal = check_bool("std_lv", std_lv), check_bool("orthogonal", orthogonal)
    group_equal = [group_equal] if isinstance(group_equal, str) else list(group_equal)
    for item in group_equal:
        check_choice("group_equal", item, [*GROUP_EQUAL, "thresholds"])
    group_partial = [group_partial] if isinstance(group_partial, str) else list(group_partial)
    conf_level = check_conf_level(conf_level)
    n_draws = check_positive_int("n_draws", n_draws, minimum=2)
    if seed is not None:
        resolve_seed(seed)  # a bad seed is an error even where it is not used
    items = ordered_items(model, data, ordered) if ordered is not None and sample is None else []
    if "thresholds" in group_equal and not items:
        raise OptionError("group_equal='thresholds' is for ordered items (lavaan's thresholds of categorical "
                          "variables); name them in ordered=[...], or drop 'thresholds'")
    if items:
        extra = {k: v for k, v in dict(information=information, meanstructure=meanstructure).items() if v is not None}
        if extra:
            raise OptionError(f"{sorted(extra)} are not available with ordered items (lavaan's least-squares "
                              "estimators use the expected information and always a mean structure: thresholds)")
        unchecked = sorted(set(group_equal) & set(ORDERED_UNVALIDATED))
        if unchecked:
            raise OptionError(f"group_equal={unchecked} is not available with ordered items yet (not validated "
                              "against lavaan); write the equality labels in the syntax")
        estimator = check_ordinal_options(estimator, se)
        if missing not in ("listwise", "pairwise"):
            raise OptionError(f"missing={missing!r} is not available with ordered items; lavaan's least-squares "
                              "estimators take missing='listwise' (the default) or 'pairwise'")
        with threadpool_limits(limits=1, user_api="blas"):
            table = cast(pd.DataFrame, data)
            return fit_sem_ordinal(table, model, ordered=items, estimator=estimator, parameterization=parameterization,
                                   group=group, se=se, defaults=defaults, conf_level=conf_level, started=started,
                                   missing=missing,
                                   partable_options=dict(std_lv=std_lv, orthogonal=orthogonal,
                                                         group_equal=group_equal, group_partial=group_partial))
    if ordered is not None and sample is not None:
        raise OptionError("ordered items need the rows of the data, not summary statistics")
    estimator = estimator or "ML"
    if estimator not in ("ML", "MLR"):
        raise OptionError(f"estimator={estimator!r} is not supported for continuous variables; it is for ordered "
                          "items, named in ordered=[...] (continuous variables are fitted by 'ML' or 'MLR')")
    if missing == "pairwise":
        raise OptionError("missing='pairwise' is only available with ordered items (lavaan's WLSMV family); for "
                          "continuous variables use missing='fiml' (full-information ML, valid under MAR) or "
                          "'listwise'. (lavaan would fit ML to the pairwise covariance matrix, with standard errors "
                          "and test that ignore the missing values.)")
    missing = MISSING[missing]
    if sample is not None:
        check_sample_options(group=group, missing=missing, se=se, estimator=estimator, sample_mean=sample_mean,
                             meanstructure=meanstructure)
    se = _resolve_se(se, estimator, missing)
    information = information or ("observed" if missing == "fiml" or se == "robust.huber.white" else "expected")
    meanstructure = _resolve_meanstructure(meanstructure, model, missing=missing, group=group,
                                           group_equal=group_equal, sample=sample)
    # randomness only under the bootstrap: its seed is always recorded (a fresh one when None was given)
    seed = resolve_seed(seed) if se == "bootstrap" else None
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_sem(model, data, missing=missing, estimator=estimator, group=group, se=se,
                        information=information, meanstructure=meanstructure, defaults=defaults,
                        conf_level=conf_level, n_draws=n_draws, seed=seed, started=started,
                        partable_options=dict(std_lv=std_lv, orthogonal=orthogonal, group_equal=group_equal,
                                              group_partial=group_partial), sample=sample)


def _resolve_se(se: str, estimator: str, missing: str) -> str:
    """lavaan's resolution: MLR's standard errors are Huber–White; ``"robust"`` is ``"robust.sem"`` on complete data
    and ``"robust.huber.white"`` under FIML."""
    if estimator == "MLR" and se in ("standard", "robust"):
        return "robust.huber.white"
    if se == "robust":
        return "robust.huber.white" if missing == "fiml" else "robust.sem"
    if se == "robust.sem" and missing == "fiml":
        raise OptionError("se='robust.sem' is for complete data (lavaan refuses it with missing = \"ml\"); under "
                          "missing='fiml' use se='robust.huber.white' or estimator='MLR'")
    return se


def _resolve_meanstructure(meanstructure: bool | None, model: str, *, missing: str, group: str | None,
                           group_equal: Sequence[str], sample: SampleStatistics | None) -> bool:
    """lavaan's rule: a mean structure under FIML, with groups, intercepts in the syntax, equal intercepts or means
    across groups, or sample means; otherwise none. An explicit False that cannot hold is an OptionError."""
    statements, _ = parse_model(model)
    needs = [why for why, cond in (
        ("missing='fiml'", missing == "fiml"),
        ("intercepts or means in the syntax ('~ 1')", any(st.op == "~1" for st in statements)),
        ("group_equal with intercepts or means", bool({"intercepts", "means"} & set(group_equal))),
        ("sample_mean=", sample is not None and sample.has_means)) if cond]
    if meanstructure is False and needs:
        raise OptionError(f"meanstructure=False is not possible with {needs[0]}; leave meanstructure unset")
    if meanstructure is not None:
        return meanstructure
    multigroup = group is not None or (sample is not None and len(sample.covs) > 1 and sample.has_means)
    return bool(needs) or multigroup


def _fit_sem(model: str, data: pd.DataFrame | None, *, missing: str, estimator: str, group: str | None, se: str,
             information: str, meanstructure: bool, defaults: str, conf_level: float, n_draws: int,
             seed: int | None, started: float, partable_options: dict[str, Any] | None = None,
             sample: SampleStatistics | None = None) -> SEMResult:
    # many small batched matrices: BLAS threads only add overhead here (2-3x measured), hence the limit above
    partable_options = partable_options or {}
    problem = prepare(model, data, missing=missing, group=group, defaults=defaults,                 # 1. prepare
                      meanstructure=meanstructure, sample=sample, **partable_options)
    if se in ("robust.huber.white", "bootstrap") and not problem.has_rows:
        raise OptionError("robust standard errors and the bootstrap need the rows of the data")
    problem, est = _estimate(problem, information=information)                                   # 2. estimate
    vcov_model, vcov, boot = _vcov(problem, est, se=se, n_draws=n_draws, seed=seed)              # 3. vcov
    reference = reference_models(problem, est.theta)                                              # 4. baseline
    fit = fit_measures(problem, est.theta, vcov_model, reference, robust=estimator == "MLR")      # 5. fit measures
    params, vcov_df = parameter_table(problem, est.theta, vcov, boot, conf_level)                # 6. parameter table

    rec = est.record
    message, converged = rec["message"], est.converged
    reasons = ([f"df = {fit['df']:.0f} < 0 (more free parameters than means and (co)variances)"]
               if fit["df"] < 0 else []) + (["the information matrix is singular"] if vcov_model is None else [])
    if reasons:  # an optimum of a model that is not identified is one of many: not a converged fit
        message = ("the model is not identified: " + "; ".join(reasons) + ". Fix a loading or variance per "
                   "latent variable, check equality labels, or simplify the model.")
        warn(message, ConvergenceWarning)
        est.warnings.append(message)
        converged = False
    convergence = Convergence(converged=converged, iterations=int(rec["iterations"] + rec["newton_steps"]),
                              optimizer=("Fisher scoring" + (" + BFGS" if rec.get("fallback") else "")
                                         + (" + Newton (observed information)" if missing == "fiml" else "")
                                         + (" with an active set" if problem.active else "")),
                              message=message, warnings=tuple(est.warnings))
    options = dict(missing=missing, estimator=estimator, group=group, se=se, defaults=defaults,
                   conf_level=conf_level, n_draws=n_draws if se == "bootstrap" else None,
                   exogenous_fixed_x=list(problem.pt.exogenous_x), meanstructure=meanstructure,
                   information=information, std_lv=bool(partable_options.get("std_lv")),
                   orthogonal=bool(partable_options.get("orthogonal")),
                   group_equal=list(partable_options.get("group_equal", ())),
                   group_partial=list(partable_options.get("group_partial", ())),
                   sample_statistics=sample is not None,
                   n_rows=int(len(data)) if data is not None else problem.n_obs,
                   n_rows_by_group=([int((data[group] == lab).sum()) for lab in problem.group_labels]
                                    if data is not None and group is not None else list(problem.n_obs_by_group)),
                   missing_patterns=int(sum(d.n_patterns for d in problem.datas)),
                   test="yuan.bentler.mplus" if estimator == "MLR" else "standard")
    table = problem.table.copy()
    table["estimate"] = row_estimates(table, est.theta)
    table.attrs["definitions"] = problem.pt.definitions
    table.attrs["constraints"] = problem.pt.constraints
    table.attrs["meanstructure"] = meanstructure
    if not meanstructure:
        params = params[params["op"] != "~1"].reset_index(drop=True)
        if vcov_df is not None:
            drop = [f"p{k}" for k in problem.mean_parameters]
            vcov_df = vcov_df.drop(index=drop, columns=drop)
    prov = make_provenance(data if data is not None else _sample_frame(sample), options=options, seed=seed,
                           function="fit_sem", started=started)
    n_obs_by_group = problem.n_obs_by_group
    state = MLState(problem=problem, theta=est.theta, h1_moments=tuple(reference.h1_moments),
                    vcov_model=vcov_model, information=information, se=se)
    return SEMResult(model=model, params=params, fit=pd.Series(fit, dtype=float), vcov=vcov_df,
                     partable=table, convergence=convergence, provenance=prov, n_obs=problem.n_obs,
                     n_obs_by_group=n_obs_by_group, group_labels=problem.group_labels, group=group,
                     observed=tuple(problem.observed), conf_level=conf_level, options=options, theta=est.theta,
                     ml=state)


def _sample_frame(sample: SampleStatistics | None) -> pd.DataFrame:
    """The summary statistics as one table (what the provenance hashes)."""
    if sample is None:
        return pd.DataFrame()
    frames = []
    for lab, cov, mean, n in zip(sample.group_labels, sample.covs, sample.means, sample.nobs):
        block = pd.DataFrame(cov, index=list(sample.names), columns=list(sample.names))
        block["mean"] = np.nan if mean is None else mean
        block["n"] = n
        block["group"] = str(lab)
        frames.append(block)
    return pd.concat(frames)


# ----------------------------------------------------------------------------------------------------
# 2. estimate


@dataclass
class Estimation:
    """Step 2's outcome: θ̂, the information matrix the standard errors use, the optimiser's record, the
    verdict on convergence and the warnings raised (also recorded in ``convergence.warnings``)."""

    theta: np.ndarray
    information: np.ndarray
    observed_information: bool
    record: OptimizerRecord
    converged: bool
    warnings: list[str] = field(default_factory=list)


def _estimate(problem: Problem, *, information: str) -> tuple[Problem, Estimation]:
    """Optimise; under inequality constraints (``a > 0``) by an active set: a violated inequality is imposed as an
    equality and the model refitted, an imposed one whose Lagrange multiplier has the wrong sign released, until
    the Karush–Kuhn–Tucker conditions hold (the optimum lavaan's constrained optimiser reaches). Active
    inequalities are fixed directions: their standard errors are 0, as in lavaan."""
    est = _estimate_once(problem, information=information)
    cons = problem.constraints
    if cons is None or not len(cons.G):
        return problem, est
    active = set(problem.active)
    for _ in range(2 * len(cons.G) + 2):
        slack = cons.G @ est.theta - cons.h
        tol = 1e-9 * np.maximum(1.0, np.abs(cons.h))
        add = {i for i in range(len(cons.G)) if i not in active and slack[i] < -tol[i]}
        drop = set()
        if active and not add:
            order = sorted(active)
            g = problem.objective.gradient(est.theta)
            M = np.vstack([cons.A, cons.G[order]]).T
            lam = np.linalg.lstsq(M, -g, rcond=None)[0][len(cons.A):]
            scale = max(1.0, float(np.abs(g).max()), float(np.abs(lam).max()))
            drop = {i for i, mu in zip(order, lam) if mu < -1e-6 * scale}
        if not add and not drop:
            break
        active = (active | add) - drop
        problem = problem.with_active(sorted(active))
        est = _estimate_once(problem, information=information)
    return problem, est


def _estimate_once(problem: Problem, *, information: str) -> Estimation:
    """Optimise, then check the optimum (gradient and Newton decrement) and the solution (Heywood cases)."""
    messages: list[str] = []
    try:
        theta, hess, rec = optimize(problem)
    except FloatingPointError as exc:
        raise IdentificationError(f"estimation could not start: {exc}.") from None
    obj = problem.objective
    if rec.get("fallback"):
        msg = f"the first optimiser did not converge; {rec['message']}."
        warn(msg, ConvergenceWarning)
        messages.append(msg)
    grad = obj.gradient(theta)
    use_observed = information == "observed"
    if use_observed:
        H = hess if hess is not None else obj.observed_information(theta)
    else:
        H = obj.expected_information(theta)
    g_free, H_free = grad, H
    if problem.reduction is not None:
        K = problem.reduction[0]
        g_free, H_free = K.T @ grad, K.T @ H @ K
    max_grad = float(np.max(np.abs(g_free))) / problem.n_obs if len(g_free) else 0.0
    # scale-free check too: the Newton decrement gᵀH⁻¹g (twice the log-likelihood still to gain)
    try:
        decrement = float(g_free @ np.linalg.solve(H_free, g_free))
    except np.linalg.LinAlgError:
        decrement = np.inf
    converged = bool(np.isfinite(rec["loglik"]) and (max_grad < 1e-5 or 0 <= decrement < 1e-8))
    if not converged:
        msg = (f"SEM estimation did not converge ({rec['message']}; max |gradient|/N = {max_grad:.2e}); "
               "estimates are unreliable. Check identification, scaling of variables, or simplify the model.")
        warn(msg, ConvergenceWarning)
        messages.append(msg)
    for prob in improper_solution(problem, theta):
        msg = f"improper solution: {prob}; interpret with care (lavaan warns likewise)."
        warn(msg, BoundaryWarning)
        messages.append(msg)
    return Estimation(theta, H, use_observed, rec, converged, messages)


# ----------------------------------------------------------------------------------------------------
# 3. vcov


def _vcov(problem: Problem, est: Estimation, *, se: str, n_draws: int,
          seed: int | None) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """(inverse information, covariance matrix the standard errors use, bootstrap replicates or None)."""
    vcov_model = (vcov_from_information(est.information) if problem.reduction is None
                  else vcov_from_information(est.information, problem.reduction))
    if vcov_model is None:
        msg = ("the information matrix is singular: the model may not be identified; standard errors are not "
               "available. Fix a loading or variance per latent variable and check equality labels.")
        warn(msg, ConvergenceWarning)
        est.warnings.append(msg)
    vcov = vcov_model
    boot = None
    if se == "robust.huber.white" and vcov_model is not None:
        scores = np.vstack(problem.objective.case_scores(est.theta))
        B0 = scores.T @ scores
        vcov = vcov_model @ B0 @ vcov_model
    elif se == "robust.sem" and vcov_model is not None:
        vcov = vcov_model @ robust_sem_meat(problem, est.theta) @ vcov_model
    elif se == "bootstrap":
        vcov, boot = _bootstrap(problem, est.theta, n_draws, seed)
    elif se == "none":
        vcov = None
    return vcov_model, vcov, boot


def robust_sem_meat(problem: Problem, theta: np.ndarray) -> np.ndarray:
    """Σ_g n_g Δ_gᵀ W_g Γ_g W_g Δ_g: W_g the expected information of the saturated model at the implied moments (per
    observation), Γ_g the covariance matrix of the rows' (y, vech (y − ȳ)(y − ȳ)ᵀ), Δ_g = ∂(μ, vech Σ)/∂θ, all without
    the fixed.x moments — the meat of lavaan's ``se = "robust.sem"`` sandwich (Satorra & Bentler 1994)."""
    q = len(theta)
    meat = np.zeros((q, q))
    x_idx = [list(problem.pt.observed).index(x) for x in problem.pt.exogenous_x]
    for gm, y in zip(problem.models, problem.frames or []):
        p = y.shape[1]
        keep = non_x(p, x_idx)
        mu, sigma = gm.implied(theta)
        W = h1_information(PatternData.from_moments(mu, sigma, 1), mu, sigma, "expected")[np.ix_(keep, keep)]
        iu = np.triu_indices(p)
        c = y - y.mean(axis=0)
        d = np.c_[y, c[:, iu[0]] * c[:, iu[1]]][:, keep]
        d = d - d.mean(axis=0)
        gamma = d.T @ d / len(y)
        delta = moment_jacobian(gm, theta)[keep]
        A = delta.T @ W
        meat += len(y) * A @ gamma @ A.T
    return meat


def _bootstrap(problem: Problem, theta: np.ndarray, n_draws: int, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Ordinary bootstrap (rows resampled within groups), each replicate refitted from θ̂ by Fisher scoring."""
    rng = np.random.default_rng(seed)
    draws = np.full((n_draws, len(theta)), np.nan)
    for b in range(n_draws):
        frames = [y[rng.integers(0, len(y), len(y))] for y in (problem.frames or [])]
        try:
            th, _, rec = optimize(problem.resampled(frames), theta.copy(), polish=False)
            if rec["converged"]:
                draws[b] = th
        except (FloatingPointError, AllianceStatsError, np.linalg.LinAlgError):
            continue
    ok = np.isfinite(draws).all(axis=1)
    if ok.sum() < n_draws:
        warn(f"{n_draws - int(ok.sum())} of {n_draws} bootstrap replicates failed and were dropped.",
             ConvergenceWarning)
    good = draws[ok]
    return np.cov(good.T, ddof=1).reshape(len(theta), len(theta)), good
