"""Every result type shows itself briefly: a repr under 1,000 characters, str() = summary(), and a tested
``_repr_html_`` (issue 18, section 1); tidy tables have a compact view that prints without truncation."""
from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import pkgutil
import re
from pathlib import Path

import pandas as pd
import pytest

import allianceStats
from allianceStats.formatting import compact
from allianceStats.results import CLOSED_FORM, REPR_LIMIT, Convergence, ResultDisplay

_spec = importlib.util.spec_from_file_location("result_cases", Path(__file__).with_name("result_cases.py"))
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)

#: result classes of modules that were being written or edited by other areas when the display landed: they get
#: the mixin in one small edit (ResultDisplay as the first base, repr=False in @dataclass) and a builder in
#: tests/result_cases.py; until then they are listed here (and skipped where they have a builder)
PENDING: set[str] = set()


def _result_classes() -> dict[str, type]:
    found = {}
    for info in pkgutil.walk_packages(allianceStats.__path__, prefix="allianceStats."):
        try:
            module = importlib.import_module(info.name)
        except Exception:  # modules under construction elsewhere are the API test's business
            continue
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and obj.__module__ == module.__name__ and name.endswith("Result")
                    and dataclasses.is_dataclass(obj)):
                found[name] = obj
    return found


CLASSES = _result_classes()


def test_every_result_class_has_a_case_or_is_pending():
    missing = sorted(set(CLASSES) - set(cases.CASES) - PENDING)
    assert missing == [], (f"add a builder to tests/result_cases.py for {missing} (and ResultDisplay as the first "
                           "base of the class, with repr=False in its @dataclass)")


@pytest.fixture(scope="module")
def built():
    return {}


def _get(store, name):
    if name not in store:
        store[name] = cases.build(name)
    return store[name]


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_repr_is_short_and_informative(name, built):
    cls = CLASSES.get(name)
    if cls is not None and not issubclass(cls, ResultDisplay):
        pytest.skip(reason=f"{name} does not inherit results.ResultDisplay yet (its module was being edited)")
    result = _get(built, name)
    text = repr(result)
    assert len(text) < REPR_LIMIT, f"{name}: repr is {len(text)} characters"
    assert name in text
    assert "array(" not in text and "Provenance(" not in text and "DataFrame" not in text
    assert re.search(r"\bn(_obs)? = \d+|n_obs=\d+|n_clients=\d+|transitions=\d+|dyads=\d+|windows=\d+", text), text
    assert str(result) == result.summary()


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_repr_html_shows_the_tables(name, built):
    cls = CLASSES.get(name)
    if cls is not None and not issubclass(cls, ResultDisplay):
        pytest.skip(reason=f"{name} does not inherit results.ResultDisplay yet (its module was being edited)")
    result = _get(built, name)
    page = result._repr_html_()
    assert page.startswith('<div class="allianceStats-result">') and page.endswith("</div>")
    assert f"<strong>{name}</strong>" in page
    assert page.count("<table") >= 1 and page.count("<table") == page.count("</table>")
    assert "summary()" in page
    assert "0.0000" not in re.sub(r"<pre>.*?</pre>", "", page, flags=re.S)  # APA: never p = 0.0000


@dataclasses.dataclass(frozen=True, repr=False)
class _Toy(ResultDisplay):
    params: pd.DataFrame
    data: pd.DataFrame
    n_obs: int = 3
    conf_level: float = 0.9
    convergence: Convergence = CLOSED_FORM

    @property
    def converged(self) -> bool:
        return self.convergence.converged

    def summary(self) -> str:
        return "summary with <script>alert(1)</script>"


def test_html_escapes_every_user_text_and_leaves_out_raw_data():
    toy = _Toy(pd.DataFrame({"term": ["<script>x</script>"], "estimate": [0.5], "std_error": [0.1],
                             "p_value": [1e-9], "ci_lower": [0.3], "ci_upper": [0.7]}),
               pd.DataFrame({"secret_raw_column": range(5)}))
    page = toy._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "secret_raw_column" not in page
    assert "90% CI" in page and "&lt; .001" in page
    assert repr(toy) == "<_Toy: n_obs = 3, converged\n params: <script>x</script> = 0.50 [0.30, 0.70]>"


def test_repr_is_cut_at_the_limit():
    long = _Toy(pd.DataFrame({"term": ["x" * 900, "y" * 900], "estimate": [1.0, 2.0]}), pd.DataFrame())
    text = repr(long)
    assert len(text) == REPR_LIMIT and text.endswith("…>")


def test_a_display_failure_does_not_break_the_repr():
    class Broken(_Toy):
        def _display_numbers(self):
            raise RuntimeError("boom")

    bad = Broken(pd.DataFrame({"term": ["x"], "estimate": [1.0]}), pd.DataFrame())
    assert "key numbers unavailable: RuntimeError" in repr(bad)


def test_not_converged_is_said():
    toy = _Toy(pd.DataFrame({"term": ["x"], "estimate": [1.0]}), pd.DataFrame(),
               convergence=Convergence(False, 50, "bobyqa", "iteration limit"))
    assert "NOT converged: iteration limit" in repr(toy)


def test_compact_view_prints_every_estimate_of_the_riclpm_paths(built):
    riclpm = _get(built, "PanelResult")
    view = compact(riclpm.paths)
    text = view.to_string()
    assert "..." not in text
    assert max(map(len, text.splitlines())) <= 110
    assert len(view) == len(riclpm.paths)
    assert list(view.columns) == ["estimate", "std_error", "p_value", "ci_lower", "ci_upper", "std_all"]
    assert (view["estimate"] - riclpm.paths["estimate"].to_numpy()).abs().max() <= 0.0005
    assert view.index[0] == f"{riclpm.paths['rhs'].iloc[0]} → {riclpm.paths['lhs'].iloc[0]}"


def test_compact_rejects_what_is_not_a_table():
    from allianceStats.errors import OptionError

    with pytest.raises(OptionError, match="tidy DataFrame"):
        compact([1, 2, 3])
