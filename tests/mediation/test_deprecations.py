"""Old mediation names keep working until 0.3.0: each warns (FutureWarning naming the new name) and gives the
same numbers as the new call. allianceStats.mediation is always the subpackage."""
from __future__ import annotations

import importlib
import warnings

import numpy as np
import pandas as pd
import pytest

import allianceStats as als
from allianceStats.mediation.multilevel import simulate_111


@pytest.fixture(scope="module")
def single(paths_data):
    return paths_data[["support", "autonomy", "motivation"]]


def test_allianceStats_mediation_is_always_the_subpackage():
    sub = importlib.import_module("allianceStats.mediation")
    assert als.mediation is sub and sub.__name__ == "allianceStats.mediation"
    import allianceStats.mediation as mm

    assert mm.hypotheses is als.hypotheses and callable(mm.hypotheses)  # the function; the module is 'registry'
    assert "mediation" not in als._LAZY and "mediation" in als.__all__
    for new in ("fit_mediation", "fit_multilevel_mediation", "fit_wave_mediation", "evaluate_hypotheses"):
        assert new in als.__all__
    renamed = {"multilevel_mediation": "fit_multilevel_mediation", "wave_mediation": "fit_wave_mediation",
               "test_hypotheses": "evaluate_hypotheses"}
    assert {old: als._RENAMED[old] for old in renamed} == renamed and not set(renamed) & set(als.__all__)


def test_calling_the_subpackage_warns_and_forwards_to_fit_mediation(single):
    with pytest.warns(FutureWarning, match=r"allianceStats.mediation\(\) is renamed fit_mediation\(\)") as caught:
        old = als.mediation(single, "support", ["autonomy"], "motivation", n_draws=200, seed=1)
    assert caught[0].filename == __file__
    new = als.fit_mediation(single, "support", ["autonomy"], "motivation", n_draws=200, seed=1)
    pd.testing.assert_frame_equal(old.effects, new.effects)


def test_old_argument_names_warn_and_give_the_same_numbers(single, paths_data):
    clustered = paths_data.assign(client=np.arange(len(paths_data)) // 4)
    new = als.fit_mediation(clustered, "support", "autonomy", "motivation", client="client", n_draws=300,
                            conf_level=0.9, seed=2)
    with pytest.warns(FutureWarning) as caught:
        old = als.mediation(clustered, "support", "autonomy", "motivation", cluster="client", n_boot=300,
                            level=0.9, seed=2)
    messages = " | ".join(str(w.message) for w in caught)
    for text in ("fit_mediation()", "cluster= is renamed client=", "n_boot= is renamed n_draws=",
                 "level= is renamed conf_level="):
        assert text in messages
    pd.testing.assert_frame_equal(old.effects, new.effects)
    with pytest.warns(FutureWarning, match="MediationResult.level is renamed MediationResult.conf_level"):
        assert new.level == 0.9
    with pytest.warns(FutureWarning, match="n_boot"):
        assert new.n_boot == 300
    with pytest.warns(FutureWarning, match="n_clusters"):
        assert new.n_clusters == new.n_clients == len(paths_data) // 4
    with pytest.warns(FutureWarning, match="ci_method"):
        assert new.ci_method == "percentile"
    with pytest.raises(als.errors.OptionError, match="got both level= .* and conf_level="):
        als.fit_mediation(single, "support", "autonomy", "motivation", level=0.9, conf_level=0.9)


def test_old_subpackage_imports_warn():
    from allianceStats.mediation import mediation as old_mediation

    with pytest.warns(FutureWarning, match=r"mediation\(\) is renamed fit_mediation\(\)"):
        old_mediation(pd.DataFrame({"x": np.arange(20.0), "m": np.arange(20.0) ** 0.5,
                                    "y": np.sin(np.arange(20.0))}), "x", "m", "y", n_draws=100, seed=1)
    from allianceStats.mediation import test_hypotheses as old_runner

    assert old_runner.__test__ is False and old_runner.__deprecated_alias_of__ == "evaluate_hypotheses"


def test_multilevel_mediation_old_name_and_arguments():
    data, _ = simulate_111(30, 5, seed=4)
    new = als.fit_multilevel_mediation(data, "x", "m", "y", client="client", ci="percentile", n_draws=20,
                                       conf_level=0.9, random_slopes=False, seed=3)
    with pytest.warns(FutureWarning) as caught:
        old = als.multilevel_mediation(data, "x", "m", "y", cluster="client", method="bootstrap", n_draws=20,
                                       level=0.9, random_slopes=False, seed=3)
    messages = " | ".join(str(w.message) for w in caught)
    for text in ("multilevel_mediation() is renamed fit_multilevel_mediation()", "cluster= is renamed client=",
                 "method= is renamed ci=", "ci='bootstrap' is renamed ci='percentile'", "level= is renamed"):
        assert text in messages
    pd.testing.assert_frame_equal(old.effects, new.effects)
    with pytest.warns(FutureWarning, match="method is renamed"):
        assert new.method == "bootstrap"  # the old attribute keeps its old value
    with pytest.warns(FutureWarning, match="n_clusters"):
        assert new.n_clusters == 30


def test_wave_mediation_old_name_and_arguments(lavaan_waves):
    data, _ = lavaan_waves
    long = data.rename(columns={"session": "wave"})
    new = als.fit_wave_mediation(long, "support", "needs", "motivation", session="wave", n_draws=500,
                                 conf_level=0.9, seed=2)
    with pytest.warns(FutureWarning) as caught:
        old = als.wave_mediation(long, "support", "needs", "motivation", wave="wave", n_draws=500, level=0.9,
                                 seed=2)
    messages = " | ".join(str(w.message) for w in caught)
    assert "wave_mediation() is renamed fit_wave_mediation()" in messages and "wave= is renamed session=" in messages
    pd.testing.assert_frame_equal(old.effects, new.effects)
    with pytest.warns(FutureWarning) as caught, pytest.raises(als.errors.OptionError, match="n_draws=10"):
        als.fit_wave_mediation(long, "support", "needs", "motivation", session="wave", ci="bootstrap", n_boot=10)
    assert {"ci='bootstrap' is renamed ci='percentile'", "n_boot= is renamed n_draws="} <= {
        str(w.message).split(";")[0].split("argument ")[-1] for w in caught}
    with pytest.warns(FutureWarning, match="WaveMediationResult.ci_method"):
        assert new.ci_method == "monte_carlo"


def test_test_hypotheses_old_name_and_arguments(paths_data):
    data = paths_data.assign(client=np.arange(len(paths_data)) // 5, session=np.arange(len(paths_data)) % 5 + 1)
    mapping = {"alliance": "alliance", "needs": "needs", "empathic_attunement": "support",
               "relatedness": "relatedness"}
    new = als.evaluate_hypotheses(data, mapping, ids=["B1", "C2"], client="client", n_draws=300, conf_level=0.9,
                                  seed=4)
    with pytest.warns(FutureWarning) as caught:
        old = als.test_hypotheses(data, mapping, ids=["B1", "C2"], cluster="client", n_boot=300, level=0.9, seed=4)
    messages = " | ".join(str(w.message) for w in caught)
    assert "test_hypotheses() is renamed evaluate_hypotheses()" in messages and "n_boot= is renamed" in messages
    pd.testing.assert_frame_equal(old.table, new.table)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert new.table["supported"].all()
