"""The README's examples run as written, in the 0.2.0 vocabulary only.

Each python block runs with ``FutureWarning`` raised as an error, so a renamed function or argument (which keeps
working with a FutureWarning until 0.3.0) cannot come back into the README. lme4's and lavaan's argument order
(``fit_mlm(formula, data)``, ``fit_sem(model, data)``) is accepted without a warning, so the table-first order is
checked on the code itself.
"""
import ast
import os
import re
import warnings
from pathlib import Path

import pytest

from allianceStats.data.example import load_example

README = Path(__file__).resolve().parents[1] / "README.md"
#: functions whose first argument is the table, and which also accept R's order (model text first) silently
TABLE_FIRST = {"fit_mlm", "fit_sem", "fit_glmm"}


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def _run(code: str, name: str) -> None:
    """Run a README block as a script (``__name__ == "__main__"``) with FutureWarning as an error; every name the
    block assigns must exist afterwards (so a guarded body, ``if __name__ == "__main__":``, really ran)."""
    namespace = {"__name__": "__main__"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        exec(compile(code, name, "exec"), namespace)
    assigned = {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    assert assigned <= namespace.keys(), f"{name}: {sorted(assigned - namespace.keys())} were never assigned"


def order_problems(code: str, where: str) -> list[str]:
    """Calls that put model text before the table, or pass fit_dpm's x and y by position."""
    problems = []
    for node in ast.walk(ast.parse(code)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        first = node.args[0] if node.args else None
        if name in TABLE_FIRST and isinstance(first, (ast.Constant, ast.JoinedStr, ast.BinOp)):
            problems.append(f"{where}, line {node.lineno}: {name}() gets its model text first; the table comes first")
        if name == "fit_dpm" and len(node.args) > 1:
            problems.append(f"{where}, line {node.lineno}: fit_dpm() gets x / y by position; pass x= and y=")
    return problems


def test_readme_example_runs(tmp_path, capsys):
    blocks = _blocks()
    assert blocks, "README has no python example"
    code = blocks[0]
    assert len(code.strip().splitlines()) <= 12
    d = load_example()
    d.rename(columns={"client": "ID", "therapist": "TherapistID", "session": "Visit", "alliance": "WAI",
                      "outcome": "PDA"})[["ID", "TherapistID", "Visit", "WAI", "PDA"]].to_csv(
        tmp_path / "my_sessions.csv", index=False)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        _run(code, "README.md")
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert "alliance_within_lag1" in out and "w_outcome" in out
    # the compact table of cross-lagged paths prints whole: no column hidden behind pandas' "..."
    assert "w_alliance_1 → w_outcome_2" in out and all(col in out for col in ("p_value", "ci_lower", "std_all"))


SPEED_UPS = {"n_draws=5000": "n_draws=300", "reps=1000": "reps=3", "[100, 200, 300]": "[100]", "[3, 5]": "[3]"}


def _area_blocks():
    return _blocks()[1:]


@pytest.mark.parametrize("index", range(len(_area_blocks())))
def test_readme_area_examples_run(index):
    """Every other README example runs as written (fewer resamples / replications, same calls), without warning
    that a name is old."""
    code = _area_blocks()[index]
    for slow, fast in SPEED_UPS.items():
        code = code.replace(slow, fast)
    _run("import allianceStats as als\n" + code, f"README.md block {index + 2}")


def test_speed_ups_still_apply():
    """Each speed-up still finds its text: a renamed argument would otherwise run the slow version unnoticed."""
    text = "".join(_area_blocks())
    missing = [slow for slow in SPEED_UPS if slow not in text]
    assert not missing, f"SPEED_UPS entries no longer in the README: {missing}"


def test_readme_calls_put_the_table_first():
    problems = [p for i, code in enumerate(_blocks()) for p in order_problems(code, f"README block {i + 1}")]
    assert not problems, "\n".join(problems)


def test_order_check_catches_r_order():
    """The check above can fail: R's order and positional x / y are caught, the table-first form is not."""
    assert order_problems('als.fit_mlm("y ~ x + (1 | g)", d)', "t")
    assert order_problems('als.fit_sem("y ~ x" "\\n", d)', "t")
    assert order_problems('als.fit_dpm(d, "outcome", "alliance")', "t")
    assert not order_problems('als.fit_mlm(d, "y ~ x + (1 | g)")\nals.fit_dpm(d, x="a", y="o")', "t")
