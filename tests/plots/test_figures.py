"""Every figure type renders legibly at the demo size and at the stress sizes of issue 18.

Legible = :func:`allianceStats.plots.label_collisions` finds nothing on the rendered figure (no overlapping,
cut-off or sub-7-pt text, no arrow label on another arrow or node, no arrow through a node) and the figure is at
most 10 inches wide (it prints without being shrunk). Stress sizes: 5 parallel mediators, a 3-variable RI-CLPM,
a 10-wave RI-CLPM, a 20-session trajectory; also a serial chain, a CFA, multilevel and across-wave mediation.
"""
from __future__ import annotations

import importlib.util
import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import allianceStats as als
from allianceStats.errors import OptionError
from allianceStats.plots import (
    label_collisions,
    plot_paths,
    plot_power,
    plot_survival,
    plot_trajectories,
    plot_transitions,
)

_spec = importlib.util.spec_from_file_location("result_cases", Path(__file__).resolve().parents[1] / "result_cases.py")
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)

MAX_WIDTH = 10.0  # inches


def _quiet(build):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build()


PATH_CASES = {
    "sem_mediation": cases.sem,
    "cfa_two_factors": cases.cfa,
    "mediation_3_parallel": cases.mediation,
    "mediation_5_parallel": lambda: cases.mediation(("autonomy", "competence", "relatedness", "alliance",
                                                      "engagement")),
    "mediation_serial": lambda: als.fit_mediation(cases.example(), "autonomy_support", ["autonomy", "competence"],
                                                  "motivation", serial=True, ci="delta"),
    "multilevel_mediation": cases.multilevel_mediation,
    "wave_mediation": cases.wave_mediation,
    "riclpm_demo_2x6": lambda: cases.riclpm(("alliance", "outcome"), 6),
    "riclpm_2x4": lambda: cases.riclpm(("alliance", "outcome"), 4),
    "riclpm_3_variables": lambda: cases.riclpm(("alliance", "outcome", "motivation"), 4),
    "riclpm_10_waves": lambda: cases.riclpm(("alliance", "outcome"), 10),
    "clpm_2x3": lambda: als.fit_clpm(cases.example(), ["alliance", "outcome"], waves=range(1, 4)),
    "riclpm_lagged_equal": lambda: als.fit_riclpm(cases.example(), ["alliance", "outcome"], waves=range(1, 7),
                                                  constraints="lagged"),
}


@pytest.fixture(scope="module")
def path_results():
    return {}


def _result(store, name):
    if name not in store:
        store[name] = _quiet(PATH_CASES[name])
    return store[name]


@pytest.mark.parametrize("what", ["estimate", "std_all"])
@pytest.mark.parametrize("name", list(PATH_CASES))
def test_path_diagram_is_legible(name, what, path_results):
    result = _result(path_results, name)
    table = getattr(result, "params", getattr(result, "paths", None))
    if what == "std_all" and ("std_all" not in table.columns or table["std_all"].isna().all()):
        with pytest.raises(OptionError, match="std_all"):
            plot_paths(result, what=what)
        return_value = "no std_all in this result's table"
        assert return_value
    else:
        fig = plot_paths(result, what=what)
        assert isinstance(fig, Figure)
        assert label_collisions(fig, max_width=MAX_WIDTH) == []


def test_every_regression_has_an_arrow_and_a_label(path_results):
    result = _result(path_results, "mediation_5_parallel")
    fig = plot_paths(result)
    ax = fig.axes[0]
    arrows = [a for a in ax.lines if str(a.get_gid()).startswith("path:")]
    labels = [t for t in ax.texts if str(t.get_gid()).startswith("label:")]
    assert len(arrows) == len(labels) == len(result.paths) == 11
    assert any(t.get_text().startswith("b5 = ") for t in labels)
    dashed = [a for a in arrows if a.get_linestyle() != "-"]
    not_sig = (result.paths["ci_lower"] <= 0) & (result.paths["ci_upper"] >= 0)
    assert len(dashed) == int(not_sig.sum())


def test_path_diagram_in_a_given_axes_and_saved(path_results):
    fig = Figure(figsize=(8, 4))
    ax = fig.add_subplot()
    out = plot_paths(_result(path_results, "sem_mediation"), ax=ax)
    assert out is fig
    assert label_collisions(fig) == []
    for fmt in ("pdf", "svg", "png"):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt)
        assert buf.tell() > 1000


def test_panel_layouts(path_results):
    """Up to 4 waves of 2 variables: one grid; more: one panel per lag; equal lags: one panel."""
    grid = plot_paths(_result(path_results, "riclpm_2x4"))
    titles = [t.get_text() for t in grid.axes[0].texts if t.get_fontweight() == "bold"]
    assert titles == []
    multiples = plot_paths(_result(path_results, "riclpm_10_waves"))
    titles = [t.get_text() for t in multiples.axes[0].texts if t.get_fontweight() == "bold"]
    assert titles == [f"wave {w} → {w + 1}" for w in range(1, 10)]
    equal = plot_paths(_result(path_results, "riclpm_lagged_equal"), what="estimate")
    titles = [t.get_text() for t in equal.axes[0].texts if t.get_fontweight() == "bold"]
    assert titles == ["every lag: t − 1 → t"]


def test_the_checker_finds_what_the_issue_describes():
    """Overlapping labels, a label on another arrow, fractional session ticks squeezed together, tiny text."""
    fig = Figure(figsize=(2, 1.5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(np.arange(1, 21), np.arange(20))
    ax.set_xticks(np.arange(1, 21, 0.5))
    assert any("overlaps" in p for p in label_collisions(fig))
    tiny = Figure(figsize=(3, 2), layout="constrained")
    tiny.add_subplot().set_title("small", fontsize=5)
    assert any("5.0 pt" in p for p in label_collisions(tiny))
    wide = Figure(figsize=(31, 2), layout="constrained")
    wide.add_subplot()
    assert label_collisions(wide, max_width=MAX_WIDTH) == ["figure is 31.0 in wide (at most 10 in)"]


def test_a_label_on_another_arrow_is_reported():
    t = pd.DataFrame({"lhs": ["m", "y"], "op": ["~", "~"], "rhs": ["x", "m"], "estimate": [0.5, 0.4]})
    fig = plot_paths(t)
    ax = fig.axes[0]
    first, second = [x for x in ax.texts if str(x.get_gid()).startswith("label:")]
    arrow = next(a for a in ax.lines if a.get_gid() == f"path:{second.get_gid()[6:]}")
    first.set_position(tuple(np.asarray(arrow.get_xydata()).mean(axis=0)))
    assert any("sits on the arrow m -> y" in p for p in label_collisions(fig))


@pytest.mark.parametrize("n_sessions", [10, 20])
def test_trajectories_have_integer_session_ticks(n_sessions):
    if n_sessions == 10:
        data = cases.example()
    else:
        data, _ = als.simulate.sdt_cycle(5, 8, 20, seed=3)
    fig = plot_trajectories(data, "alliance", client="client", session="session")
    assert label_collisions(fig, max_width=MAX_WIDTH) == []
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert all(float(t).is_integer() for t in ticks) and len(ticks) >= 4
    assert max(ticks) >= n_sessions - 5


@pytest.mark.parametrize("split", [None, "tertiles"])
def test_survival_curves_with_risk_table(split):
    km = als.kaplan_meier(cases.example(), split=split, censored=True)
    fig = plot_survival(km)
    assert label_collisions(fig, max_width=MAX_WIDTH) == []
    curves, risk = fig.axes
    assert any(line.get_marker() == "+" for line in curves.lines)  # censoring marks
    assert len(curves.collections) >= (3 if split else 1)  # confidence bands
    numbers = [t.get_text() for t in risk.texts if t.get_text().isdigit()]
    assert numbers[0] == str(int(km.loc[km["group"] == km["group"].iloc[0], "n_risk"].max()))


def test_power_curve():
    fig = plot_power(_quiet(cases.power_result))
    assert label_collisions(fig, max_width=MAX_WIDTH) == []
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["20", "40"]


@pytest.mark.parametrize("n_codes", [5, 12])
def test_transition_heat_map(n_codes):
    if n_codes == 5:
        result = cases.lag_sequential()
    else:
        rng = np.random.default_rng(9)
        codes = [f"code_{k:02d}" for k in range(n_codes)]
        events = pd.DataFrame({"client": "a", "session": 1, "order": range(1, 1501),
                               "code": rng.choice(codes, size=1500)})
        from allianceStats.process import lag_sequential

        result = lag_sequential(events)
    fig = plot_transitions(result)
    assert label_collisions(fig, max_width=MAX_WIDTH) == []
    cells = [t for t in fig.axes[0].texts]
    assert len(cells) == n_codes ** 2
    starred = {t.get_text() for t in cells if t.get_text().endswith("*")}
    z = result.table["adjusted_residual"]
    assert len(starred) <= int((z.abs() > 1.959964).sum())


def test_estimation_never_imports_plots():
    import ast

    pkg = Path(als.__file__).parent
    estimation = ["data", "mixed", "sem", "panel", "mediation", "dynamics", "simulate", "power_analysis", "survival",
                  "process", "decomposition.py", "comparison.py", "errors.py", "results.py", "formatting.py"]
    bad = []
    for name in estimation:
        target = pkg / name
        for path in ([target] if target.is_file() else sorted(target.rglob("*.py"))):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                mods = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                        [("." * node.level) + (node.module or "")] if isinstance(node, ast.ImportFrom) else [])
                if any("plots" in m.split(".") or m.startswith("matplotlib") for m in mods):
                    bad.append(str(path.relative_to(pkg)))
    assert bad == []
