"""Numbers and tables for people: APA number formats, compact tidy tables, the tables a result displays.

Shared by the result display (:class:`allianceStats.results.ResultDisplay`: ``repr``, ``_repr_html_``), the APA
tables of :mod:`allianceStats.report.apa` and the figures of :mod:`allianceStats.plots`. It formats; it never
estimates, and it imports neither the report nor the plots.

Rules (APA Publication Manual, 7th ed., sections 6.36 and 6.40–6.46):

- decimals follow the scale of the number: a row's estimate, standard error and interval share the decimals that
  show its standard error with at least one significant digit (at least 2, at most 5), so a path from a 1–5 scale
  to a 0–100 scale reads ``0.012, SE 0.004`` instead of ``0.01, SE 0.00``;
- *p* with three decimals and no leading zero, ``< .001`` below that, never ``0.0000``;
- quantities bounded by 1 (correlations, standardized estimates, CFI, RMSEA, ICC, power) without the leading zero;
- a true minus sign (U+2212).

Example
-------
>>> format_p(0.00002), format_p(0.0341), format_number(-0.5, 2), format_number(0.42, 2, bounded=True)
('< .001', '.034', '−0.50', '.42')
>>> row_digits(0.0042), row_digits(0.06), row_digits(3.1)
(3, 2, 2)
"""
from __future__ import annotations

import html
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["format_number", "format_p", "row_digits", "compact", "fit_measures_table", "parameter_label",
           "display_tables", "key_estimates", "apa_frame", "html_table", "ESTIMATE_COLUMNS", "FIT_LABELS", "HEADERS"]

MINUS = "\u2212"
DASH = "\u2014"
#: the columns of a tidy estimate table, in display order
ESTIMATE_COLUMNS = ("estimate", "std_error", "statistic", "df", "p_value", "ci_lower", "ci_upper", "std_all")
#: human labels of SEM fit measures (lavaan's names -> APA), in the order they are reported
FIT_LABELS = {
    "chisq": "χ²", "df": "df", "pvalue": "p", "cfi": "CFI", "tli": "TLI", "rmsea": "RMSEA", "srmr": "SRMR",
    "aic": "AIC", "bic": "BIC", "loglik": "Log-likelihood", "npar": "Free parameters", "ntotal": "N",
    "chisq_scaled": "χ² (scaled)", "df_scaled": "df (scaled)", "pvalue_scaled": "p (scaled)",
    "cfi_scaled": "CFI (scaled)", "tli_scaled": "TLI (scaled)", "rmsea_scaled": "RMSEA (scaled)",
}
_BOUNDED = {"std_all", "cfi", "tli", "rmsea", "srmr", "icc", "power", "coverage", "r2", "marginal", "conditional",
            "transitional_probability", "yules_q", "survival"}
# tables that hold raw or per-row data, not estimates: never shown by the result display
_RAW = {"data", "model_frame", "groups", "replications", "X", "y", "Z", "clients", "windows", "residuals",
        "surrogates", "candidates", "sessions", "vcov", "vcov_model", "par_vcov", "partable", "fixef",
        "lag_profile", "loadings", "ccf"}
# tidy tables a result shows first (in this order); other DataFrame fields follow
_PREFERRED = ("effects", "table", "paths", "params", "zi_params", "cross_lagged", "autoregressive", "varcomp",
              "measures", "variances", "by_factor", "outcome_params", "comparison", "tests", "events", "dyads",
              "ccf", "session_summary")
#: display headers of the tidy columns (APA abbreviations; SE, CI, β for std_all)
HEADERS = {
    "term": "Term", "effect": "Effect", "path": "Path", "parameter": "Parameter", "label": "Label",
    "estimate": "Estimate", "std_error": "SE", "df": "df", "p_value": "p", "std_all": "β", "group": "Group",
    "var1": "Var 1", "var2": "Var 2", "vcov": "Variance", "sdcor": "SD / r", "measure": "Measure", "icc": "ICC",
    "level": "Level", "model": "Model", "npar": "Parameters", "loglik": "Log-likelihood", "aic": "AIC",
    "bic": "BIC", "chisq": "χ²", "chisq_diff": "Δχ²", "df_diff": "Δdf", "hypothesis": "Hypothesis",
    "supported": "Supported", "note": "Note", "target": "Target", "given": "Given", "time": "Time",
    "n_risk": "At risk", "n_events": "Events", "n_censor": "Censored", "survival": "Survival",
    "power": "Power", "power_mcse": "MCSE", "n_clients": "Clients", "n_sessions": "Sessions",
    "hazard_ratio": "HR", "ratio": "Ratio", "adjusted_residual": "Adj. residual", "yules_q": "Yule's Q",
}
# bookkeeping columns of the panel / SEM tables that a display table leaves out
_BOOKKEEPING = {"kind", "outcome", "predictor", "wave_from", "wave_to", "free", "id", "plabel", "block", "exo"}
_NAME_COLUMNS = ("term", "effect", "path", "hypothesis", "scale", "measure", "target", "level", "group", "model")
_VALUE_COLUMNS = ("estimate", "icc", "power", "survival", "value", "alpha", "omega")


def _is_missing(x) -> bool:
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    try:
        return bool(isinstance(x, (float, np.floating)) and math.isnan(x))
    except TypeError:
        return False


def format_number(x, digits: int = 2, *, bounded: bool = False) -> str:
    """A number with fixed decimals and a true minus sign; ``—`` when missing.

    Parameters
    ----------
    x : float
        The value.
    digits : int
        Decimals.
    bounded : bool
        The quantity cannot exceed 1 in magnitude (a correlation, a standardized estimate, CFI): the leading zero
        is dropped (APA 6.36).

    Returns
    -------
    str

    Examples
    --------
    >>> format_number(-0.0001, 2), format_number(1234.5678, 1), format_number(float("nan"))
    ('0.00', '1234.6', '—')
    """
    if _is_missing(x):
        return DASH
    value = float(x)
    if math.isinf(value):
        return "∞" if value > 0 else MINUS + "∞"
    text = f"{value:.{digits}f}"
    negative = text.startswith("-")
    text = text.lstrip("-")
    if negative and float(text) == 0:
        negative = False
    if bounded and abs(value) < 1 and text.startswith("0."):
        text = text[1:]
    return (MINUS if negative else "") + text


def format_p(p) -> str:
    """APA *p*: ``< .001``, else three decimals without the leading zero, ``> .999`` just under 1; ``—`` if missing.

    Parameters
    ----------
    p : float
        A p value.

    Returns
    -------
    str

    Examples
    --------
    >>> format_p(0.0004), format_p(0.0341), format_p(0.99999), format_p(None)
    ('< .001', '.034', '> .999', '—')
    """
    if _is_missing(p):
        return DASH
    p = float(p)
    if p < 0.001:
        return "< .001"
    if p >= 0.9995:
        return "> .999"
    return f"{p:.3f}".lstrip("0")


def row_digits(std_error=None, estimate=None, *, lowest: int = 2, highest: int = 5) -> int:
    """Decimals for one row: enough to show its standard error (else its estimate) with a significant digit.

    Parameters
    ----------
    std_error, estimate : float, optional
        The row's standard error and estimate; the SE decides when it is positive and finite.
    lowest, highest : int
        Bounds on the decimals (APA's two by default, five at most).

    Returns
    -------
    int

    Examples
    --------
    >>> row_digits(0.0042), row_digits(None, 0.00031), row_digits(0.0, 12.5)
    (3, 4, 2)
    """
    for x in (std_error, estimate):
        if not _is_missing(x) and np.isfinite(float(x)) and float(x) != 0:
            return int(min(highest, max(lowest, -math.floor(math.log10(abs(float(x)))))))
    return lowest


def parameter_label(lhs: str, op: str, rhs: str, label: str = "") -> str:
    """A parameter of a lavaan-style table in words: ``x → m``, ``m ↔ y``, ``Var(y)``, ``Intercept(y)``.

    Parameters
    ----------
    lhs, op, rhs : str
        The lavaan parameter-table columns (``~`` reads rhs → lhs; ``=~`` latent → indicator).
    label : str
        The parameter's label (``a``), shown in front when present.

    Returns
    -------
    str

    Examples
    --------
    >>> parameter_label("m", "~", "x", "a"), parameter_label("y", "~~", "y"), parameter_label("ind", ":=", "a*b")
    ('a: x → m', 'Var(y)', 'ind = a*b')
    """
    lhs, rhs, label = str(lhs), str(rhs), "" if _is_missing(label) else str(label)
    if op == "~":
        text = f"{rhs} → {lhs}"
    elif op == "=~":
        text = f"{lhs} → {rhs}"
    elif op == "~~":
        text = f"Var({lhs})" if lhs == rhs else f"{lhs} ↔ {rhs}"
    elif op == "~1":
        text = f"Intercept({lhs})"
    elif op == ":=":
        return f"{lhs} = {rhs}"
    elif op == "|":
        text = f"{lhs} | {rhs}"
    else:
        text = f"{lhs} {op} {rhs}".strip()
    return f"{label}: {text}" if label and label != lhs else text


def _row_name(table: pd.DataFrame) -> pd.Series | None:
    if {"lhs", "op", "rhs"} <= set(table.columns):
        labels = table["label"] if "label" in table.columns else pd.Series("", index=table.index)
        return pd.Series([parameter_label(a, o, b, c) for a, o, b, c in
                          zip(table["lhs"], table["op"], table["rhs"], labels)], index=table.index)
    present = [c for c in _NAME_COLUMNS if c in table.columns]
    if not present:
        return None
    names = table[present[0]].astype(str)
    if not table[present[0]].is_unique:
        extra = [c for c in (*present[1:], "n_clients", "n_sessions") if c in table.columns]
        second = next((c for c in extra if table[c].nunique() > 1), None)
        if second is not None:
            names = names + (" (" + (second + " " if second.startswith("n_") else "") + table[second].astype(str) + ")")
    return names


def _statistic_header(table: pd.DataFrame) -> str:
    if {"lhs", "op", "rhs"} <= set(table.columns):
        return "z"
    if "term" in table.columns:
        return "t" if "df" in table.columns else "z"
    return "Statistic"


def _is_fixed(table: pd.DataFrame) -> pd.Series:
    """Rows of a SEM table whose value was fixed, not estimated (no SE, no test)."""
    if not ({"lhs", "op", "rhs"} <= set(table.columns) and "std_error" in table.columns):
        return pd.Series(False, index=table.index)
    se = pd.to_numeric(table["std_error"], errors="coerce")
    stat = pd.to_numeric(table["statistic"], errors="coerce") if "statistic" in table.columns else se * np.nan
    return ((se.isna() | (se == 0)) & stat.isna() & (table["op"] != ":=")).astype(bool)


def apa_frame(table: pd.DataFrame | pd.Series, *, conf_level: float = 0.95) -> pd.DataFrame:
    """A tidy table as APA display strings: one name column, row-wise decimals, *p* as ``< .001``, CI in one
    column, fixed parameters marked ``fixed``.

    Decimals follow each row's standard error (:func:`row_digits`); ``std_all`` (β) and other quantities bounded
    by 1 drop the leading zero; counts stay whole numbers. ``lhs, op, rhs, label`` become one ``Parameter``
    column (:func:`parameter_label`), bookkeeping columns are dropped, ``group`` is kept only with several groups.
    The interval column's header carries the level (``95% CI``).

    Parameters
    ----------
    table : DataFrame
        A tidy table.
    conf_level : float
        The level of the table's intervals (the result's ``conf_level``), for the header.

    Returns
    -------
    DataFrame
        Strings only, human headers; ``attrs["fixed"]`` counts the rows marked fixed.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"lhs": ["outcome", "RI"], "op": ["~", "=~"], "rhs": ["alliance", "y_1"],
    ...                   "estimate": [0.0123, 1.0], "std_error": [0.0042, 0.0], "statistic": [2.93, None],
    ...                   "p_value": [0.0034, None], "ci_lower": [0.0041, 1.0], "ci_upper": [0.0205, 1.0]})
    >>> for row in apa_frame(t).values.tolist():
    ...     print(row)
    ['alliance → outcome', '0.012', '0.004', '2.93', '.003', '[0.004, 0.021]']
    ['RI → y_1', '1.00', 'fixed', '—', '—', '—']
    """
    if isinstance(table, pd.Series):
        return fit_measures_table(table).rename(columns={"measure": "Measure", "value": "Value"})
    cols = list(table.columns)
    sem = {"lhs", "op", "rhs"} <= set(cols)
    fixed = _is_fixed(table)
    se = pd.to_numeric(table["std_error"], errors="coerce") if "std_error" in cols else \
        pd.Series(np.nan, index=table.index)
    est_col = "estimate" if "estimate" in cols else None
    digits = pd.Series([row_digits(s, table.at[i, est_col] if est_col else None) for i, s in se.items()],
                       index=table.index)
    out: dict[str, list[str]] = {}
    if sem:
        real = table["op"] != ":=" if "op" in cols else pd.Series(True, index=table.index)
        if "group" in cols and table.loc[real, "group"].nunique() > 1:
            out["Group"] = table["group"].astype(str).tolist()
        labels = table["label"] if "label" in cols else pd.Series("", index=table.index)
        out["Parameter"] = [parameter_label(a, o, b, c) for a, o, b, c in
                            zip(table["lhs"], table["op"], table["rhs"], labels)]
    skip = _BOOKKEEPING | ({"lhs", "op", "rhs", "label", "group"} if sem else set())
    ci_done = False
    for col in cols:
        if col in skip:
            continue
        values = table[col]
        if col in ("ci_lower", "ci_upper"):
            if ci_done or not {"ci_lower", "ci_upper"} <= set(cols):
                continue
            ci_done = True
            out[f"{conf_level:.0%} CI"] = [
                DASH if (f or _is_missing(lo) or _is_missing(hi)) else
                f"[{format_number(lo, d)}, {format_number(hi, d)}]"
                for lo, hi, d, f in zip(table["ci_lower"], table["ci_upper"], digits, fixed)]
            continue
        header = HEADERS.get(col, str(col)) if col != "statistic" else _statistic_header(table)
        if col == "p_value" or col.startswith("p_") or col.endswith("_pvalue") or col == "pvalue":
            cells = [DASH if f else format_p(v) for v, f in zip(values, fixed)]
        elif col == "std_error":
            cells = ["fixed" if f else format_number(v, d) for v, d, f in zip(values, digits, fixed)]
        elif col == "estimate":
            cells = [format_number(v, d) for v, d in zip(values, digits)]
        elif col == "statistic":
            cells = [DASH if f else format_number(v, 2) for v, f in zip(values, fixed)]
        elif col in ("df", "df_diff"):
            cells = [format_number(v, 0 if _is_missing(v) or float(v).is_integer() else 1) for v in values]
        elif col == "std_all":
            cells = [format_number(v, 2, bounded=True) for v in values]
        elif pd.api.types.is_bool_dtype(values):
            cells = [DASH if _is_missing(v) else ("yes" if v else "no") for v in values]
        elif pd.api.types.is_numeric_dtype(values):
            finite = pd.to_numeric(values, errors="coerce").dropna()
            if len(finite) and (finite == finite.round()).all() and (finite.abs() < 1e12).all():
                cells = [DASH if _is_missing(v) else str(int(v)) for v in values]
            else:
                typical = float(finite.abs().median()) if len(finite) else 1.0
                d = row_digits(None, typical, highest=4)
                bounded = col in _BOUNDED or col.startswith(("icc", "r2")) or (
                    len(finite) > 0 and bool((finite.abs() <= 1).all()) and col in ("correlation", "r"))
                cells = [format_number(v, d, bounded=bounded) for v in values]
        else:
            cells = [DASH if _is_missing(v) else str(v) for v in values]
        out[header] = cells
    frame = pd.DataFrame(out, index=range(len(table)))
    frame.attrs["fixed"] = int(fixed.sum())
    return frame


def html_table(table: pd.DataFrame | pd.Series, *, conf_level: float = 0.95, max_rows: int = 200) -> str:
    """An APA-formatted table as an HTML ``<table>``: every cell escaped, the name column never wrapped.

    Parameters
    ----------
    table : DataFrame or Series
        A tidy table (or a SEM ``fit`` Series, shown as fit measures).
    conf_level : float
        Level of the table's intervals (header).
    max_rows : int
        Rows shown; a longer table says how many rows it leaves out.

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd
    >>> "&lt;b&gt;" in html_table(pd.DataFrame({"term": ["<b>"], "estimate": [1.0]}))
    True
    """
    frame = apa_frame(table, conf_level=conf_level)
    more = len(frame) - max_rows
    frame = frame.head(max_rows)
    esc = html.escape
    head = "".join(f"<th>{esc(str(c))}</th>" for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False):
        cells = [f'<td style="white-space:nowrap;text-align:left">{esc(str(values[0]))}</td>'] + [
            f'<td style="white-space:nowrap">{esc(str(v))}</td>' for v in values[1:]]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    note = f"<p>{more} further rows not shown.</p>" if more > 0 else ""
    fixed = (f"<p><em>fixed</em>: the value was fixed by the model, not estimated "
             f"({frame.attrs.get('fixed', 0)} rows).</p>" if frame.attrs.get("fixed") else "")
    return (f'<table class="dataframe apa"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            f"{note}{fixed}")


def compact(data: pd.DataFrame, *, digits: int = 3, max_name: int = 40) -> pd.DataFrame:
    """A narrow view of a tidy table that prints without truncation: one name column, the estimate columns rounded.

    ``lhs, op, rhs, label`` become one ``path`` index (``w_alliance_2 → w_outcome_3``); the estimate, its standard
    error, p value and interval bounds (and ``std_all``, ``df`` where present) are kept, rounded to ``digits``
    decimals; bookkeeping columns (``group`` with one group, ``kind``, ``wave_from`` …) are dropped. Numbers stay
    numbers, so the view can still be sorted and filtered.

    Parameters
    ----------
    data : DataFrame
        A tidy result table (``term`` or ``lhs, op, rhs``; ``estimate, std_error, ...``), e.g.
        ``fit_riclpm(...).paths``.
    digits : int
        Decimals of the rounded columns.
    max_name : int
        Longest path name kept whole; longer ones are shortened in the middle with ``…``.

    Returns
    -------
    DataFrame
        Indexed by ``path`` (or the table's name column), at most eight numeric columns.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"lhs": ["w_outcome_2"], "op": ["~"], "rhs": ["w_alliance_1"], "label": [""],
    ...                   "estimate": [0.123456], "std_error": [0.05], "statistic": [2.47], "p_value": [0.0136],
    ...                   "kind": ["cross-lagged"], "wave_from": [1]})
    >>> compact(t)
                                estimate  std_error  p_value
    path...
    w_alliance_1 → w_outcome_2     0.123       0.05    0.014
    """
    if not isinstance(data, pd.DataFrame):
        from .errors import OptionError

        raise OptionError(f"compact() takes a tidy DataFrame; got a {type(data).__name__}. Pass a table such as "
                          "result.paths or result.params.")
    table = data
    names = _row_name(table)
    keep = [c for c in ESTIMATE_COLUMNS if c in table.columns and c != "statistic"]
    if "group" in table.columns and table["group"].nunique() > 1:
        keep.insert(0, "group")
    out = table[keep].copy()
    numeric = [c for c in keep if c != "group" and pd.api.types.is_numeric_dtype(out[c])]
    out[numeric] = out[numeric].round(digits)
    if names is not None:
        short = [n if len(n) <= max_name else n[: max_name // 2 - 1] + "…" + n[-(max_name // 2 - 1):]
                 for n in names]
        index_name = "path" if {"lhs", "op", "rhs"} <= set(table.columns) else str(names.name or "term")
        out.index = pd.Index(short, name=index_name)
    return out


def fit_measures_table(fit: pd.Series | dict) -> pd.DataFrame:
    """SEM fit measures as an APA table: ``measure`` (human label) and ``value`` (formatted text).

    χ² with its df and *p*, CFI, TLI, RMSEA with its 90 % interval, SRMR, AIC, BIC, the log-likelihood and N; the
    baseline model's statistics and other bookkeeping are left out.

    Parameters
    ----------
    fit : Series or dict
        lavaan-named fit measures (``chisq, df, pvalue, cfi, tli, rmsea, rmsea_ci_lower, rmsea_ci_upper, srmr``…),
        e.g. ``fit_sem(...).fit``.

    Returns
    -------
    DataFrame
        Columns ``measure``, ``value`` (strings).

    Examples
    --------
    >>> fit_measures_table({"chisq": 23.412, "df": 21, "pvalue": 0.32, "cfi": 0.998, "rmsea": 0.031,
    ...                     "rmsea_ci_lower": 0.0, "rmsea_ci_upper": 0.072}).values.tolist()
    [['χ²(21)', '23.41'], ['p', '.320'], ['CFI', '.998'], ['RMSEA [90% CI]', '.031 [.000, .072]']]
    """
    f = dict(fit)
    rows = []
    for prefix, tag in (("", ""), ("_scaled", " (scaled)")):
        if f.get("chisq" + prefix) is None or _is_missing(f.get("chisq" + prefix)):
            continue
        df = f.get("df" + prefix, f.get("df"))
        df_text = "" if df is None or _is_missing(df) else f"({format_number(df, 0 if float(df).is_integer() else 2)})"
        rows.append((f"χ²{df_text}{tag}", format_number(f["chisq" + prefix], 2)))
        if not _is_missing(f.get("pvalue" + prefix)):
            rows.append((f"p{tag}", format_p(f["pvalue" + prefix])))
        for name, label in (("cfi", "CFI"), ("tli", "TLI")):
            if not _is_missing(f.get(name + prefix)):
                rows.append((label + tag, format_number(f[name + prefix], 3, bounded=True)))
        if not _is_missing(f.get("rmsea" + prefix)):
            lo, hi = f.get("rmsea_ci_lower" + prefix), f.get("rmsea_ci_upper" + prefix)
            text = format_number(f["rmsea" + prefix], 3, bounded=True)
            if not (_is_missing(lo) or _is_missing(hi)):
                text += f" [{format_number(lo, 3, bounded=True)}, {format_number(hi, 3, bounded=True)}]"
                rows.append((f"RMSEA [90% CI]{tag}", text))
            else:
                rows.append((f"RMSEA{tag}", text))
    if not _is_missing(f.get("srmr")):
        rows.append(("SRMR", format_number(f["srmr"], 3, bounded=True)))
    for name in ("aic", "bic", "loglik"):
        if not _is_missing(f.get(name)):
            rows.append((FIT_LABELS[name], format_number(f[name], 2)))
    if not _is_missing(f.get("ntotal")):
        rows.append(("N", format_number(f["ntotal"], 0)))
    return pd.DataFrame(rows, columns=["measure", "value"])


def _field_names(result) -> list[str]:
    import dataclasses

    if dataclasses.is_dataclass(result):
        return [f.name for f in dataclasses.fields(result)]
    return [k for k in vars(result) if not k.startswith("_")]


def display_tables(result) -> dict[str, pd.DataFrame | pd.Series]:
    """The tidy tables a result shows (``_repr_html_``, ``to_table``): estimates first, raw data left out.

    Fields that are DataFrames (and the ``paths`` / ``table`` properties), in the order ``effects, paths, params,
    …``, without raw data (``data``, ``model_frame``, ``replications`` …) and without a ``paths`` that repeats
    ``params`` row for row. A SEM ``fit`` Series is included as ``fit``.

    Parameters
    ----------
    result : Result
        Any fitted result.

    Returns
    -------
    dict
        Attribute name -> DataFrame (or the ``fit`` Series).

    Examples
    --------
    >>> import pandas as pd
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class R:
    ...     params: pd.DataFrame
    ...     data: pd.DataFrame
    >>> list(display_tables(R(pd.DataFrame({"term": ["x"], "estimate": [1.0]}), pd.DataFrame())))
    ['params']
    """
    found: dict[str, pd.DataFrame | pd.Series] = {}
    names = _field_names(result)
    for name in ("paths", "table"):
        if name not in names and isinstance(getattr(type(result), name, None), property):
            names.append(name)
    for name in names:
        if name.startswith("_") or name in _RAW:
            continue
        try:
            value = getattr(result, name)
        except Exception:  # a property that cannot be computed for this result is simply not shown
            continue
        if isinstance(value, pd.DataFrame) and len(value.columns):
            found[name] = value
        elif name == "fit" and isinstance(value, pd.Series) and "chisq" in value.index:
            found[name] = value
    order = {n: i for i, n in enumerate(_PREFERRED)}
    ordered = dict(sorted(found.items(), key=lambda kv: order.get(kv[0], len(order))))
    if "paths" in ordered and "params" in ordered and len(ordered["paths"]) == len(ordered["params"]):
        ordered.pop("paths")
    return ordered


def key_estimates(table: pd.DataFrame, limit: int = 4) -> tuple[list[str], int]:
    """Up to ``limit`` ``name = estimate [lower, upper]`` strings from a tidy table, and how many rows were left.

    SEM tables show regressions and defined parameters (``~``, ``:=``) first; rows without a name or value are
    skipped.

    Parameters
    ----------
    table : DataFrame
        A tidy table.
    limit : int
        Most strings returned.

    Returns
    -------
    tuple
        The strings and the number of further rows.

    Examples
    --------
    >>> import pandas as pd
    >>> key_estimates(pd.DataFrame({"term": ["a", "b"], "estimate": [0.5, -0.25], "ci_lower": [0.1, -0.5],
    ...                             "ci_upper": [0.9, 0.0]}), limit=1)
    (['a = 0.50 [0.10, 0.90]'], 1)
    """
    if {"lhs", "op", "rhs"} <= set(table.columns):
        main = table[table["op"].isin(["~", ":="])]
        table = main if len(main) else table
    names = _row_name(table)
    value = next((c for c in _VALUE_COLUMNS if c in table.columns), None)
    if names is None or value is None:
        return [], 0
    out = []
    se = table["std_error"] if "std_error" in table.columns else pd.Series(np.nan, index=table.index)
    for idx in table.index[:limit]:
        est = table.at[idx, value]
        if not isinstance(est, (int, float, np.integer, np.floating)) or isinstance(est, bool):
            continue
        d = row_digits(se.at[idx], est)
        text = f"{names.at[idx]} = {format_number(est, d)}"
        if {"ci_lower", "ci_upper"} <= set(table.columns) and not _is_missing(table.at[idx, "ci_lower"]):
            text += f" [{format_number(table.at[idx, 'ci_lower'], d)}, {format_number(table.at[idx, 'ci_upper'], d)}]"
        out.append(text)
    return out, max(0, len(table) - limit)


def first_present(values: Iterable) -> object | None:
    """The first value that is not missing (None / NaN), or None.

    >>> first_present([None, float("nan"), 3])
    3
    """
    return next((v for v in values if not _is_missing(v)), None)
