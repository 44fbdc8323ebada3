"""Behaviour code sets (MISC 2.5, MITI 4, client language) and their published summary scores.

A code set is a small JSON file in ``data_schemas/codes/`` (checked against ``code_set.schema.json``): each code
with its speaker (``therapist`` or ``client``) and the categories the summary scores count (``reflection``,
``question``, ``mi_adherent``, ``change_talk`` …), and the summary scores as published in the coding manuals:

- MISC 2.5 (Houck, Moyers, Miller, Glynn & Hallgren, 2010): reflection-to-question ratio (RES + REC) / (QUO + QUC),
  percent complex reflections 100 REC / (RES + REC), percent open questions, MI-consistent (ADP + AF + EC + RCP +
  SU) and MI-inconsistent (ADW + CO + DI + RCW + WA) counts, percent MI-consistent, percent change talk
  100 CT / (CT + ST) with change talk every '+' and sustain talk every '-' client code;
- MITI 4.2.1 (Moyers, Manuel & Ernst, 2014): reflection-to-question ratio (SR + CR) / Q, percent complex
  reflections 100 CR / (SR + CR), total MI-adherent (SEEK + AF + AUTO) and MI non-adherent (CON + PERSUADE);
- client language (MISC 2.5 client codes collapsed to CT / ST / FN): percent change talk.

A ratio or percent whose denominator is zero in a session is missing (NaN), never 0 or infinity.

Example
-------
>>> from allianceStats.process.codes import load_code_set
>>> miti = load_code_set("miti_4")
>>> miti.codes_in("reflection"), miti.speaker_of("CR")
(('SR', 'CR'), 'therapist')
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ..data.checks import first_labels, require_columns
from ..data.schema import schema_dir
from ..errors import SchemaError

__all__ = ["CodeSet", "load_code_set", "list_code_sets", "score_codes"]


def codes_dir() -> Path:
    """Folder of the shipped code sets, ``<schema_dir>/codes``.

    >>> (codes_dir() / "miti_4.json").is_file()
    True
    """
    return schema_dir() / "codes"


def list_code_sets() -> list[str]:
    """Names of the shipped code sets (``data_schemas/codes/*.json``).

    Returns
    -------
    list of str

    Examples
    --------
    >>> list_code_sets()
    ['client_language', 'misc_2.5', 'miti_4']
    """
    return sorted(p.name.removesuffix(".json") for p in codes_dir().glob("*.json")
                  if p.name != "code_set.schema.json")


@dataclass(frozen=True)
class CodeSet:
    """A set of behaviour codes: ``codes`` (code -> speaker, name, categories) and ``summary_scores``."""

    name: str
    codes: Mapping[str, Mapping[str, Any]]
    summary_scores: tuple[Mapping[str, Any], ...] = ()
    source: str = ""

    @classmethod
    def from_codes(cls, codes: Iterable[Any], name: str = "<list>") -> CodeSet:
        """A code set from a plain list of codes (no speakers, no summary scores).

        >>> CodeSet.from_codes(["A", "B"]).labels
        ('A', 'B')
        """
        labels = list(dict.fromkeys(str(c) for c in codes))
        return cls(name=name, codes=MappingProxyType({c: MappingProxyType({"code": c, "speaker": None,
                                                                            "categories": ()}) for c in labels}))

    @classmethod
    def union(cls, sets: Sequence[CodeSet]) -> CodeSet:
        """The codes and summary scores of several sets together (e.g. MITI 4 clinician codes + client language).

        Raises :class:`SchemaError` if one code means different things in two sets.

        >>> u = CodeSet.union([load_code_set("miti_4"), load_code_set("client_language")])
        >>> u.name, "CT" in u.labels
        ('miti_4+client_language', True)
        """
        merged: dict[str, Mapping[str, Any]] = {}
        clashes = []
        for s in sets:
            for c, spec in s.codes.items():
                if c in merged and (merged[c].get("speaker"), tuple(merged[c].get("categories", ()))) != \
                        (spec.get("speaker"), tuple(spec.get("categories", ()))):
                    clashes.append(f"code {c!r} is defined differently in two of the code sets "
                                   f"{[x.name for x in sets]}; use one of them, or rename the code in one")
                merged.setdefault(c, spec)
        if clashes:
            raise SchemaError(clashes, source="CodeSet.union")
        return cls(name="+".join(s.name for s in sets), codes=MappingProxyType(merged),
                   summary_scores=tuple(sc for s in sets for sc in s.summary_scores),
                   source="; ".join(s.source for s in sets if s.source))

    @property
    def labels(self) -> tuple[str, ...]:
        """The codes, in file order."""
        return tuple(self.codes)

    def speaker_of(self, code: str) -> str | None:
        """The speaker who produces ``code`` (``None`` if the set does not say)."""
        return self.codes[code].get("speaker")

    def codes_in(self, category: str) -> tuple[str, ...]:
        """The codes counted in ``category`` (e.g. ``"reflection"``)."""
        return tuple(c for c, spec in self.codes.items() if category in spec.get("categories", ()))

    def check(self, codes: pd.Series, speakers: pd.Series | None = None, *, column: str = "code",
              speaker_column: str = "speaker") -> list[str]:
        """Problems (one line each, rows 1-based) with a column of codes and, if given, their speakers; ``column``
        and ``speaker_column`` are the names the messages use."""
        problems = []
        values = codes.astype(str).where(codes.notna(), None)
        unknown = ~values.isin(self.labels) & codes.notna()
        for code in pd.unique(values[unknown]):
            rows = np.flatnonzero((values == code).to_numpy()) + 1
            shown = ", ".join(map(str, rows[:10])) + (f" … ({len(rows)} rows in all)" if len(rows) > 10 else "")
            problems.append(f"column {column!r}: unknown code {code!r} (rows {shown}) — not in code set {self.name!r}; "
                            f"its codes are {first_labels(sorted(self.labels), limit=40)}.")
        if speakers is not None:
            expected = values.map({c: s.get("speaker") for c, s in self.codes.items()})
            wrong = (expected.notna() & speakers.notna() & (expected != speakers.astype(str))).to_numpy()
            for code in pd.unique(values[wrong]):
                rows = np.flatnonzero(wrong & (values == code).to_numpy()) + 1
                shown = ", ".join(map(str, rows[:10])) + (f" … ({len(rows)} rows)" if len(rows) > 10 else "")
                problems.append(f"column {speaker_column!r}: code {code!r} belongs to the {self.speaker_of(code)} in "
                                f"code set {self.name!r} but is given to another speaker at rows {shown}; correct "
                                "the speaker or the code.")
        return problems


def load_code_set(name: str | Path) -> CodeSet:
    """Load a shipped code set by name (``"misc_2.5"``, ``"miti_4"``, ``"client_language"``) or a JSON file.

    Parameters
    ----------
    name : str or pathlib.Path
        A shipped code set's name, or the path of a JSON code set; the file is checked against
        ``data_schemas/codes/code_set.schema.json`` (every problem listed in one :class:`SchemaError`).

    Returns
    -------
    CodeSet

    Examples
    --------
    >>> load_code_set("misc_2.5").codes_in("mi_inconsistent")
    ('ADW', 'CO', 'DI', 'RCW', 'WA')
    """
    path = Path(name)
    if path.suffix != ".json":
        path = codes_dir() / f"{name}.json"
    if not path.is_file():
        raise SchemaError([f"code set {str(name)!r} not found (looked for {path}); shipped code sets: "
                           f"{list_code_sets()}, or pass the path of a JSON code set"], source="load_code_set")
    raw = json.loads(path.read_text(encoding="utf-8"))
    import jsonschema

    schema = json.loads((codes_dir() / "code_set.schema.json").read_text(encoding="utf-8"))
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(raw), key=lambda e: list(e.path))
    if errors:
        raise SchemaError([f"{'/'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in errors],
                          source=str(path))
    codes = MappingProxyType({c["code"]: MappingProxyType({**c, "categories": tuple(c["categories"])})
                              for c in raw["codes"]})
    return CodeSet(name=raw["name"], codes=codes, summary_scores=tuple(MappingProxyType(s)
                                                                        for s in raw["summary_scores"]),
                   source=raw["source"])


def score_codes(data: pd.DataFrame, codes: str | Sequence[str] | CodeSet = "miti_4", *,
                code: str = "code", client: str = "client", session: str = "session") -> pd.DataFrame:
    """Session-level behaviour counts and the code set's published summary scores.

    One row per (client, session) with a column ``n_<code>`` for every code of the set, then every summary
    score of the set (module docstring): a *count* is the number of events in its categories, a *ratio* the
    count of the numerator categories over the count of the denominator categories, a *percent* that ratio
    × 100. A ratio or percent with a zero denominator is NaN. The result is one row per session and can be
    merged onto a session table (``sessions.merge(scores, on=["client", "session"])``) to use behaviour rates as
    session-level predictors of alliance and outcome.

    Parameters
    ----------
    data : pandas.DataFrame
        Coded events (see :func:`~allianceStats.process.read_events`), never modified.
    codes : str, list of str or CodeSet
        The code set(s); a list of names is their union (``["miti_4", "client_language"]``).
    code, client, session : str
        Column names.

    Returns
    -------
    pandas.DataFrame

    References
    ----------
    Houck, J. M., Moyers, T. B., Miller, W. R., Glynn, L. H., & Hallgren, K. A. (2010). *Motivational Interviewing
    Skill Code (MISC) 2.5*. University of New Mexico. Moyers, T. B., Manuel, J. K., & Ernst, D. (2014).
    *Motivational Interviewing Treatment Integrity Coding Manual 4.2.1*.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"client": "a", "session": 1, "order": range(1, 7),
    ...                    "code": ["Q", "SR", "CT", "CR", "ST", "CR"]})
    >>> s = score_codes(ev, ["miti_4", "client_language"])
    >>> s[["reflection_to_question", "percent_complex_reflections", "percent_change_talk"]].round(2)
       reflection_to_question  percent_complex_reflections  percent_change_talk
    0                     3.0                        66.67                 50.0
    """
    from .events import _as_code_set

    code_set = _as_code_set(codes)
    require_columns(data, [code, client, session], where="score_codes")
    problems = code_set.check(data[code], column=code)
    if problems:
        raise SchemaError(problems, source="score_codes")
    keys = [client, session]
    counts = pd.crosstab([data[client], data[session]], pd.Categorical(data[code].astype(str),
                                                                     categories=list(code_set.labels)),
                         dropna=False)
    counts = counts.loc[counts.sum(axis=1) > 0]
    counts.columns = [f"n_{c}" for c in code_set.labels]
    out = counts.reset_index()
    out.columns = keys + list(counts.columns)

    def total(categories):
        members = {c for cat in categories for c in code_set.codes_in(cat)}
        return out[[f"n_{c}" for c in code_set.labels if c in members]].sum(axis=1).to_numpy(dtype=float)

    for score in code_set.summary_scores:
        num = total(score["numerator"])
        if score["type"] == "count":
            out[score["name"]] = num.astype(np.int64)
            continue
        den = total(score["denominator"])
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(den > 0, num / den, np.nan)
        out[score["name"]] = value * (100.0 if score["type"] == "percent" else 1.0)
    return out
