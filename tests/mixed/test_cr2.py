"""Cluster-robust CR2 standard errors with Satterthwaite df, as clubSandwich 0.5.8's coef_test(vcov = "CR2").

Fixture: tests/mixed/fixtures/habits (12 therapists randomised to a training programme; random intercepts for
therapists and clients; a random slope). Tolerances: estimates 1e-5 relative, standard errors and the CR2
covariance 1e-5 relative, Satterthwaite df 1e-5 relative, p-values 1e-4 relative.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import OptionError
from allianceStats.mixed import coef_test, fit_mlm

HERE = Path(__file__).resolve().parent / "fixtures" / "habits"
REF = json.loads((HERE / "habits_reference.json").read_text())


@pytest.fixture(scope="module")
def habits():
    return pd.read_csv(HERE / "habits.csv")


@pytest.mark.parametrize("name", list(REF["cr2"]))
def test_cr2_matches_clubsandwich(habits, name):
    ref = REF["cr2"][name]
    fit = fit_mlm(habits, ref["formula"])
    res = coef_test(fit)                                # clusters: the outermost factor, as clubSandwich
    assert res.attrs["cluster"] == ref["cluster"] and res.attrs["n_clusters"] == ref["n_clusters"]
    expected = pd.DataFrame(ref["table"])
    got = res.set_index("term").loc[expected.term]
    np.testing.assert_allclose(got.estimate, expected.estimate, rtol=1e-5)
    np.testing.assert_allclose(got.std_error, expected.std_error, rtol=1e-5)
    np.testing.assert_allclose(got.df, expected.df, rtol=1e-5)
    np.testing.assert_allclose(got.p_value, expected.p_value, rtol=1e-4)
    V = np.array(ref["vcov"])
    assert np.max(np.abs(res.attrs["vcov"].to_numpy() - V)) < 1e-5 * np.abs(V).max()
    robust = fit_mlm(habits, ref["formula"], vcov="CR2")
    pd.testing.assert_frame_equal(robust.params, res)
    assert robust.provenance.options["vcov"] == "CR2" and "CR2" in robust.summary()


def test_clusters_can_be_named_and_must_nest_the_random_effects(habits):
    fit = fit_mlm(habits, "outcome ~ training + session0 + (1 | therapist/client)")
    by_name = coef_test(fit, therapist="therapist")
    by_default = coef_test(fit)
    pd.testing.assert_frame_equal(by_name, by_default)
    sites = coef_test(fit, therapist=habits["site"])   # labels indexed like the data: four sites
    assert sites.attrs["n_clusters"] == 4 and sites.attrs["cluster"] == "site"
    with pytest.raises(OptionError, match="not nested"):
        coef_test(fit, client="client")                 # client ids are reused across therapists
    with pytest.raises(OptionError, match="not both"):
        coef_test(fit, therapist="therapist", client="client")
    with pytest.raises(OptionError, match="cannot be combined"):
        fit_mlm(habits, "outcome ~ training + (1 | therapist)", vcov="CR2", ddf="kenward-roger")
    with pytest.raises(OptionError, match="weights"):
        fit_mlm(habits, "outcome ~ training + (1 | therapist)", vcov="CR2", weights="w")
