"""χ²-difference (likelihood-ratio) tests of nested SEMs, like lavaan's ``anova()`` / ``lavTestLRT()``.

For ML fits the difference of the χ² statistics of nested models is χ² with the difference of their df
(Steiger, Shapiro & Browne 1985). For MLR fits the Satorra–Bentler (2001) scaled difference is used, as in
lavaan's default ``method = "satorra.bentler.2001"``: with unscaled statistics T_0, T_1, df d_0 > d_1 and
scaling factors c_0, c_1, c_d = (d_0 c_0 − d_1 c_1)/(d_0 − d_1) and T_d = (T_0 − T_1)/c_d.

Example
-------
>>> import numpy as np, pandas as pd
>>> from allianceStats.sem import fit_sem, compare_sem
>>> rng = np.random.default_rng(4)
>>> x = rng.normal(size=300); m = 0.5 * x + rng.normal(size=300); y = 0.3 * m + rng.normal(size=300)
>>> df = pd.DataFrame({"x": x, "m": m, "y": y})
>>> full = fit_sem("m ~ x\\n y ~ m + x", df)
>>> partial = fit_sem("m ~ x\\n y ~ m", df)
>>> table = compare_sem(full, partial)
>>> list(table.columns)
['model', 'df', 'aic', 'bic', 'chisq', 'chisq_diff', 'df_diff', 'rmsea', 'p_value', 'method']
>>> int(table["df_diff"].iloc[1])
1
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import AllianceStatsError


def compare_sem(*fits, names=None) -> pd.DataFrame:
    """Compare nested SEM fits by χ²-difference tests (scaled, Satorra & Bentler 2001, under MLR).

    Fits are ordered by df (least restricted first), as lavaan does; each row is tested against the row
    above. Returns a DataFrame ``model, df, aic, bic, chisq, chisq_diff, df_diff, rmsea, p_value, method``
    (``rmsea`` of the difference test, √G·√(max(Δχ² − Δdf, 0)/(Δdf·N)), as lavaan's ``anova`` prints it).
    Definition and references: module docstring.

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from allianceStats.sem import fit_sem, compare_sem
    >>> rng = np.random.default_rng(8)
    >>> f = rng.normal(size=500)
    >>> df = pd.DataFrame({f"x{i}": f + rng.normal(size=500) for i in range(1, 5)})
    >>> free = fit_sem("f =~ x1 + x2 + x3 + x4", df)
    >>> equal = fit_sem("f =~ x1 + l*x2 + l*x3 + l*x4", df)
    >>> table = compare_sem(free, equal, names=["free", "equal loadings"])
    >>> table[["model", "df", "df_diff"]].to_string(index=False).split()[:6]
    ['model', 'df', 'df_diff', 'free', '2.0', 'NaN']
    """
    if len(fits) < 2:
        raise AllianceStatsError("compare_sem needs at least two fitted models.")
    names = list(names) if names is not None else [f"model_{i + 1}" for i in range(len(fits))]
    if len(names) != len(fits):
        raise AllianceStatsError(f"{len(names)} names given for {len(fits)} models.")
    n = {sum(f.n_obs) for f in fits}
    if len(n) > 1:
        raise AllianceStatsError(f"models were fitted to different numbers of observations {sorted(n)}; nested "
                                 "comparisons need the same data.")
    scaled = [("chisq_scaling_factor" in f.fit and np.isfinite(f.fit.get("chisq_scaling_factor", np.nan)))
              or f.options.get("estimator") == "MLR" for f in fits]
    if any(scaled) and not all(scaled):
        raise AllianceStatsError("cannot compare a scaled (MLR) fit with an unscaled (ML) fit; refit with the same "
                                 "estimator.")
    order = sorted(range(len(fits)), key=lambda i: fits[i].fit["df"])
    rows = []
    prev = None
    for i in order:
        f = fits[i].fit
        row = {"model": names[i], "df": f["df"], "aic": f["aic"], "bic": f["bic"], "chisq": f["chisq"],
               "chisq_diff": np.nan, "df_diff": np.nan, "rmsea": np.nan, "p_value": np.nan, "method": ""}
        if prev is not None:
            d1, d0 = prev["df"], f["df"]
            ddf = d0 - d1
            diff = f["chisq"] - prev["chisq"]
            method = "chi-square difference"
            if all(scaled):
                c0 = f.get("chisq_scaling_factor", np.nan) if d0 > 0 else 1.0
                c1 = prev.get("chisq_scaling_factor", np.nan) if d1 > 0 else 1.0
                c0 = 1.0 if d0 == 0 else c0
                c1 = 1.0 if d1 == 0 else c1
                cd = (d0 * c0 - d1 * c1) / ddf if ddf > 0 else np.nan
                diff = diff / cd
                method = "Satorra-Bentler (2001) scaled difference"
            G = len(fits[i].n_obs)
            rmsea = np.sqrt(max(diff - ddf, 0.0) / (ddf * sum(fits[i].n_obs))) * np.sqrt(G) if ddf > 0 else np.nan
            row.update(chisq_diff=diff, df_diff=ddf, rmsea=rmsea,
                       p_value=float(stats.chi2.sf(diff, ddf)) if ddf > 0 else np.nan, method=method)
        rows.append(row)
        prev = f
    return pd.DataFrame(rows)
