"""The fitted SEM: a frozen result with tidy parameters, fit measures, lavaan export and a summary.

It follows the result protocol of :class:`allianceStats.results.Result` (``convergence`` and ``converged``,
``provenance``, ``n_obs``, ``conf_level``, ``summary()``).

``params`` columns: ``lhs, op, rhs, label, group, estimate, std_error, statistic, p_value, ci_lower,
ci_upper, std_all`` (Wald z tests and normal-theory intervals at ``conf_level``; fixed parameters have
``std_error = 0`` and no test, as in ``lavaan::parameterEstimates``; defined parameters have ``op == ":="``
and group 0; ``params.attrs["group_labels"]`` maps group numbers to the values of the group column).
``std_all`` is lavaan's completely standardised solution (``standardizedSolution``, type
``"std.all"``, ``cov.std = TRUE``). ``fit`` is a Series named as lavaan's ``fitMeasures`` (with ``_`` for ``.``).
``paths`` holds the regressions (``op == "~"``: ``lhs`` the outcome, ``rhs`` the predictor) with the columns
:data:`PATH_COLUMNS` every ``paths`` table of allianceStats has, then ``group`` and ``std_all``.

Example
-------
>>> import numpy as np, pandas as pd
>>> import allianceStats as als
>>> factor = np.random.default_rng(0).normal(size=400)
>>> noise = np.random.default_rng(1).normal(size=(400, 3))
>>> items = pd.DataFrame(factor[:, None] + noise, columns=["x1", "x2", "x3"])
>>> cfa = als.fit_sem("f =~ x1 + x2 + x3", items, conf_level=0.9)
>>> print(cfa.to_lavaan().splitlines()[0])
f =~ 1*x1 + x2 + x3
>>> cfa.conf_level, cfa.n_obs, int(cfa.fit["df"]), cfa.converged
(0.9, 400, 0, True)
"""
from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._deprecation import warn_renamed
from ..data.checks import check_choice
from ..errors import OptionError
from ..results import Convergence, Provenance, ResultDisplay

PATH_COLUMNS = ("lhs", "op", "rhs", "label", "estimate", "std_error", "statistic", "p_value", "ci_lower",
                "ci_upper")
"""The columns every ``paths`` table starts with (``op`` is ``"~"``; ``lhs`` the outcome, ``rhs`` the predictor)."""


class _DeprecatedProperty(property):
    """A property that is a deprecated alias (``__deprecated_alias_of__`` names the new attribute)."""

    __deprecated_alias_of__: str


def deprecated_attribute(owner: str, old: str, new: str) -> property:
    """A read-only attribute ``old`` kept for one minor version: reading it warns (FutureWarning, pointing at the
    caller's line) and returns attribute ``new``. Like the function aliases of ``_deprecation.py`` it carries
    ``__deprecated_alias_of__``, which tells the vocabulary test that it is deprecated.

    >>> import warnings
    >>> class Thing:
    ...     conf_level = 0.9
    ...     level = deprecated_attribute("Thing", "level", "conf_level")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     Thing().level, str(caught[0].message).split(";")[0]
    (0.9, 'Thing.level is renamed Thing.conf_level')
    """

    def fget(obj: Any) -> Any:
        warn_renamed(f"{owner}.{old}", f"{owner}.{new}", stacklevel=4)
        return getattr(obj, new)

    prop = _DeprecatedProperty(fget, doc=f"Deprecated alias of :attr:`{new}` (removed in 0.3.0).")
    prop.__deprecated_alias_of__ = new
    return prop


@dataclass(frozen=True)
class WLSState:
    """What a nested-model test of least-squares fits needs (``compare_sem``, Satorra 2000): the estimation
    problem (sample statistics, Γ and weights per group), θ̂, the Jacobians Δ_g at θ̂ and the test's name."""

    problem: Any
    theta: np.ndarray
    jacobians: tuple[np.ndarray, ...]
    test: str


@dataclass(frozen=True)
class MLState:
    """What the post-fit tools of an ML fit need: the estimation problem (data by pattern, model matrices), θ̂, the
    H1 moments per group, the inverse information (constrained where constraints hold) and its kind."""

    problem: Any
    theta: np.ndarray
    h1_moments: tuple[tuple[np.ndarray, np.ndarray], ...]
    vcov_model: np.ndarray | None
    information: str
    se: str = "standard"


def _fmt(v: float) -> str:
    return f"{float(v):.17g}" if np.isfinite(v) else "NA"


@dataclass(frozen=True, repr=False)
class SEMResult(ResultDisplay):
    """A fitted structural equation model, as returned by :func:`allianceStats.fit_sem`.

    Attributes
    ----------
    model : str
        The lavaan syntax that was fitted.
    params : DataFrame
        Tidy parameter table (module docstring).
    fit : Series
        Fit measures named as lavaan's ``fitMeasures`` (``chisq, df, pvalue, cfi, tli, rmsea, srmr, loglik,
        aic, bic, npar`` ...).
    vcov : DataFrame or None
        Covariance matrix of the free parameters ``p1..pq`` (the ``free`` index of ``partable``); None with
        ``se="none"``.
    partable : DataFrame
        The parameter table with estimates.
    convergence, provenance
        How the optimiser ended; versions, options, seed (bootstrap), data hash, function, seconds.
    n_obs : int
        Rows used, all groups together (lavaan's ``ntotal``).
    n_obs_by_group : tuple of int
        Rows used per group, in the order of ``group_labels``.
    group_labels, group, observed
        Group values (in order of appearance), the group column, the observed variables.
    conf_level : float
        Level of every interval in ``params`` and ``paths``.
    options : dict
        Resolved options (also in ``provenance.options``).
    wls : WLSState or None
        For fits of ordered items, what ``compare_sem`` needs for the Satorra (2000) difference test.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from allianceStats.sem import fit_sem
    >>> rng = np.random.default_rng(6)
    >>> x = rng.normal(size=250)
    >>> res = fit_sem("y ~ b*x", pd.DataFrame({"x": x, "y": 0.3 * x + rng.normal(size=250)}))
    >>> print(res.to_lavaan())
    y ~ b*x
    y ~~ y
    >>> res.r_call("df")
    'lavaan::lavaan(model, data = df, missing = "listwise", estimator = "ML", information = "expected", ...'
    >>> res.paths[["lhs", "op", "rhs", "label"]].values.tolist()
    [['y', '~', 'x', 'b']]
    """

    model: str
    params: pd.DataFrame
    fit: pd.Series
    vcov: pd.DataFrame | None
    partable: pd.DataFrame
    convergence: Convergence
    provenance: Provenance
    n_obs: int
    n_obs_by_group: tuple[int, ...]
    group_labels: tuple[Hashable, ...]
    group: str | None
    observed: tuple[str, ...]
    conf_level: float = 0.95
    options: dict[str, Any] = field(default_factory=dict)
    theta: np.ndarray | None = field(default=None, repr=False)
    wls: WLSState | None = field(default=None, repr=False, compare=False)
    ml: MLState | None = field(default=None, repr=False, compare=False)

    @property
    def paths(self) -> pd.DataFrame:
        """The regressions (``op == "~"``): :data:`PATH_COLUMNS`, then ``group`` and ``std_all``."""
        reg = self.params[self.params["op"] == "~"]
        return reg[[*PATH_COLUMNS, "group", "std_all"]].reset_index(drop=True)

    level = deprecated_attribute("SEMResult", "level", "conf_level")

    # ------------------------------------------------------------------------------------------------
    # post-fit tools (allianceStats.sem.postfit), for ML fits

    def _state(self, what: str) -> MLState:
        if self.ml is None:
            raise OptionError(f"{what} is available for ML fits of continuous variables (this fit is by "
                              f"{self.options.get('estimator')} of ordered items)")
        return self.ml

    def modindices(self, *, sort: bool = False, minimum_value: float = 0.0,
                   op: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Modification indices with expected parameter changes, as lavaan's ``modindices(fit)``.

        The score test of freeing each fixed parameter (Sörbom 1989), with the expected change (EPC) and its
        standardised versions (lavaan's ``sepc.lv`` and ``sepc.all``), from the expected information
        (:mod:`allianceStats.sem.postfit`). Validated against lavaan 0.6.14 (1e-4).

        Parameters
        ----------
        sort : bool
            Largest index first (lavaan's ``sort. = TRUE``).
        minimum_value : float
            Keep only indices above this value.
        op : str or list of str, optional
            Keep only these operators (``"=~"``, ``"~~"``, ``"~"``, ``"~1"``).

        Returns
        -------
        DataFrame
            ``lhs, op, rhs, group, mi, epc, sepc_lv, sepc_all``.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from allianceStats.sem import fit_sem
        >>> rng = np.random.default_rng(1)
        >>> f = rng.normal(size=(400, 2))
        >>> y = np.c_[f[:, [0]] + 0.6 * rng.normal(size=(400, 3)), f[:, [1]] + 0.6 * rng.normal(size=(400, 3))]
        >>> y[:, 3] += 0.8 * f[:, 0]                     # a cross-loading the model leaves out
        >>> data = pd.DataFrame(y, columns=["a1", "a2", "a3", "b1", "b2", "b3"])
        >>> fit = fit_sem(data, "A =~ a1 + a2 + a3\\nB =~ b1 + b2 + b3")
        >>> mi = fit.modindices(sort=True)
        >>> row = mi[(mi["lhs"] == "A") & (mi["rhs"] == "b1")].iloc[0]
        >>> bool(row["mi"] > 10), bool(row["epc"] > 0)
        (True, True)
        """
        from .postfit import modification_indices

        out = modification_indices(self._state("modindices()"), self.partable)
        if op is not None:
            out = out[out["op"].isin([op] if isinstance(op, str) else list(op))]
        if minimum_value > 0:
            out = out[out["mi"] > minimum_value]
        if sort:
            out = out.sort_values("mi", ascending=False, kind="stable")
        return out.reset_index(drop=True)

    def residuals(self, type: str = "raw", *, group: Hashable | None = None) -> Any:  # noqa: A002 (lavaan's name)
        """Residual moments, as lavaan's ``residuals(fit, type = ...)`` / ``lavResiduals``.

        Parameters
        ----------
        type : {"raw", "cor", "cor.bentler", "standardized"}
            Observed (H1: sample, or EM under FIML) minus implied moments; Bollen's correlation residuals; both
            scaled by the observed SDs (what SRMR squares); or raw residuals divided by their standard errors
            (information-based, or sandwich under robust standard errors; not under the bootstrap). Definitions
            in :mod:`allianceStats.sem.postfit`.
        group : optional
            The group (a value of the group column) of a multigroup fit.

        Returns
        -------
        GroupMoments or dict
            ``cov`` (DataFrame) and ``mean`` (Series, None without a mean structure); for a multigroup fit without
            ``group=`` a dict group label → GroupMoments.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from allianceStats.sem import fit_sem
        >>> rng = np.random.default_rng(2)
        >>> data = pd.DataFrame(rng.normal(size=(200, 1)) + rng.normal(size=(200, 3)), columns=["a", "b", "c"])
        >>> res = fit_sem(data, "F =~ a + b + c").residuals("cor")
        >>> res.cov.shape, res.mean is None
        ((3, 3), True)
        """
        from .postfit import by_group, residual_moments

        check_choice("type", type, ["raw", "cor", "cor.bentler", "standardized"])
        return by_group(residual_moments(self._state("residuals()"), type), self.group_labels, group)

    def fitted(self, *, group: Hashable | None = None) -> Any:
        """Model-implied moments, as lavaan's ``fitted(fit)``: ``cov`` and (with a mean structure) ``mean``.

        Returns a GroupMoments, or for a multigroup fit without ``group=`` a dict group label → GroupMoments.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from allianceStats.sem import fit_sem
        >>> x = np.random.default_rng(3).normal(size=(100, 2))
        >>> moments = fit_sem(pd.DataFrame(x, columns=["x", "y"]), "y ~ x").fitted()
        >>> list(moments.cov.columns)
        ['y', 'x']
        """
        from .postfit import by_group, fitted_moments

        return by_group(fitted_moments(self._state("fitted()")), self.group_labels, group)

    def predict(self, method: str = "regression") -> pd.DataFrame:
        """Factor scores of the rows used in the fit, as lavaan's ``lavPredict(fit, method = ...)``.

        Parameters
        ----------
        method : {"regression", "bartlett"}
            Thurstone's regression scores E(η | y) or Bartlett's (weighted least squares) scores
            (:mod:`allianceStats.sem.postfit`); under FIML each row uses its observed variables.

        Returns
        -------
        DataFrame
            One column per latent variable, indexed like the input table (rows dropped by listwise deletion are
            absent).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from allianceStats.sem import fit_sem
        >>> rng = np.random.default_rng(4)
        >>> data = pd.DataFrame(rng.normal(size=(300, 1)) + 0.5 * rng.normal(size=(300, 3)), columns=["a", "b", "c"])
        >>> scores = fit_sem(data, "F =~ a + b + c").predict("bartlett")
        >>> scores.shape, list(scores.columns)
        ((300, 1), ['F'])
        """
        from .postfit import factor_scores

        method = check_choice("method", method.lower() if isinstance(method, str) else method,
                              ["regression", "bartlett"])
        return factor_scores(self._state("predict()"), method)

    @property
    def r2(self) -> Any:
        """R² of each endogenous variable, as lavaan's ``inspect(fit, "r2")``: a Series (a dict group label →
        Series for multigroup fits)."""
        from .postfit import by_group, r_squared

        return by_group(r_squared(self._state("r2"), self.partable), self.group_labels, None)

    def to_lavaan(self) -> str:
        """lavaan syntax that reproduces this fit with ``lavaan::lavaan()`` (see :meth:`r_call`).

        Every parameter is written explicitly: fixed ones with their value (``0*x``), free ones with their
        label (equal labels keep equality constraints; an unlabelled free parameter shared by several rows
        gets the label ``p<k>``, its free index). Exogenous covariates are left to lavaan's ``fixed.x``.
        """
        tab = self.partable
        computed = tab.attrs.get("computed", [])
        tab = tab[~tab["exo"] & ~np.isin(np.arange(len(tab)), computed)]
        if not self.options.get("meanstructure", True):
            tab = tab[tab["op"] != "~1"]   # no mean structure: lavaan leaves the means out (meanstructure = FALSE)
        G = len(self.group_labels)
        lines = []
        order = list(dict.fromkeys(zip(tab["lhs"], tab["op"], tab["rhs"])))
        label_count = tab[tab["free"] > 0].groupby("free")["label"].size()
        for lhs, op, rhs in order:
            rows = tab[(tab["lhs"] == lhs) & (tab["op"] == op) & (tab["rhs"] == rhs)].sort_values("group")
            mods = []
            for _, r in rows.iterrows():
                if r["free"] > 0:
                    lab = r["label"] or (f"p{int(r['free'])}" if label_count.get(r["free"], 1) > 1 else "")
                    mods.append(("free", lab))
                else:
                    mods.append(("fixed", _fmt(r["value"])))
            if G == 1:
                kind, v = mods[0]
                mod = f"{v}*" if v else ""
            elif all(k == "fixed" for k, _ in mods):
                vals = [v for _, v in mods]
                mod = f"{vals[0]}*" if len(set(vals)) == 1 else f"c({', '.join(vals)})*"
            elif all(k == "free" for k, _ in mods):
                labs = [v for _, v in mods]
                if all(labs):
                    mod = f"c({', '.join(labs)})*"
                else:
                    mod = ""
            else:
                mod = f"c({', '.join(v if k == 'fixed' else 'NA' for k, v in mods)})*"
            if op == "~1":
                lines.append(f"{lhs} ~ {mod}1")
            else:
                lines.append(f"{lhs} {op} {mod}{rhs}")
        merged: list[str] = []
        for line in lines:
            head, _, term = line.partition(" =~ ")
            if term and merged and merged[-1].startswith(head + " =~ "):
                merged[-1] += " + " + term
            else:
                merged.append(line)
        # equality constraints between different labels sharing one free parameter (from 'a == b')
        free_rows = tab[(tab["free"] > 0) & (tab["label"] != "")]
        for _, labels in free_rows.groupby("free")["label"]:
            distinct = list(dict.fromkeys(labels))
            merged.extend(f"{distinct[0]} == {other}" for other in distinct[1:])
        for d in self.partable.attrs.get("constraints", ()):
            merged.append(d.line)
        for d in self.partable.attrs.get("definitions", ()):
            merged.append(f"{d.lhs} := {d.expression}")
        return "\n".join(merged)

    def r_call(self, data_name: str = "data", *, with_model: bool = False) -> str:
        """The R call that refits :meth:`to_lavaan` on a data frame named ``data_name``: every option that decides
        the numbers is written out (missing data, estimator, standard errors, information, mean structure, fixed.x,
        groups), so it gives these numbers whatever lavaan's defaults. Fits of summary statistics refer to
        ``sample.cov = <data_name>`` (and ``sample.mean = <data_name>_mean``).

        ``with_model=True`` returns the whole R snippet: ``model <- '...'`` (the :meth:`to_lavaan` syntax) and
        ``fit <- lavaan::lavaan(...)``.
        """
        call = self._lavaan_call(data_name)
        if not with_model:
            return call
        return "model <- '\n" + self.to_lavaan() + "\n'\nfit <- " + call

    def _lavaan_call(self, data_name: str) -> str:
        opts = self.options
        est = opts.get("estimator", "ML")
        grp = f", group = {self.group!r}".replace("'", '"') if self.group else ""
        if opts.get("ordered"):
            items = ", ".join(f'"{v}"' for v in opts["ordered"])
            pairwise = ', missing = "pairwise"' if opts.get("missing") == "pairwise" else ""
            # lavaan's default standard errors are robust under the *MV / *M estimators and standard otherwise
            default_se = "standard" if opts.get("test", "standard") == "standard" else "robust"
            se = opts.get("se", default_se)
            se_part = "" if se == default_se else f', se = "{ {"robust": "robust.sem"}.get(se, se)}"'
            return (f'lavaan::lavaan(model, data = {data_name}, ordered = c({items}), estimator = "{est}"{se_part}, '
                    f'parameterization = "{opts.get("parameterization", "delta")}"{grp}{pairwise})')
        if opts.get("sample_statistics"):
            nobs = (str(self.n_obs_by_group[0]) if len(self.n_obs_by_group) == 1
                    else "list(" + ", ".join(str(n) for n in self.n_obs_by_group) + ")")
            source = (f"sample.cov = {data_name}" + (f", sample.mean = {data_name}_mean"
                                                     if opts.get("meanstructure") else "")
                      + f", sample.nobs = {nobs}")
        else:
            missing = "ml" if opts.get("missing") == "fiml" else "listwise"
            source = f'data = {data_name}, missing = "{missing}"'
        se = opts.get("se", "standard")
        se_part = ""
        if se == "bootstrap":
            se_part = f', se = "bootstrap", bootstrap = {opts.get("n_draws")}'
        elif se not in ("standard",) and not (est == "MLR" and se == "robust.huber.white"):
            se_part = f', se = "{se}"'
        info = f', information = "{opts["information"]}"' if opts.get("information") else ""
        mean = "TRUE" if opts.get("meanstructure", True) else "FALSE"
        return (f'lavaan::lavaan(model, {source}, estimator = "{est}"{se_part}{info}, meanstructure = {mean}, '
                f"fixed.x = TRUE{grp})")

    def summary(self) -> str:
        """Text summary laid out as lavaan's ``summary(fit, fit.measures = TRUE, standardized = TRUE, rsquare =
        TRUE)`` (:mod:`allianceStats.sem.summary`), ending with the R call that reproduces the fit."""
        from .summary import summary_text

        return summary_text(self)

    def __repr__(self) -> str:
        f = self.fit
        state = "converged" if self.converged else "NOT converged"
        return (f"<SEMResult: {self.options.get('estimator', 'ML')}, n = {self.n_obs}, npar = {f['npar']:.0f}, "
                f"chisq = {f['chisq']:.3f} on {f['df']:.0f} df, {state}>")
