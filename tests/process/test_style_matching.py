"""Language style matching (Ireland & Pennebaker, 2010), checked by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import OptionError, SchemaError
from allianceStats.process import language_style_matching

CATS = {"pronouns": ["i", "we*", "you"], "articles": ["a", "an", "the"]}


def test_by_hand():
    talk = pd.DataFrame({"client": ["a"] * 3 + ["b"] * 2, "session": 1,
                         "speaker": ["therapist", "client", "client", "therapist", "client"],
                         "text": ["You said the plan helps", "We tried the plan", "I guess",
                                  "A walk", "no"]})
    out = language_style_matching(talk, categories=CATS).set_index("client")
    # client a: therapist 5 words (you; the) -> 20 % pronouns, 20 % articles; client 6 words (we, i; the)
    # -> 33.3 % pronouns, 16.7 % articles
    p = 1 - abs(20 - 100 * 2 / 6) / (20 + 100 * 2 / 6 + 0.0001)
    a = 1 - abs(20 - 100 / 6) / (20 + 100 / 6 + 0.0001)
    assert out.loc["a", "lsm_pronouns"] == pytest.approx(p)
    assert out.loc["a", "lsm_articles"] == pytest.approx(a)
    assert out.loc["a", "lsm"] == pytest.approx((p + a) / 2)
    assert out.loc["a", "words_therapist"] == 5 and out.loc["a", "words_client"] == 6
    # client b: neither uses pronouns -> 1 - 0 / 0.0001 = 1; therapist 50 % articles, client 0 % -> ~0
    assert out.loc["b", "lsm_pronouns"] == 1.0 and out.loc["b", "lsm_articles"] == pytest.approx(0.0, abs=1e-5)


def test_wildcards_and_case():
    talk = pd.DataFrame({"client": "a", "session": 1, "speaker": ["therapist", "client"],
                         "text": ["WE'RE here", "We are"]})
    out = language_style_matching(talk, categories={"we": ["we*"]})
    assert out["lsm_we"].item() == pytest.approx(1.0)


def test_bad_input():
    talk = pd.DataFrame({"client": "a", "session": 1, "speaker": ["therapist"], "text": ["hi"]})
    with pytest.raises(SchemaError, match="speaker\\(s\\) \\['client'\\] not found"):
        language_style_matching(talk, categories=CATS)
    with pytest.raises(OptionError, match="non-empty list of words"):
        language_style_matching(talk, categories={"x": "word"})
    with pytest.raises(SchemaError, match="column 'text' not found"):
        language_style_matching(talk.drop(columns="text"), categories=CATS)
    both = pd.concat([talk, talk.assign(speaker="client", text="")])
    assert np.isnan(language_style_matching(both, categories=CATS)["lsm"].item())
