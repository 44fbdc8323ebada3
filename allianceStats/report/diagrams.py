"""Path diagrams of fitted models: mediation, RI-CLPM and the review's cyclical SDT model.

Every diagram is drawn from a plain *paths table*, so it renders from any result that has one:

* ``from, to, estimate`` (+ optional ``ci_lower, ci_upper, p_value, std_all, label``), or
* a lavaan-style parameter table ``lhs, op, rhs, estimate, ...`` (regressions ``op == "~"``,
  read as ``rhs -> lhs``), as ``fit_sem`` / ``fit_riclpm`` return in ``params``, or
* a table with a ``path`` (or ``effect``) column written ``"x -> m"``.

A path is *significant* when its confidence interval excludes zero (or, without a CI, when
``p_value < alpha``): it is drawn solid and black; other paths are dashed and grey, so the
distinction survives black-and-white printing. Each arrow is labelled with its estimate and CI
(``0.42 [0.21, 0.63]``); labels never overlap arrows, nodes or other labels (see
:mod:`allianceStats.report.svg`).

The cyclical model follows the review this project starts from: therapist behaviours → alliance →
need satisfaction (autonomy, competence, relatedness; Ryan & Deci 2017) → autonomous motivation →
engagement → (next session's) alliance. RI-CLPM diagrams follow Hamaker, Kuiper & Grasman (2015):
within-person components per wave as columns, autoregressive paths horizontal, cross-lagged paths
diagonal, standardized (``std_all``) values on the arrows.

Example
-------
>>> import pandas as pd
>>> paths = pd.DataFrame({"from": ["x", "m", "x"], "to": ["m", "y", "y"],
...                       "estimate": [0.5, 0.4, 0.1], "ci_lower": [0.3, 0.2, -0.1],
...                       "ci_upper": [0.7, 0.6, 0.3]})
>>> d = mediation_diagram(paths)
>>> d.label_collisions()
[]
>>> 'stroke-dasharray' in d.svg   # the direct path x -> y is not significant
True
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence

import pandas as pd

from ..errors import AllianceStatsError
from .svg import Diagram, node_width

PATH_COLUMNS = ["from", "to", "estimate", "ci_lower", "ci_upper", "p_value", "std_all", "label"]


def paths_table(source, *, alpha: float = 0.05) -> pd.DataFrame:
    """Normalise a result or table to one row per directed path with a ``significant`` flag.

    Parameters
    ----------
    source : DataFrame or result
        A DataFrame in one of the three layouts of the module docstring, or any object with a ``paths`` or
        ``params`` DataFrame attribute.
    alpha : float
        Test level: a path without a CI in the table is significant when ``p_value < alpha`` (with a CI, when
        the CI excludes zero).

    Returns
    -------
    DataFrame
        The columns of ``PATH_COLUMNS`` plus ``significant`` (missing optional columns are NaN / empty).

    Examples
    --------
    >>> import pandas as pd
    >>> t = paths_table(pd.DataFrame({"lhs": ["y"], "op": ["~"], "rhs": ["x"], "estimate": [0.2],
    ...                               "p_value": [0.01]}))
    >>> t[["from", "to", "significant"]].values.tolist()
    [['x', 'y', True]]
    """
    table = source
    if not isinstance(table, pd.DataFrame):
        for attr in ("paths", "params"):
            candidate = getattr(source, attr, None)
            if isinstance(candidate, pd.DataFrame):
                table = candidate
                break
        else:
            raise AllianceStatsError(
                f"cannot draw paths from a {type(source).__name__}: expected a DataFrame with columns "
                "'from', 'to', 'estimate' (or 'lhs', 'op', 'rhs'), or a result with a 'paths'/'params' table.")
    cols = set(table.columns)
    if {"from", "to"} <= cols:
        out = table.copy()
    elif {"lhs", "op", "rhs"} <= cols:
        out = table[table["op"] == "~"].copy()
        out["from"], out["to"] = out["rhs"], out["lhs"]
    elif cols & {"path", "effect"}:
        col = "path" if "path" in cols else "effect"
        parts = table[col].astype(str).str.split(r"\s*->\s*", regex=True)
        out = table[parts.str.len() == 2].copy()
        out["from"] = parts[parts.str.len() == 2].str[0]
        out["to"] = parts[parts.str.len() == 2].str[1]
    else:
        raise AllianceStatsError(
            f"a paths table needs columns 'from' and 'to', or 'lhs', 'op', 'rhs', or 'path'; found "
            f"{', '.join(map(str, table.columns))}. Rename the columns or pass the result's params table.")
    if "estimate" not in out.columns:
        raise AllianceStatsError("a paths table needs an 'estimate' column; found "
                                 f"{', '.join(map(str, table.columns))}.")
    for col in PATH_COLUMNS:
        if col not in out.columns:
            out[col] = "" if col == "label" else math.nan
    out["label"] = out["label"].fillna("").astype(str)
    ci_known = out["ci_lower"].notna() & out["ci_upper"].notna()
    by_ci = (out["ci_lower"] > 0) | (out["ci_upper"] < 0)
    by_p = out["p_value"] < alpha
    no_test = ~ci_known & out["p_value"].isna()
    out["significant"] = (by_ci.where(ci_known, by_p) | no_test).astype(bool)
    out["from"] = out["from"].astype(str)
    out["to"] = out["to"].astype(str)
    return out[[*PATH_COLUMNS, "significant"]].reset_index(drop=True)


def fmt_number(x: float, digits: int = 2) -> str:
    """Format a number for a figure or table: fixed decimals, a true minus sign, ``—`` for missing."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    text = f"{x:.{digits}f}"
    if text.startswith("-"):
        text = "−" + text[1:] if float(text) != 0 else text[1:]
    return text


def path_label(row, *, digits: int = 2, value: str = "estimate") -> str:
    """Arrow label: ``"a = 0.42 [0.21, 0.63]"`` (label prefix and CI only when present)."""
    est = fmt_number(row[value], digits)
    text = est
    if value == "estimate" and not (pd.isna(row["ci_lower"]) or pd.isna(row["ci_upper"])):
        text = f"{est} [{fmt_number(row['ci_lower'], digits)}, {fmt_number(row['ci_upper'], digits)}]"
    if row.get("label"):
        text = f"{row['label']} = {text}"
    return text


def _roles(paths: pd.DataFrame) -> tuple[str, list[str], str]:
    nodes = list(dict.fromkeys([*paths["from"], *paths["to"]]))
    sources = [n for n in nodes if n not in set(paths["to"])]
    sinks = [n for n in nodes if n not in set(paths["from"])]
    if len(sources) != 1 or len(sinks) != 1:
        raise AllianceStatsError(
            f"cannot tell x and y apart in the paths table (sources {sources}, sinks {sinks}); "
            "pass x=, mediators= and y= explicitly.")
    mediators = [n for n in nodes if n not in (sources[0], sinks[0])]
    return sources[0], mediators, sinks[0]


def mediation_diagram(paths, x: str | None = None, mediators: Sequence[str] | None = None,
                      y: str | None = None, *, serial: bool | None = None, alpha: float = 0.05,
                      digits: int = 2, labels: dict[str, str] | None = None) -> Diagram:
    """Draw a single, parallel or serial mediation model x → mediators → y.

    One mediator: the classic triangle (x bottom left, m on top, y bottom right). Parallel mediators
    are stacked in the middle column with x and y at mid height on either side, and the direct path c'
    runs below them all; serial mediators (or any model with a mediator → mediator path) form a chain
    across the top with x and y below. Each arrow carries ``estimate [ci_lower, ci_upper]``.

    Parameters
    ----------
    paths : DataFrame or result
        A paths table (see :func:`paths_table`), e.g. ``fit_mediation(...).paths`` or a SEM ``params``.
    x, mediators, y : str, optional
        Variable names; inferred from the table (the only source, the only sink) when omitted.
    serial : bool, optional
        Layout; inferred from the presence of mediator → mediator paths when omitted.
    alpha : float
        Test level: a path without a CI in the table is significant when ``p_value < alpha`` (with a CI, when
        the CI excludes zero).
    digits : int
        Decimals of the arrow labels.
    labels : dict, optional
        Display names for variables (default: the column names).

    Returns
    -------
    Diagram
        ``.svg`` (or ``.to_svg(title=...)``) is the drawing; ``label_collisions()`` is empty.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"from": ["support", "support", "autonomy", "competence", "support"],
    ...                   "to": ["autonomy", "competence", "motivation", "motivation", "motivation"],
    ...                   "estimate": [0.4, 0.3, 0.5, 0.2, 0.1], "p_value": [0.001, 0.01, 0.001, 0.2, 0.4]})
    >>> d = mediation_diagram(t)
    >>> sorted(d.nodes), d.label_collisions()
    (['autonomy', 'competence', 'motivation', 'support'], [])
    """
    table = paths_table(paths, alpha=alpha)
    if x is None or y is None or mediators is None:
        gx, gm, gy = _roles(table)
        x, y = x or gx, y or gy
        mediators = list(mediators) if mediators is not None else gm
    mediators = list(mediators)
    table = table[table["from"].isin([x, *mediators]) & table["to"].isin([*mediators, y])]
    if serial is None:
        serial = bool((table["from"].isin(mediators) & table["to"].isin(mediators)).any())
    names = labels or {}
    text = {v: str(names.get(v, v)) for v in (x, y, *mediators)}
    wx, wy = node_width(text[x]), node_width(text[y])
    wm = [node_width(text[m]) for m in mediators] or [70.0]
    k = max(len(mediators), 1)
    label_room = 230  # horizontal room for an "estimate [CI]" label between two columns
    if serial:
        step = max(200.0, max(wm) + 150)
        width = max(760.0, (k + 1) * step + (wx + wy) / 2 + 20)
        height = 340
    elif k == 1:
        width, height = max(720.0, wx + wm[0] + wy + 2 * label_room), 230
    else:
        width, height = max(780.0, wx + max(wm) + wy + 2 * label_room), 100 * k + 70
    d = Diagram(width, height)
    left, right = 10 + wx / 2, width - 10 - wy / 2
    if serial:
        d.add_node(x, text[x], left, height - 45)
        d.add_node(y, text[y], right, height - 45)
        for i, m in enumerate(mediators):
            cx = left + (right - left) * (i + 1) / (k + 1)
            d.add_node(m, text[m], cx, 45 + (60 if i % 2 else 0) * (k > 2))
    elif k == 1:
        d.add_node(x, text[x], left, height - 45)
        d.add_node(y, text[y], right, height - 45)
        d.add_node(mediators[0], text[mediators[0]], width / 2, 40)
    else:
        # x and y at mid height so the a and b paths fan out both ways; c' runs below everything
        d.add_node(x, text[x], left, 40 + 50 * (k - 1))
        d.add_node(y, text[y], right, 40 + 50 * (k - 1))
        for i, m in enumerate(mediators):
            d.add_node(m, text[m], width / 2, 40 + 100 * i)
    for _, row in table.iterrows():
        label = path_label(row, digits=digits)
        sig = bool(row["significant"])
        if not serial and k > 1 and row["from"] == x and row["to"] == y:
            below = height - 15
            d.route_via(x, y, [(left, below), (right, below)], label=label, significant=sig)
        else:
            d.add_arrow(row["from"], row["to"], label=label, significant=sig,
                        label_at=_label_position(row["from"], row["to"], x, mediators, y, serial))
    d.notes.append("Solid black: 95% CI excludes 0 (or p < .05); dashed grey: not significant. "
                   "Labels: estimate [CI].")
    d.place_labels()
    return d


def _label_position(source, target, x, mediators, y, serial) -> float | None:
    """Preferred label position along a mediation path, away from where arrows crowd or cross.

    Parallel: a paths near their mediator, b paths near theirs (the fans have spread out there).
    Serial: the a path to a later mediator and the b path from an earlier one cross mid-diagram, so
    their labels go near x and near y respectively.
    """
    if source == x and target in mediators:
        i = mediators.index(target)
        return (0.5 if i == 0 else 0.25) if serial else 0.72
    if source in mediators and target == y:
        i = mediators.index(source)
        return (0.5 if i == len(mediators) - 1 else 0.75) if serial else 0.28
    return None


_WAVE = r"^{}{}_(\d+)$"


def riclpm_diagram(params, variables: Sequence[str], *, value: str = "std_all", alpha: float = 0.05,
                   digits: int = 2, prefix: str = "w_") -> Diagram:
    """Draw the within-person part of an RI-CLPM (Hamaker, Kuiper & Grasman 2015).

    Waves are columns, one row per variable; nodes are the within components ``w_<variable>_<wave>``
    (the naming of ``fit_riclpm``); autoregressive paths run horizontally, cross-lagged paths
    diagonally. Arrows carry ``value`` (default the standardized ``std_all``; falls back to
    ``estimate`` when absent) and are solid/black when significant, dashed/grey otherwise. The
    random-intercept correlation, when in the table (``RI_x ~~ RI_y``), is printed below. With
    ``prefix=""`` it draws a CLPM, whose paths join the observed ``<variable>_<wave>`` columns.

    Parameters
    ----------
    params : DataFrame or result
        The parameter table of ``fit_riclpm`` / ``fit_clpm`` (``lhs, op, rhs, estimate, ...``), or the result.
    variables : sequence of str
        The panel variables, in the order of the rows of the drawing.
    value : str
        Column shown on the arrows (``std_all``, or ``estimate``).
    alpha : float
        Test level: a path without a CI in the table is significant when ``p_value < alpha`` (with a CI, when
        the CI excludes zero).
    digits : int
        Decimals of the arrow labels.
    prefix : str
        Prefix of the within components (``"w_"``; ``""`` for a CLPM).

    Returns
    -------
    Diagram

    Examples
    --------
    >>> import pandas as pd
    >>> rows = []
    >>> for t in (2, 3):
    ...     for a in ("alliance", "outcome"):
    ...         for b in ("alliance", "outcome"):
    ...             rows.append({"lhs": f"w_{a}_{t}", "op": "~", "rhs": f"w_{b}_{t-1}",
    ...                          "estimate": 0.3, "p_value": 0.01, "std_all": 0.25})
    >>> d = riclpm_diagram(pd.DataFrame(rows), ["alliance", "outcome"])
    >>> len(d.arrows), d.label_collisions()
    (8, [])
    """
    raw = params.params if hasattr(params, "params") and not isinstance(params, pd.DataFrame) else params
    table = paths_table(raw, alpha=alpha)
    if value not in table.columns or table[value].isna().all():
        value = "estimate"
    wave_of: dict[str, tuple[int, int]] = {}
    for r, var in enumerate(variables):
        pattern = re.compile(_WAVE.format(re.escape(prefix), re.escape(var)))
        for name in pd.unique(pd.concat([table["from"], table["to"]])):
            m = pattern.match(name)
            if m:
                wave_of[name] = (r, int(m.group(1)))
    waves = sorted({w for _, w in wave_of.values()})
    if not waves:
        raise AllianceStatsError(
            f"no components named {prefix}<variable>_<wave> for variables {list(variables)} in the "
            "parameter table; pass the params of fit_riclpm and the variable names it was fitted with.")
    widest = max(node_width(f"{v} {w}") for v in variables for w in waves)
    col_gap, row_gap = max(200.0, widest + 120), 170 if len(variables) == 2 else 130
    margin = max(110.0, widest / 2 + 10)
    width = 2 * margin + col_gap * (len(waves) - 1)
    height = 60 + row_gap * (len(variables) - 1) + 60
    d = Diagram(width, height)
    for name, (r, w) in sorted(wave_of.items(), key=lambda kv: (kv[1][1], kv[1][0])):
        d.add_node(name, f"{variables[r]} {w}", margin + col_gap * waves.index(w), 60 + row_gap * r,
                   shape="ellipse" if prefix else "rect")  # latent within components vs observed scores
    keep = table[table["from"].isin(wave_of) & table["to"].isin(wave_of)]
    # autoregressive first so their labels get the midpoints
    keep = keep.assign(_cross=[wave_of[f][0] != wave_of[t][0] for f, t in zip(keep["from"], keep["to"])])
    for _, row in keep.sort_values("_cross", kind="stable").iterrows():
        # cross-lagged labels near their source, so the two labels of an X are not confused
        d.add_arrow(row["from"], row["to"], label=fmt_number(row[value], digits),
                    significant=bool(row["significant"]), label_at=0.27 if row["_cross"] else 0.5)
    if {"lhs", "op", "rhs"} <= set(raw.columns):
        ri = raw[(raw["op"] == "~~") & raw["lhs"].str.startswith("RI_") & raw["rhs"].str.startswith("RI_")
                 & (raw["lhs"] != raw["rhs"])]
        for _, row in ri.iterrows():
            val = row.get("std_all", math.nan)
            d.notes.append(f"Random intercepts: r({row['lhs']}, {row['rhs']}) = {fmt_number(val, digits)}"
                           if pd.notna(val) else
                           f"Random intercepts: cov({row['lhs']}, {row['rhs']}) = {fmt_number(row['estimate'])}")
    kind = "standardized (std_all)" if value == "std_all" else value
    part = "Within-person paths" if prefix else "Lagged paths"
    d.notes.append(f"{part}, {kind}. Solid black: significant; dashed grey: not significant.")
    d.place_labels()
    return d


def cycle_diagram(paths, *, behaviours: Sequence[str] = ("empathy", "autonomy_support"),
                  alliance: str = "alliance", needs: Sequence[str] = ("autonomy", "competence", "relatedness"),
                  motivation: str = "motivation", engagement: str = "engagement", alpha: float = 0.05,
                  digits: int = 2) -> Diagram:
    """Draw the review's cyclical model with the estimates on its arrows (CIs belong in the table).

    therapist behaviours → alliance → needs (autonomy, competence, relatedness) → autonomous motivation
    → engagement → alliance at the next session (the feedback arrow, drawn below). Estimates are
    looked up by ``(from, to)`` in the paths table; the feedback path may be stored as
    ``engagement -> alliance`` or ``<engagement>_within_lag1 -> alliance``. An arrow with no
    estimate is dashed grey and labelled "n.e." (not estimated). The analysis file's ``[cycle]`` step draws
    ``evaluate_hypotheses(data, mapping, ids=<the registry's cycle>).paths`` with it.

    Parameters
    ----------
    paths : DataFrame or result, optional
        A paths table (see :func:`paths_table`); ``None`` draws the empty cycle.
    behaviours : sequence of str
        The therapist-behaviour columns (first column of the drawing).
    alliance, motivation, engagement : str
        The alliance, motivation and engagement columns.
    needs : sequence of str
        The need-satisfaction columns.
    alpha : float
        Test level: a path without a CI in the table is significant when ``p_value < alpha`` (with a CI, when
        the CI excludes zero).
    digits : int
        Decimals of the arrow labels.

    Returns
    -------
    Diagram

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"from": ["empathy", "alliance"], "to": ["alliance", "autonomy"],
    ...                   "estimate": [0.3, 0.4], "ci_lower": [0.1, 0.2], "ci_upper": [0.5, 0.6]})
    >>> d = cycle_diagram(t)
    >>> len(d.arrows), d.label_collisions()
    (10, [])
    """
    table = paths_table(paths, alpha=alpha) if paths is not None else paths_table(
        pd.DataFrame(columns=["from", "to", "estimate"]))
    lookup = {}
    for _, row in table.iterrows():
        lookup[(row["from"], row["to"])] = row
    for key in (f"{engagement}_within_lag1", f"{engagement}_lag1"):
        if (key, alliance) in lookup and (engagement, alliance) not in lookup:
            lookup[(engagement, alliance)] = lookup[(key, alliance)]
    nb, nn = max(len(behaviours), 1), max(len(needs), 1)
    rows = max(nb, nn)
    height = 80 * rows + 70
    mid = 40 + 80 * (rows - 1) / 2
    # columns: behaviours, alliance, needs, motivation, engagement; 120 px between boxes for the labels
    col_w = {"b": max(map(node_width, behaviours), default=70.0), "a": node_width(alliance),
             "n": max(map(node_width, needs), default=70.0), "m": node_width(motivation), "e": node_width(engagement)}
    cols, edge = {}, 10.0
    for role in ("b", "a", "n", "m", "e"):
        cols[role] = edge + col_w[role] / 2
        edge += col_w[role] + 120
    width = max(980.0, edge - 120 + 10)
    d = Diagram(width, height + 40)

    def key(role, name):
        return f"{role}:{name}"

    for i, b in enumerate(behaviours):
        d.add_node(key("b", b), b, cols["b"], mid + 80 * (i - (nb - 1) / 2))
    d.add_node(key("a", alliance), alliance, cols["a"], mid)
    for i, n in enumerate(needs):
        d.add_node(key("n", n), n, cols["n"], mid + 80 * (i - (nn - 1) / 2))
    d.add_node(key("m", motivation), motivation, cols["m"], mid)
    d.add_node(key("e", engagement), engagement, cols["e"], mid)

    def arrow(src_role, src, dst_role, dst, via=None):
        row = lookup.get((src, dst))
        label = fmt_number(row["estimate"], digits) if row is not None else "n.e."
        sig = bool(row["significant"]) if row is not None else False
        if via is None:
            d.add_arrow(key(src_role, src), key(dst_role, dst), label=label, significant=sig)
        else:
            d.route_via(key(src_role, src), key(dst_role, dst), via, label=label, significant=sig)

    for b in behaviours:
        arrow("b", b, "a", alliance)
    for n in needs:
        arrow("a", alliance, "n", n)
    for n in needs:
        arrow("n", n, "m", motivation)
    arrow("m", motivation, "e", engagement)
    below = height + 10
    arrow("e", engagement, "a", alliance, via=[(cols["e"], below), (cols["a"], below)])
    d.notes.append("Bottom arrow: engagement at session t → alliance at session t+1 (within-client). "
                   "Solid black: significant; dashed grey: not significant; n.e.: not estimated.")
    d.place_labels()
    return d
