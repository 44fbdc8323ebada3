"""Language style matching (LSM) between the two speakers of a session (Ireland & Pennebaker, 2010).

For each function-word category *c* (personal pronouns, articles, prepositions, auxiliary verbs, conjunctions,
negations, quantifiers, high-frequency adverbs … in LIWC), with :math:`p_{1c}` and :math:`p_{2c}` the percentages
of the two speakers' words that fall in *c*,

.. math:: \\mathrm{LSM}_c = 1 - \\frac{|p_{1c} - p_{2c}|}{p_{1c} + p_{2c} + 0.0001},

and the session's LSM is the mean over the categories. The word lists are supplied by the user (LIWC's
dictionaries are licensed and not shipped): a mapping ``category -> words``, where a word ending in ``*`` matches
every word that starts with it (LIWC's convention). Text is lower-cased and split into words of letters and
apostrophes.

References
----------
Ireland, M. E., & Pennebaker, J. W. (2010). Language style matching in writing: Synchrony in essays,
correspondence, and poetry. *Journal of Personality and Social Psychology, 99*, 549-571. Gonzales, A. L.,
Hancock, J. T., & Pennebaker, J. W. (2010). Language style matching as a predictor of social dynamics in small
groups. *Communication Research, 37*, 3-19.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..data.checks import first_labels, require_columns
from ..errors import OptionError, SchemaError

__all__ = ["language_style_matching"]

_WORD = re.compile(r"[a-z']+")
EPSILON = 0.0001


def _matcher(words: Iterable[str]):
    exact = {w.lower() for w in words if not w.endswith("*")}
    stems = tuple(w[:-1].lower() for w in words if w.endswith("*"))
    return lambda token: token in exact or (bool(stems) and token.startswith(stems))


def language_style_matching(data: pd.DataFrame, *, categories: Mapping[str, Iterable[str]], text: str = "text",
                            speaker: str = "speaker", speakers: Sequence[str] = ("therapist", "client"),
                            client: str | None = "client", session: str = "session") -> pd.DataFrame:
    """Language style matching of two speakers per session (Ireland & Pennebaker, 2010; module docstring).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per utterance (or turn) with the speaker and the transcribed text; never modified.
    categories : mapping of str to list of str
        Function-word categories: name -> words (``"we*"`` matches every word starting with *we*).
    text, speaker : str
        Columns of the text and of the speaker.
    speakers : (str, str)
        The two speakers compared; rows of other speakers are ignored.
    client, session : str
        Columns identifying a session (``client=None`` when ``session`` alone does).

    Returns
    -------
    pandas.DataFrame
        One row per session: ``lsm`` (mean over categories), ``lsm_<category>``, and each speaker's word count
        ``words_<speaker>``. A category that neither speaker uses has LSM 1 by the formula (0 / 0.0001 = 0);
        a session where a speaker has no words has NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> talk = pd.DataFrame({"client": "a", "session": 1, "speaker": ["therapist", "client"],
    ...                      "text": ["I think we could try it", "We tried it and I failed"]})
    >>> cats = {"pronouns": ["i", "we", "it"], "conjunctions": ["and", "but"]}
    >>> out = language_style_matching(talk, categories=cats)
    >>> out[["lsm", "lsm_pronouns", "lsm_conjunctions", "words_client"]].round(4)
       lsm  lsm_pronouns  lsm_conjunctions  words_client
    0  0.5           1.0               0.0             6

    Both speak 50 % pronouns (3 of 6 words): 1 - 0 / 100.0001 = 1; conjunctions 0 % vs 16.7 %: 1 - 16.7 / 16.7001
    ≈ 0; the mean is 0.5.
    """
    keys = [c for c in (client, session) if c is not None]
    require_columns(data, keys + [text, speaker], where="language_style_matching")
    if not isinstance(categories, Mapping) or not categories:
        raise OptionError("categories= must be a non-empty mapping of category name -> list of words")
    bad = [name for name, words in categories.items() if isinstance(words, str) or not list(words)]
    if bad:
        raise OptionError(f"categories {first_labels(bad)} must each be a non-empty list of words (not one string)")
    if len(speakers) != 2 or speakers[0] == speakers[1]:
        raise OptionError(f"speakers={speakers!r} must name two different speakers")
    found = set(data[speaker].dropna().astype(str))
    missing = [s for s in speakers if s not in found]
    if missing:
        raise SchemaError([f"speaker(s) {missing} not found in column {speaker!r}; it has "
                           f"{first_labels(sorted(found))}"], source="language_style_matching")
    match = {name: _matcher(list(words)) for name, words in categories.items()}
    rows = []
    part = data.loc[data[speaker].astype(str).isin(speakers), keys + [speaker, text]]
    for key, grp in part.groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(keys, key))
        pct = {}
        for s in speakers:
            tokens = [t for line in grp.loc[grp[speaker].astype(str) == s, text].dropna().astype(str)
                      for t in _WORD.findall(line.lower())]
            row[f"words_{s}"] = len(tokens)
            pct[s] = {name: (100.0 * sum(map(m, tokens)) / len(tokens)) if tokens else np.nan
                      for name, m in match.items()}
        values = {}
        for name in match:
            p1, p2 = pct[speakers[0]][name], pct[speakers[1]][name]
            values[f"lsm_{name}"] = 1.0 - abs(p1 - p2) / (p1 + p2 + EPSILON)
        row["lsm"] = float(np.mean(list(values.values())))
        row.update(values)
        rows.append(row)
    cols = keys + ["lsm"] + [f"lsm_{n}" for n in match] + [f"words_{s}" for s in speakers]
    return pd.DataFrame(rows, columns=cols)
