"""χ²-difference (likelihood-ratio) tests of nested SEMs, like lavaan's ``anova()`` / ``lavTestLRT()``.

For ML fits the difference of the χ² statistics of nested models is χ² with the difference of their df
(Steiger, Shapiro & Browne 1985). For MLR fits the Satorra–Bentler (2001) scaled difference is used, as in
lavaan's default ``method = "satorra.bentler.2001"``: with unscaled statistics T_0, T_1, df d_0 > d_1 and
scaling factors c_0, c_1, c_d = (d_0 c_0 − d_1 c_1)/(d_0 − d_1) and T_d = (T_0 − T_1)/c_d.
The RMSEA of the difference test (lavaan's ``RMSEA`` column of ``lavTestLRT``) is
√G·√(max(Δχ² − Δdf, 0)/(Δdf·N)).

Fits of ordered items by a robust least-squares estimator (WLSMV, ULSMV; WLSM, ULSM) are compared by Satorra's
(2000) scaled difference of their standard statistics, as lavaan's ``lavTestLRT`` (``method = "satorra.2000"``,
scaled and shifted for WLSMV/ULSMV; :func:`allianceStats.sem.wls.satorra_2000`); fits by DWLS, ULS or WLS by the
plain difference. Their table then also has each model's ``chisq_scaled``, ``df_scaled``, ``cfi_scaled`` and
``rmsea_scaled``; lavaan reports no RMSEA of a scaled difference, so ``rmsea_diff`` is NaN there.

The result is a :class:`~allianceStats.comparison.ComparisonResult` whose ``table`` has the columns
:data:`~allianceStats.comparison.COMPARISON_COLUMNS` (each model's own ``chisq``/``df``, the test of each row
against the row above in ``chisq_diff, df_diff, p_value``), then each model's ``cfi`` and ``rmsea`` and the
difference test's ``rmsea_diff``.

Example
-------
>>> import numpy as np, pandas as pd
>>> from allianceStats.sem import fit_sem, compare_sem
>>> rng = np.random.default_rng(4)
>>> x = rng.normal(size=300); m = 0.5 * x + rng.normal(size=300); y = 0.3 * m + rng.normal(size=300)
>>> df = pd.DataFrame({"x": x, "m": m, "y": y})
>>> full = fit_sem("m ~ x\\n y ~ m + x", df)
>>> partial = fit_sem("m ~ x\\n y ~ m", df)
>>> result = compare_sem(full, partial)
>>> list(result.table.columns)  # doctest: +NORMALIZE_WHITESPACE
['model', 'npar', 'loglik', 'aic', 'bic', 'chisq', 'df', 'chisq_diff', 'df_diff', 'p_value',
 'cfi', 'rmsea', 'rmsea_diff']
>>> int(result.table["df_diff"].iloc[1]), result.method
(1, 'chi-square difference (likelihood ratio)')
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Hashable, Sequence
from dataclasses import replace
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import stats

from ..comparison import ComparisonResult, comparison_table
from ..errors import OptionError
from ..results import Provenance, make_provenance
from .wls import satorra_2000

SEM_EXTRA_COLUMNS = ("cfi", "rmsea", "rmsea_diff")
"""Columns after :data:`~allianceStats.comparison.COMPARISON_COLUMNS` in an SEM comparison."""
WLS_EXTRA_COLUMNS = ("chisq_scaled", "df_scaled", "cfi_scaled", "rmsea_scaled", "cfi", "rmsea", "rmsea_diff")
"""The same for fits of ordered items by a least-squares estimator."""
WLS_METHODS = {"scaled.shifted": "Satorra (2000) scaled chi-square difference, scaled and shifted",
               "satorra.bentler": "Satorra (2000) scaled chi-square difference, mean-adjusted",
               "standard": "chi-square difference"}
"""``method`` of a comparison of least-squares fits, by their test (lavaan's ``satorra.2000``)."""


class FittedSEM(Protocol):
    """What a comparison reads from a fit: :class:`~allianceStats.sem.SEMResult` and
    :class:`~allianceStats.panel.PanelResult` both offer it."""

    @property
    def fit(self) -> pd.Series: ...

    @property
    def n_obs(self) -> int: ...

    @property
    def n_obs_by_group(self) -> tuple[int, ...]: ...

    @property
    def options(self) -> dict[str, Any]: ...

    @property
    def provenance(self) -> Provenance: ...


def compare_sem(*fits: FittedSEM, names: Sequence[Hashable] | None = None) -> ComparisonResult:
    """Compare nested SEM fits by χ²-difference tests (scaled, Satorra & Bentler 2001, under MLR).

    Fits are ordered by df (least restricted first), as lavaan does; each row is tested against the row
    above. Definitions and references: module docstring. Checked against lavaan 0.6.14's ``lavTestLRT``
    (``tests/sem/test_lavaan_fixtures.py``).

    Parameters
    ----------
    *fits : SEMResult or PanelResult
        Two or more fits of nested models to the same rows, all by ML or all by MLR.
    names : sequence, optional
        A name per fit, in the order given (default ``model_1``, ``model_2``, ...).

    Returns
    -------
    ComparisonResult
        ``table`` (module docstring), ``method`` (``"chi-square difference (likelihood ratio)"`` or
        ``"Satorra-Bentler (2001) scaled chi-square difference"``), ``n_obs``, ``provenance``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from allianceStats.sem import fit_sem, compare_sem
    >>> rng = np.random.default_rng(8)
    >>> f = rng.normal(size=500)
    >>> df = pd.DataFrame({f"x{i}": f + rng.normal(size=500) for i in range(1, 5)})
    >>> free = fit_sem("f =~ x1 + x2 + x3 + x4", df)
    >>> equal = fit_sem("f =~ x1 + l*x2 + l*x3 + l*x4", df)
    >>> result = compare_sem(free, equal, names=["free", "equal loadings"])
    >>> result.table[["model", "df", "df_diff"]].to_string(index=False).split()[:6]
    ['model', 'df', 'df_diff', 'free', '2.0', 'NaN']
    """
    started = time.perf_counter()
    if len(fits) < 2:
        raise OptionError(f"compare_sem() needs at least two fitted models; got {len(fits)}")
    wrong = [type(f).__name__ for f in fits if not all(hasattr(f, a) for a in ("fit", "n_obs_by_group", "options"))]
    if wrong:
        raise OptionError(f"compare_sem() compares results of fit_sem() or the panel fits; got {', '.join(wrong)}")
    labels = list(names) if names is not None else [f"model_{i + 1}" for i in range(len(fits))]
    if len(labels) != len(fits):
        raise OptionError(f"names= gives {len(labels)} names for {len(fits)} models; give one name per model")
    n = {f.n_obs for f in fits}
    if len(n) > 1:
        raise OptionError(f"the models were fitted to different numbers of rows {sorted(n)}; a nested comparison "
                          "needs the same data: refit them on the same rows")
    wls = [getattr(f, "wls", None) is not None for f in fits]
    if any(wls):
        if not all(wls):
            raise OptionError("cannot compare a fit of ordered items (least squares) with a maximum-likelihood fit; "
                              "refit them the same way")
        return _compare_wls(fits, labels, started)
    scaled = [("chisq_scaling_factor" in f.fit and np.isfinite(f.fit.get("chisq_scaling_factor", np.nan)))
              or f.options.get("estimator") == "MLR" for f in fits]
    if any(scaled) and not all(scaled):
        raise OptionError("cannot compare a scaled (MLR) fit with an unscaled (ML) fit; refit them with the same "
                          "estimator=")
    method = ("Satorra-Bentler (2001) scaled chi-square difference" if all(scaled)
              else "chi-square difference (likelihood ratio)")
    order = sorted(range(len(fits)), key=lambda i: fits[i].fit["df"])
    rows = []
    prev = None
    for i in order:
        f = fits[i].fit
        row = {"model": labels[i], "npar": f["npar"], "loglik": f["loglik"], "aic": f["aic"], "bic": f["bic"],
               "chisq": f["chisq"], "df": f["df"], "cfi": f.get("cfi", np.nan), "rmsea": f.get("rmsea", np.nan)}
        if prev is not None:
            d1, d0 = prev["df"], f["df"]
            ddf = d0 - d1
            diff = f["chisq"] - prev["chisq"]
            if all(scaled):
                c0 = f.get("chisq_scaling_factor", np.nan) if d0 > 0 else 1.0
                c1 = prev.get("chisq_scaling_factor", np.nan) if d1 > 0 else 1.0
                c0 = 1.0 if d0 == 0 else c0
                c1 = 1.0 if d1 == 0 else c1
                cd = (d0 * c0 - d1 * c1) / ddf if ddf > 0 else np.nan
                diff = diff / cd
            G = len(fits[i].n_obs_by_group)
            rmsea = np.sqrt(max(diff - ddf, 0.0) / (ddf * fits[i].n_obs)) * np.sqrt(G) if ddf > 0 else np.nan
            row.update(chisq_diff=diff, df_diff=ddf, rmsea_diff=rmsea,
                       p_value=float(stats.chi2.sf(diff, ddf)) if ddf > 0 else np.nan)
        rows.append(row)
        prev = f
    table = comparison_table(rows, SEM_EXTRA_COLUMNS)
    return ComparisonResult(table=table, method=method, n_obs=int(fits[0].n_obs),
                            provenance=comparison_provenance(fits, labels, "compare_sem", started))


def _compare_wls(fits: Sequence[Any], labels: Sequence[Hashable], started: float) -> ComparisonResult:
    """compare_sem for least-squares fits of ordered items (module docstring)."""
    tests = {f.wls.test for f in fits}
    if len(tests) > 1:
        raise OptionError(f"the fits use different tests {sorted(tests)}; refit them with the same estimator=")
    test = tests.pop()
    order = sorted(range(len(fits)), key=lambda i: fits[i].fit["df"])
    rows = []
    prev = None
    for i in order:
        f = fits[i].fit
        row = {"model": labels[i], "npar": f["npar"], "loglik": np.nan, "aic": np.nan, "bic": np.nan,
               "chisq": f["chisq"], "df": f["df"], "rmsea_diff": np.nan}
        for key in ("chisq_scaled", "df_scaled", "cfi_scaled", "rmsea_scaled", "cfi", "rmsea"):
            row[key] = f.get(key, np.nan)
        if prev is not None:
            diff, ddf = f["chisq"] - fits[prev].fit["chisq"], f["df"] - fits[prev].fit["df"]
            if ddf > 0 and test != "standard":
                diff, ddf = satorra_2000(fits[prev].wls, fits[i].wls, diff, ddf,
                                         scaled_shifted=test == "scaled.shifted")
            row.update(chisq_diff=diff, df_diff=ddf, p_value=float(stats.chi2.sf(diff, ddf)) if ddf > 0 else np.nan)
        rows.append(row)
        prev = i
    table = comparison_table(rows, WLS_EXTRA_COLUMNS)
    return ComparisonResult(table=table, method=WLS_METHODS[test], n_obs=int(fits[0].n_obs),
                            provenance=comparison_provenance(fits, labels, "compare_sem", started))


def comparison_provenance(fits: Sequence[FittedSEM], names: Sequence[Hashable], function: str,
                          started: float) -> Provenance:
    """Provenance of a comparison: the fits' data hash (one hash when all were fitted to the same table, else a
    hash of their hashes), the names and each fit's function and options."""
    hashes = [f.provenance.data_sha256 if f.provenance is not None else "" for f in fits]
    options = {"names": [str(n) for n in names],
               "fits": [{"function": f.provenance.function, "data_sha256": h} for f, h in zip(fits, hashes)]}
    prov = make_provenance(pd.DataFrame(), options=options, function=function, started=started)
    common = hashes[0] if len(set(hashes)) == 1 else hashlib.sha256("\x1f".join(hashes).encode()).hexdigest()
    return replace(prov, data_sha256=common)
