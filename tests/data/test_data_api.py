"""The public API of allianceStats.data after issue 11: one re-exporting package, glossary arguments (old names
warn and give the same result), the reliability result protocol, and the checking helpers added for it."""
import importlib
import warnings

import numpy as np
import pandas as pd
import pytest

import allianceStats as als
import allianceStats.data as data_pkg
from allianceStats.data import checks
from allianceStats.errors import OptionError, SchemaError
from allianceStats.results import Result

# the simulated items' 12 x 12 between-client moment matrix is not always positive definite (ULS fallback,
# DataWarning); that path is tested in test_scoring.py, here it is only noise
pytestmark = pytest.mark.filterwarnings("ignore::allianceStats.errors.DataWarning")

PUBLIC = ["read_sessions", "load_schema", "score", "reliability", "load_instrument", "list_instruments", "to_wide",
          "to_long", "load_example", "describe"]


def _items(n_clients=150, n_sessions=4, seed=2):
    rng = np.random.default_rng(seed)
    n = n_clients * n_sessions
    person = np.repeat(rng.normal(size=n_clients), n_sessions)
    state = rng.normal(size=n)
    frame = pd.DataFrame({f"wai_{i}": np.clip(np.rint(3 + person + 0.7 * state + rng.normal(size=n)
                                                      + np.repeat(rng.normal(0, .5, n_clients), n_sessions)), 1, 5)
                          for i in range(1, 13)})
    frame.insert(0, "client", np.repeat([f"c{j}" for j in range(n_clients)], n_sessions))
    frame.insert(1, "visit", np.tile(np.arange(1, n_sessions + 1), n_clients))
    return frame


@pytest.mark.parametrize("name", PUBLIC + list(checks.__all__))
def test_data_package_reexports_the_public_api(name):
    assert name in data_pkg.__all__
    value = getattr(data_pkg, name)
    if name in als.__all__:
        assert value is getattr(als, name)
    assert callable(value)


def test_no_data_module_shares_a_name_with_a_function():
    modules = {"read", "schema", "example", "description", "scoring", "internal_consistency", "instruments",
               "reshape", "checks"}
    assert not modules & set(data_pkg.__all__)
    for mod in modules:
        importlib.import_module(f"allianceStats.data.{mod}")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("allianceStats.data.describe")


@pytest.mark.parametrize("name", ["reliability", "ReliabilityResult", "cronbach_alpha", "omega_total"])
def test_reliability_moved_out_of_scoring_and_the_old_path_warns(name):
    from allianceStats.data import internal_consistency, scoring

    with pytest.warns(FutureWarning, match=f"allianceStats.data.scoring.{name} is renamed "
                                           f"allianceStats.data.internal_consistency.{name}"):
        old = getattr(scoring, name)
    assert old is getattr(internal_consistency, name)
    with pytest.raises(AttributeError):
        scoring.no_such_name  # noqa: B018


def test_reliability_old_arguments_warn_and_agree():
    d = _items()
    new = als.reliability(d, "wai", client="client", session="visit")
    with pytest.warns(FutureWarning, match="argument time= is renamed session="):
        old = als.reliability(d, "wai", client="client", time="visit")
    pd.testing.assert_frame_equal(new.table, old.table)
    with pytest.warns(FutureWarning, match="argument df= is renamed data="):
        old = als.reliability(df=d, instrument="wai", client="client", session="visit")
    pd.testing.assert_frame_equal(new.table, old.table)
    with pytest.raises(OptionError, match="session= needs client="):
        als.reliability(d, "wai", session="visit")
    with pytest.raises(OptionError, match="needs an instrument or items"):
        als.reliability(d)


def test_reliability_result_protocol():
    d = _items()
    d.loc[3, "wai_4"] = np.nan  # one incomplete row: left out of the goal scale and the total, not the others
    rel = als.reliability(d, "wai", client="client", session="visit")
    assert isinstance(rel, Result)
    assert rel.converged is rel.convergence.converged is True
    assert rel.n_obs == len(d) and isinstance(rel.n_obs, int)  # row 3 is still complete on task and bond
    assert rel.table.set_index(["scale", "level"]).loc[("goal", "single"), "n_obs"] == len(d) - 1
    assert rel.provenance.function == "reliability" and rel.provenance.elapsed_seconds >= 0
    assert rel.provenance.options["session"] == "visit"
    assert rel.conf_level == 0.95 and "Reliability of wai_sr" in rel.summary()


def test_score_old_argument_warns_and_agrees():
    d = _items()
    with pytest.warns(FutureWarning, match="argument df= is renamed data="):
        old = als.score(df=d, instrument="wai")
    pd.testing.assert_frame_equal(als.score(d, "wai"), old)
    with pytest.raises(OptionError, match="items: 3 column names given"):
        als.score(d, "wai", items=["a", "b", "c"])
    with pytest.raises(SchemaError, match="must be a pandas DataFrame"):
        als.score(d.to_numpy(), "wai")


def test_score_warning_points_at_the_callers_line():
    d = als.score(_items(), "wai")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        als.score(d, "wai")
    assert caught and caught[0].filename == __file__


def test_describe_glossary_arguments():
    example = als.load_example()
    new = als.describe(example)
    with pytest.warns(FutureWarning, match="argument time= is renamed session="):
        old = als.describe(example, time="session")
    pd.testing.assert_frame_equal(new.overview, old.overview)
    with pytest.warns(FutureWarning, match="argument df= is renamed data="):
        old = als.describe(df=example)
    pd.testing.assert_frame_equal(new.measures, old.measures)
    renamed = example.rename(columns={"session": "visit"})
    pd.testing.assert_frame_equal(als.describe(renamed, session="visit").overview, new.overview)
    one = als.describe(example, "alliance")
    assert one.measures.index.tolist() == ["alliance"]
    with pytest.raises(SchemaError, match="column 'nope' not found"):
        als.describe(example, ["nope"])
    with pytest.raises(SchemaError, match="column 'session' not found"):
        als.describe(renamed)


@pytest.mark.parametrize("call,needle", [
    (lambda: checks.check_number("k", "2"), "k='2' must be a number"),
    (lambda: checks.check_number("k", np.inf, minimum=0), "k=inf must be a number of at least 0"),
    (lambda: checks.check_number("k", True), "k=True"),
    (lambda: checks.check_number("w", 5, maximum=3), "w=5 must be a number at most 3"),
    (lambda: checks.check_number("w", 0, minimum=0, maximum=1, strict=True), "between 0 and 1 \\(exclusive\\)"),
    (lambda: checks.check_fraction("q", 1.0), "q=1.0 must be a number between 0 and 1"),
])
def test_number_checks_raise_option_errors(call, needle):
    with pytest.raises(OptionError, match=needle):
        call()


def test_number_checks_return_floats():
    assert checks.check_number("k", np.int64(2), minimum=0) == 2.0
    assert isinstance(checks.check_number("k", 2), float)
    assert checks.check_fraction("q", 0.5) == 0.5
