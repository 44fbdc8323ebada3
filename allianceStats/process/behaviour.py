"""Therapist-behaviour rates per session, and session-level scores merged onto the session table.

Process research asks whether what the therapist does in a session (reflecting, asking, affirming, confronting)
goes with the alliance and the client's need satisfaction in that session. The coded events give the behaviour
(one row per utterance); the ratings are one row per session. Two steps join them:

1. :func:`behaviour_rates` — for every session, the rate of each behaviour category of a code set (MITI 4:
   ``reflection``, ``complex_reflection``, ``question``, ``mi_adherent``, ``mi_non_adherent``; MISC 2.5 adds
   ``open_question``, ``mi_consistent``, ``mi_inconsistent``; client codes: ``change_talk``, ``sustain_talk``).
   A rate is the number of utterances coded in the category divided by the number of utterances of the speaker
   who produces it (``per="utterance"``: reflections per therapist utterance), or by the session's length in
   minutes (``per="minute"``). Unlike the manuals' summary scores (:func:`~allianceStats.process.score_codes`:
   counts, which grow with session length, and ratios such as reflections per question), a rate per utterance
   is comparable across sessions of different lengths and is the share of the therapist's talk given to the
   behaviour (Moyers et al. 2016 report MITI 4 behaviour counts for 20-minute segments for the same reason).
2. :func:`merge_session_scores` — any table of session-level scores (rates, summary scores, synchrony, style
   matching) onto the session table, one row per session, refusing silently lost sessions: sessions in one table
   and not the other are listed (or, on request, dropped with a warning, or kept with missing scores).

Then split a rate into its within-client and between-client parts with :func:`allianceStats.decompose` and use
it as a session-level predictor: ``fit_mlm(table, "alliance ~ reflection_rate_within + reflection_rate_between +
(1 | therapist) + (1 | client)")``, the registry's C1 (behaviour -> alliance within client), or a 1-1-1 mediation
behaviour -> alliance -> needs (``analyses/12_behaviour_alliance_needs.py``).

References
----------
Moyers, T. B., Rowell, L. N., Manuel, J. K., Ernst, D., & Houck, J. M. (2016). The Motivational Interviewing
Treatment Integrity code (MITI 4): Rationale, preliminary reliability and validity. *Journal of Substance Abuse
Treatment* 65, 36-42.
Miller, W. R., Moyers, T. B., Ernst, D., & Amrhein, P. (2003). *Manual for the Motivational Interviewing Skill
Code (MISC), version 2.0*. University of New Mexico, Center on Alcoholism, Substance Abuse and Addictions;
version 2.5: Houck, J. M., Moyers, T. B., Miller, W. R., Glynn, L. H., & Hallgren, K. A. (2010).
Moyers, T. B., Martin, T., Houck, J. M., Christopher, P. J., & Tonigan, J. S. (2009). From in-session behaviors to
drinking outcomes: A causal chain for motivational interviewing. *Journal of Consulting and Clinical Psychology*
77(6), 1113-1124.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..data.checks import check_choice, first_labels, require_columns, require_numeric
from ..errors import DataWarning, OptionError, SchemaError
from .codes import CodeSet, score_codes

__all__ = ["behaviour_rates", "merge_session_scores", "RATE_UNITS", "UNMATCHED"]

#: what a rate is divided by: the speaker's utterances in the session, or the session's length in minutes
RATE_UNITS = ("utterance", "minute")
#: what :func:`merge_session_scores` does with sessions that are in one table and not the other
UNMATCHED = ("error", "keep", "drop")
_SHOWN = 10  # sessions quoted in a message


def _categories(code_set: CodeSet) -> dict[str, tuple[str, ...]]:
    """Category -> its codes, in the order the categories first appear in the code set."""
    names = dict.fromkeys(cat for spec in code_set.codes.values() for cat in spec.get("categories", ()))
    return {cat: code_set.codes_in(cat) for cat in names}


def behaviour_rates(data: pd.DataFrame, codes: str | Sequence[str] | CodeSet = "miti_4", *, per: str = "utterance",
                    code: str = "code", client: str = "client", session: str = "session", onset: str = "onset",
                    offset: str = "offset") -> pd.DataFrame:
    """Rate of each behaviour category of a code set in every session: a session-level predictor.

    For session *s* and category *C* (e.g. ``reflection`` = MITI 4 ``SR`` + ``CR``) with :math:`n_{C,s}` coded
    utterances in *C*,

    .. math:: \\mathrm{rate}_{C,s} = n_{C,s} / d_s,

    where :math:`d_s` is the number of utterances in session *s* of the speaker who produces the codes of *C*
    (``per="utterance"``: therapist utterances for therapist behaviours, client utterances for change talk; all
    utterances if the code set gives no speaker, or the category's codes belong to both speakers), or the length
    of the session in minutes, last ``offset`` minus first ``onset`` over 60 (``per="minute"``). A rate whose
    denominator is 0 is NaN. Codes count as in :func:`~allianceStats.process.score_codes` (same categories, same
    validation); the manuals define the categories (MITI 4: Moyers et al. 2016; MISC: Miller et al. 2003,
    Houck et al. 2010 — module docstring).

    Parameters
    ----------
    data : pandas.DataFrame
        Coded events, one row per utterance (:func:`~allianceStats.process.read_events`); never modified.
    codes : str, list of str or CodeSet
        The code set(s) (a list of names is their union, e.g. ``["miti_4", "client_language"]``); it must define
        categories (a plain list of codes has none).
    per : {"utterance", "minute"}
        Denominator of the rates (:data:`RATE_UNITS`).
    code, client, session : str
        Column names.
    onset, offset : str
        Times in seconds; used (and required) only with ``per="minute"``.

    Returns
    -------
    pandas.DataFrame
        One row per (client, session) with coded events, sorted by them: ``client, session``, ``utterances``
        (all coded utterances), ``<speaker>_utterances`` for each speaker of the code set, ``minutes`` (with
        ``per="minute"``), then ``<category>_rate`` for every category. Merge it onto the session ratings with
        :func:`merge_session_scores`.

    Raises
    ------
    SchemaError
        An empty table, missing columns, utterances without a code, client or session, unknown codes (with their
        rows), or (``per="minute"``) missing, non-numeric, negative or reversed times; every problem at once.
    OptionError
        ``per`` is not one of :data:`RATE_UNITS`, ``codes`` is not a code-set name, list or CodeSet, the code set
        has no categories, or a column name is None.

    Examples
    --------
    >>> import pandas as pd
    >>> from allianceStats.process import behaviour_rates
    >>> ev = pd.DataFrame({"client": "a", "session": [1] * 6 + [2] * 4, "order": [*range(1, 7), *range(1, 5)],
    ...                    "code": ["Q", "CT", "SR", "CT", "CR", "ST", "Q", "FN", "GI", "ST"]})
    >>> rates = behaviour_rates(ev, ["miti_4", "client_language"])
    >>> print(rates[["session", "therapist_utterances", "reflection_rate", "question_rate", "change_talk_rate"]]
    ...       .round(3).to_string(index=False))
     session  therapist_utterances  reflection_rate  question_rate  change_talk_rate
           1                     3            0.667          0.333             0.667
           2                     2            0.000          0.500             0.000
    """
    from .events import _as_code_set

    where = "behaviour_rates"
    check_choice("per", per, RATE_UNITS)
    for role, name in (("code", code), ("client", client), ("session", session)):
        if name is None:
            raise OptionError(f"{role}=None: behaviour_rates needs the name of the {role} column (a session is "
                              "identified by client and session)")
    if not (isinstance(codes, (str, CodeSet)) or (isinstance(codes, Sequence) and not isinstance(codes, bytes))):
        raise OptionError(f"codes={codes!r} must be a code-set name (e.g. 'miti_4'), a list of names (e.g. "
                          "['miti_4', 'client_language']) or a CodeSet")
    code_set = _as_code_set(codes)
    categories = _categories(code_set)
    if not categories:
        raise OptionError(f"behaviour_rates(): code set {code_set.name!r} defines no categories, so there is "
                          "nothing to count; use a shipped code set (list_code_sets()) or a JSON code set whose "
                          "codes list their categories")
    timed = per == "minute"
    require_columns(data, [code, client, session, *((onset, offset) if timed else ())], where=where)
    _flat_columns(data, where, "data")
    if len(data) == 0:
        raise SchemaError(["data is empty (no rows); expected one row per coded utterance"], source=where)
    problems = code_set.check(data[code], column=code)
    for role, name in (("code", code), ("client", client), ("session", session)):
        missing = data[name].isna().to_numpy()
        if missing.any():
            problems.append(f"column {name!r}: {int(missing.sum())} utterance(s) without a {role} (rows "
                            f"{first_labels((np.flatnonzero(missing) + 1).tolist())}); every utterance needs one — "
                            "drop or fill those rows (read_events lists every such problem)")
    if timed:
        try:
            require_numeric(data, [onset, offset], where=where, finite=True)
        except SchemaError as err:
            problems += err.problems
        else:
            gaps = data[[onset, offset]].isna().any(axis=1).to_numpy()
            if gaps.any():
                problems.append(f"columns {onset!r}/{offset!r}: {int(gaps.sum())} utterance(s) without a time "
                                f"(rows {first_labels((np.flatnonzero(gaps) + 1).tolist())}); per='minute' needs the "
                                "session's first onset and last offset — fill them, or use per='utterance'")
            on, off = data[onset].to_numpy(dtype=float), data[offset].to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                wrong = (on < 0) | (off < on)
            if wrong.any():
                problems.append(f"columns {onset!r}/{offset!r}: {int(wrong.sum())} utterance(s) with a negative time "
                                f"or an offset before the onset (rows "
                                f"{first_labels((np.flatnonzero(wrong) + 1).tolist())}); times are seconds from the "
                                "start of the session, 0 <= onset <= offset")
    if problems:
        raise SchemaError(problems, source=where)
    counts = score_codes(data, code_set, code=code, client=client, session=session)
    n = {c: counts[f"n_{c}"].to_numpy(dtype=float) for c in code_set.labels}
    speakers = list(dict.fromkeys(s for s in (code_set.speaker_of(c) for c in code_set.labels) if s is not None))
    out = counts[[client, session]].copy()
    out["utterances"] = np.sum([n[c] for c in code_set.labels], axis=0).astype(np.int64)
    for s in speakers:
        out[f"{s}_utterances"] = np.sum([n[c] for c in code_set.labels if code_set.speaker_of(c) == s],
                                        axis=0).astype(np.int64)
    if timed:
        span = data.groupby([client, session], sort=True).agg(first=(onset, "min"), last=(offset, "max"))
        out["minutes"] = ((span["last"] - span["first"]) / 60.0).to_numpy()
    for cat, members in categories.items():
        who = {code_set.speaker_of(c) for c in members}
        denominator = out["minutes"] if timed else out[f"{who.pop()}_utterances" if len(who) == 1 and None not in who
                                                       else "utterances"]
        den = denominator.to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{cat}_rate"] = np.where(den > 0, np.sum([n[c] for c in members], axis=0) / den, np.nan)
    return out.reset_index(drop=True)


def _flat_columns(frame: pd.DataFrame, where: str, what: str) -> None:
    if isinstance(frame.columns, pd.MultiIndex):
        raise SchemaError([f"{what} has several levels of column names (a MultiIndex); flatten them first, e.g. "
                           f"{what}.columns = ['_'.join(map(str, c)).strip('_') for c in {what}.columns]"],
                          source=where)


def _keys(frame: pd.DataFrame, keys: list[str]) -> pd.MultiIndex:
    return pd.MultiIndex.from_frame(frame[keys])


def _sessions(index: pd.MultiIndex, mask: np.ndarray) -> str:
    chosen = [tuple(k) for k in index[mask]]
    return first_labels(chosen, limit=_SHOWN) + (f" ({len(chosen)} in all)" if len(chosen) > _SHOWN else "")


def merge_session_scores(data: pd.DataFrame, scores: pd.DataFrame, *, client: str = "client",
                         session: str = "session", unmatched: str = "error") -> pd.DataFrame:
    """Session-level scores (behaviour rates, summary scores, synchrony …) merged onto a session table.

    A one-to-one merge on (client, session): every session of ``data`` gets the columns of ``scores``. Sessions
    that are in one table and not in the other usually mean mismatched identifiers (``"c01"`` vs ``"c001"``,
    sessions numbered from 0 in one table), so by default they are an error that lists them; when only some
    sessions were coded (MI process studies often code a random sample of sessions), ``unmatched="keep"`` keeps
    every session of ``data`` with missing scores where it was not coded, and ``"drop"`` keeps the sessions in
    both tables with a :class:`~allianceStats.errors.DataWarning` counting what was left out. Scored sessions
    missing from ``data`` are an error unless ``unmatched="drop"``. Used to put therapist-behaviour rates
    (:func:`behaviour_rates`) next to session ratings of alliance and outcome (Moyers et al. 2009; module
    docstring).

    Parameters
    ----------
    data : pandas.DataFrame
        The session table (one row per session, e.g. alliance and need-satisfaction ratings); never modified.
    scores : pandas.DataFrame
        One row per session with ``client``, ``session`` and the scores (e.g. :func:`behaviour_rates`,
        :func:`~allianceStats.process.score_codes`); never modified. Its other columns must not already be in
        ``data``.
    client, session : str
        Key columns, in both tables.
    unmatched : {"error", "keep", "drop"}
        What to do with sessions in one table only (:data:`UNMATCHED`).

    Returns
    -------
    pandas.DataFrame
        The rows of ``data`` in their order and with their index (with ``"drop"``: those with scores), its
        columns, then the columns of ``scores`` other than the keys.

    Raises
    ------
    SchemaError
        Every problem at once: missing key columns, missing key values, a session listed twice in a table, a
        column in both tables, keys that are numbers in one table and text in the other, and (as ``unmatched``
        says) the sessions found in one table only, by (client, session).
    OptionError
        ``unmatched`` is not one of :data:`UNMATCHED`.

    Examples
    --------
    >>> import pandas as pd
    >>> from allianceStats.process import merge_session_scores
    >>> ratings = pd.DataFrame({"client": ["a", "a", "b"], "session": [1, 2, 1], "alliance": [3.5, 4.0, 3.0]})
    >>> rates = pd.DataFrame({"client": ["a", "a", "b"], "session": [1, 2, 1], "reflection_rate": [0.3, 0.5, 0.2]})
    >>> merge_session_scores(ratings, rates)
      client  session  alliance  reflection_rate
    0      a        1       3.5              0.3
    1      a        2       4.0              0.5
    2      b        1       3.0              0.2
    >>> merge_session_scores(ratings, rates.iloc[:2])
    Traceback (most recent call last):
    ...
    allianceStats.errors.SchemaError: 1 problem found in merge_session_scores:
      1. 1 session(s) of data have no row in scores (client, session): ('b', 1); ...
    >>> merge_session_scores(ratings, rates.iloc[:2], unmatched="keep")["reflection_rate"].tolist()
    [0.3, 0.5, nan]
    """
    where = "merge_session_scores"
    check_choice("unmatched", unmatched, UNMATCHED)
    if client is None or session is None or client == session:
        raise OptionError(f"client={client!r}, session={session!r}: the merge needs two different key columns, the "
                          "client and the session number")
    keys = [client, session]
    problems = []
    for what, frame in (("data", data), ("scores", scores)):
        try:
            require_columns(frame, keys, where=where, what=what)
        except SchemaError as err:
            problems += err.problems
    if problems:
        raise SchemaError(problems, source=where)
    for what, frame in (("data", data), ("scores", scores)):
        _flat_columns(frame, where, what)
    for key in keys:
        numeric = [pd.api.types.is_numeric_dtype(f[key]) and not pd.api.types.is_bool_dtype(f[key])
                   for f in (data, scores)]
        if numeric[0] != numeric[1]:
            problems.append(f"column {key!r} holds numbers in {'data' if numeric[0] else 'scores'} "
                            f"(dtype {(data if numeric[0] else scores)[key].dtype}) and not in "
                            f"{'scores' if numeric[0] else 'data'} (dtype {(scores if numeric[0] else data)[key].dtype}"
                            f"); give both tables the same kind of identifier, e.g. with .astype(str) or "
                            "pandas.to_numeric")
    shared = [c for c in scores.columns if c in data.columns and c not in keys]
    if shared:
        problems.append(f"column(s) {first_labels(map(str, shared), limit=_SHOWN)} are in both data and scores; "
                        "drop or rename them in one table (or merge them as keys with pandas)")
    for what, frame in (("data", data), ("scores", scores)):
        missing = frame[keys].isna().any(axis=1).to_numpy()
        if missing.any():
            problems.append(f"{what}: {int(missing.sum())} row(s) without a {client!r} or {session!r} value "
                            f"(rows {first_labels((np.flatnonzero(missing) + 1).tolist())}); every row needs both")
        twice = frame[keys].duplicated(keep=False).to_numpy() & ~missing
        if twice.any():
            problems.append(f"{what}: session(s) listed more than once (client, session): "
                            f"{_sessions(_keys(frame, keys), twice & ~frame[keys].duplicated().to_numpy())}; "
                            "each session needs one row — aggregate or remove the copies")
    if problems:
        raise SchemaError(problems, source=where)
    left, right = _keys(data, keys), _keys(scores, keys)
    without_scores = ~left.isin(right)
    without_data = ~right.isin(left)
    hint = ('; if only some sessions were coded, use unmatched="keep" (keep every session of data, missing '
            'scores where not coded) or unmatched="drop"')
    if without_data.any() and unmatched != "drop":
        problems.append(f"{int(without_data.sum())} session(s) of scores have no row in data (client, session): "
                        f"{_sessions(right, without_data)}; check that both tables use the same client ids and "
                        f"session numbers, or pass unmatched=\"drop\"")
    if without_scores.any() and unmatched == "error":
        problems.append(f"{int(without_scores.sum())} session(s) of data have no row in scores (client, session): "
                        f"{_sessions(left, without_scores)}; check that both tables use the same client ids and "
                        f"session numbers{hint}")
    if problems:
        raise SchemaError(problems, source=where)
    if unmatched == "drop" and (without_scores.any() or without_data.any()):
        warnings.warn(f"merge_session_scores(): kept the {int((~without_scores).sum())} session(s) in both tables; "
                      f"left out {int(without_scores.sum())} session(s) of data without scores "
                      f"({_sessions(left, without_scores)}) and {int(without_data.sum())} scored session(s) not in "
                      f"data ({_sessions(right, without_data)})", DataWarning, stacklevel=2)
    extra = [c for c in scores.columns if c not in keys]
    merged = data.reset_index(drop=True).merge(scores[[*keys, *extra]], on=keys, how="left", validate="one_to_one",
                                               sort=False)
    merged.index = data.index
    return merged[~without_scores] if unmatched == "drop" else merged
