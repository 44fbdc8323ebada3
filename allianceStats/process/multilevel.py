"""Person-period tables for multilevel lag models: P(target at *t* | given at *t* - *k*).

Pooling coded events over sessions treats every utterance as independent, although utterances are nested in
sessions, clients and therapists; the lag effect is then a blend of within-session and between-session
differences. The multilevel lag model (a logistic GLMM; e.g. Moyers et al., 2009, for MI process data) is

.. math:: \\operatorname{logit} P(y_{t} = 1) = \\beta_0 + \\beta_1 g_{t-k} + u_{\\text{therapist}} + u_{\\text{client}}
          + u_{\\text{session}},

with :math:`y_t` = 1 when event *t* has a target code (e.g. change talk) and :math:`g_{t-k}` = 1 when event
*t* - *k* has a given code (e.g. a reflection); :math:`\\beta_1` is the lag log-odds ratio. :func:`lag_person_period`
builds its data: one row per eligible event *t* (one that has an event *k* positions earlier in its session),
with ``target``, ``given``, the session share of given events (``given_session_mean``) and its within-session
deviation (``given_within``) for a within/between split, and the identifiers. Fit it with
``glmer(target ~ given + (1 | therapist/client/session), family = binomial)`` in R, or with the package's GLMM
engine where available.

References
----------
Moyers, T. B., Martin, T., Houck, J. M., Christopher, P. J., & Tonigan, J. S. (2009). From in-session behaviors to
drinking outcomes: A causal chain for motivational interviewing. *Journal of Consulting and Clinical Psychology,
77*, 1113-1124. Bakeman, R., & Quera, V. (2011). *Sequential analysis and observational methods for the
behavioral sciences*, ch. 11. Cambridge University Press.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..data.checks import first_labels, require_columns
from ..errors import OptionError, SchemaError

__all__ = ["lag_person_period"]


def _as_codes(name: str, codes) -> list[str]:
    if isinstance(codes, str):
        return [codes]
    if codes is None:
        raise OptionError(f"{name}= is required: the code(s) that count as {name}")
    out = [str(c) for c in codes]
    if not out:
        raise OptionError(f"{name}= lists no codes")
    return out


def lag_person_period(data: pd.DataFrame, *, given: str | Iterable[str], target: str | Iterable[str],
                      lag: int = 1, at: str | Iterable[str] | None = None, code: str = "code",
                      client: str = "client", therapist: str | None = "therapist", session: str = "session",
                      order: str = "order") -> pd.DataFrame:
    """One row per event *t* with ``target`` (code at *t* in ``target``) and ``given`` (code at *t* - ``lag`` in
    ``given``), for a multilevel logistic lag model (module docstring).

    Parameters
    ----------
    data : pandas.DataFrame
        Coded events (:func:`~allianceStats.process.read_events`), never modified.
    given, target : str or list of str
        The predictor codes at *t* - ``lag`` and the outcome codes at *t*.
    lag : int
        The lag in events (>= 1).
    at : str or list of str, optional
        The codes of events *t* that are eligible outcomes (e.g. all client codes ``["CT", "ST", "FN"]``, so that
        the model asks which client utterances are change talk). Default: every event.
    code, client, therapist, session, order : str
        Column names (``therapist=None`` if there is none).

    Returns
    -------
    pandas.DataFrame
        ``client, [therapist,] session, order, code, previous_code, target, given, given_session_mean,
        given_within``.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"client": "a", "session": 1, "order": range(1, 7),
    ...                    "code": ["CR", "CT", "Q", "ST", "SR", "CT"]})
    >>> lag_person_period(ev, given=["CR", "SR"], target="CT", at=["CT", "ST"], therapist=None)[
    ...     ["order", "previous_code", "target", "given"]]
       order previous_code  target  given
    0      2            CR       1      1
    1      4             Q       0      0
    2      6            SR       1      1
    """
    require_columns(data, [code, client, therapist, session, order], where="lag_person_period", what="data")
    if isinstance(lag, (bool, np.bool_)) or not isinstance(lag, (int, np.integer)) or lag < 1:
        raise OptionError(f"lag={lag!r} must be an integer of at least 1")
    given_codes, target_codes = _as_codes("given", given), _as_codes("target", target)
    at_codes = None if at is None else _as_codes("at", at)
    present = set(data[code].dropna().astype(str).unique())
    unknown = [c for c in dict.fromkeys(given_codes + target_codes + (at_codes or [])) if c not in present]
    if len(unknown) == len(set(given_codes + target_codes + (at_codes or []))):
        raise SchemaError([f"none of the codes {first_labels(unknown)} occur in column {code!r}; it has "
                           f"{first_labels(sorted(present), 20)}"], source="lag_person_period")
    ids = [c for c in (client, therapist, session) if c is not None]
    frame = data[ids + [order, code]].copy()
    frame[code] = frame[code].astype(str)
    frame = frame.sort_values([client, session, order], kind="stable").reset_index(drop=True)
    grp = frame.groupby([client, session], sort=False)
    prev = grp[code].shift(lag)
    keep = prev.notna()
    if at_codes is not None:
        keep &= frame[code].isin(at_codes)
    out = frame.loc[keep].copy()
    out["previous_code"] = prev[keep]
    out["target"] = out[code].isin(target_codes).astype(np.int64)
    out["given"] = out["previous_code"].isin(given_codes).astype(np.int64)
    out["given_session_mean"] = out.groupby([client, session], sort=False)["given"].transform("mean")
    out["given_within"] = out["given"] - out["given_session_mean"]
    return out.reset_index(drop=True)
