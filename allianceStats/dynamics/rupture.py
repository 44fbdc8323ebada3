"""Alliance ruptures and their repair, detected from session-by-session alliance scores.

Definition
----------
For client *i* with observed scores :math:`x_{it}` at session numbers *t*, a **rupture** is a session whose score
lies at least *k* standard deviations below the client's own reference level,

.. math:: r_i - x_{it} \\ge k\\, s_i ,

where the equality counts as a rupture (compared with a relative rounding tolerance of 1e-10, so that a drop
that is exactly at the threshold on paper is not lost to floating point). Stiles et al. (2004) used
*k* = 2 (``method="stiles2004"``); Strauss et al. (2006) used *k* = 1 (``method="strauss2006"``); ``k=`` overrides.

Reference level :math:`r_i` (``reference=``)
    ``"mean"``   the mean of all the client's observed scores (default);
    ``"median"`` their median;
    ``"others"`` the mean of the client's *other* sessions (leave-one-out), so that the dip does not pull its own
    reference down; the reference then differs from session to session (the SD below is still computed from
    all of the client's scores).

Standard deviation :math:`s_i` (``sd=``), the choices Gumz et al. (2012) compare
    ``"within"``   the client's own SD of scores (ddof = 1): intra-individual variability (default);
    ``"pooled"``   the pooled within-person SD of the sample,
    :math:`\\sqrt{\\sum_i \\sum_t (x_{it}-\\bar x_i)^2 / (N - m)}` over the *m* clients with two or more scores
    (*N* scores in all) — the same value for every client, so a client's events depend on the other clients;
    ``"combined"`` the larger (stricter) of the two, as Gumz et al. (2012) propose, to avoid calling minor
    fluctuations of a very stable course ruptures.

**Repair** is a return to the reference level: the first later session with :math:`x_{it'} \\ge r` (the rupture
session's reference), counted as a repair when :math:`t' - t \\le` ``repair_window`` *session numbers* (not rows:
with a missed session 5, a rupture at 3 and a return at 6 is 3 sessions later). Sessions below the reference
between the rupture and the return belong to the same episode; a new rupture can start only after the return.
A rupture with no return, or a return after the window, is *not repaired*; ``window_observed`` says whether the
client was seen for the whole window (``False`` flags ruptures near the end of treatment or before dropout, whose
repair could not have been observed).

Edge cases, decided and tested
    * missing scores (NaN) are dropped; the session stays missed, so the windows above count across it;
    * clients with fewer than ``min_sessions`` (default 3) observed scores are **not screened**: they have no events
      and appear in ``clients`` with ``screened=False`` and a reason (their scores still enter the pooled SD);
    * a client whose SD is 0 (all scores equal; SD below 1e-10 x mean absolute score, i.e. rounding) is not
      screened: no deviation can be a rupture;
    * with ``sd="within"`` and ``reference="mean"`` one single dip among *n* sessions is at most
      :math:`(n-1)/\\sqrt n` SDs below the mean, so with *k* = 2 a client needs at least 6 sessions before any
      single-session rupture is possible (1.79 SD is the maximum with 5 sessions). This is a property of the
      definition, worth knowing when comparing studies; the pooled SD does not have it.

References
----------
Stiles, W. B., Glick, M. J., Osatuke, K., Hardy, G. E., Shapiro, D. A., Agnew-Davies, R., Rees, A., & Barkham, M.
(2004). Patterns of alliance development and the rupture-repair hypothesis: Are productive relationships U-shaped
or V-shaped? *Journal of Counseling Psychology, 51*(1), 81-92.

Strauss, J. L., Hayes, A. M., Johnson, S. L., Newman, C. F., Brown, G. K., Barber, J. P., Laurenceau, J.-P., &
Beck, A. T. (2006). Early alliance, alliance ruptures, and symptom change in a nonrandomized trial of cognitive
therapy for avoidant and obsessive-compulsive personality disorders. *Journal of Consulting and Clinical
Psychology, 74*(2), 337-345.

Gumz, A., Brähler, E., Geyer, M., & Erices, R. (2012). Crisis-repair sequences — considerations on the
classification and assessment of breaches in the therapeutic relationship. *BMC Medical Research Methodology,
12*, 10.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._deprecation import renamed_arguments
from ..data.checks import check_choice, check_number, check_positive_int
from ..errors import OptionError
from ..results import CLOSED_FORM, Convergence, Provenance, ResultDisplay
from ._table import provenance, session_table

METHOD_K = {"stiles2004": 2.0, "strauss2006": 1.0}
SD_CHOICES = ("within", "pooled", "combined")
REFERENCE_CHOICES = ("mean", "median", "others")
_RTOL = 1e-10

EVENT_COLUMNS = ["client", "rupture_session", "score", "reference", "sd", "threshold", "depth", "depth_sd",
                 "repair_session", "repaired", "window_observed"]
CLIENT_COLUMNS = ["client", "n_scores", "reference", "sd", "threshold", "screened", "reason", "n_ruptures",
                  "n_repaired"]


@dataclass(frozen=True, repr=False)
class RuptureResult(ResultDisplay):
    """Ruptures found by :func:`detect_ruptures`.

    ``events``: one row per rupture episode, columns ``client, rupture_session, score, reference, sd, threshold,
    depth, depth_sd, repair_session, repaired, window_observed`` (``depth = reference - score`` in score units,
    ``depth_sd = depth / sd``, ``threshold = reference - k * sd``, ``repair_session`` NaN when not repaired).
    ``clients``: one row per client, columns ``client, n_scores, reference, sd, threshold, screened, reason,
    n_ruptures, n_repaired`` (``reference`` and ``threshold`` NaN for ``reference="others"``, which varies by
    session; counts NaN for clients not screened).

    The result protocol (:class:`allianceStats.results.Result`): ``n_obs`` is the number of observed scores
    read (rows with a score); detection is a rule, not an optimisation, so ``convergence`` is
    :data:`~allianceStats.results.CLOSED_FORM`; no interval is reported (``conf_level`` keeps its default).
    """

    events: pd.DataFrame
    clients: pd.DataFrame
    method: str
    k: float
    sd: str
    reference: str
    repair_window: int | float
    min_sessions: int
    column: str
    provenance: Provenance
    n_obs: int = 0
    conf_level: float = 0.95
    convergence: Convergence = field(default=CLOSED_FORM)

    def summary(self) -> str:
        """A short text: the definition used and the counts."""
        screened = self.clients["screened"]
        n_rep = int(self.events["repaired"].sum()) if len(self.events) else 0
        with_rupture = int((self.clients.loc[screened, "n_ruptures"] > 0).sum())
        lines = [
            f"Ruptures in {self.column!r}: score <= reference - {self.k:g} x SD "
            f"(method {self.method}, reference {self.reference}, SD {self.sd}); "
            f"repair = return to the reference within {self.repair_window:g} sessions",
            f"clients screened: {int(screened.sum())} of {len(self.clients)}"
            + (f" ({int((~screened).sum())} not screened: fewer than {self.min_sessions} scores or zero SD)"
               if (~screened).any() else ""),
            f"ruptures: {len(self.events)} in {with_rupture} clients; repaired: {n_rep}; "
            f"not repaired: {len(self.events) - n_rep} "
            f"(of which window not fully observed: "
            f"{int((~self.events['repaired'] & ~self.events['window_observed']).sum()) if len(self.events) else 0})",
        ]
        return "\n".join(lines)


def _pooled_sd(groups: list[np.ndarray]) -> float:
    ss = 0.0
    df = 0
    for x in groups:
        if len(x) >= 2:
            ss += float(np.sum((x - x.mean()) ** 2))
            df += len(x) - 1
    return float(np.sqrt(ss / df)) if df > 0 else np.nan


def _client_events(cid, s: np.ndarray, x: np.ndarray, ref: np.ndarray, sd: float, k: float,
                   window: float) -> list[dict[str, Any]]:
    gap = ref - x
    scale = np.abs(ref) + k * sd
    below = gap >= k * sd - _RTOL * scale
    events = []
    i, n = 0, len(x)
    while i < n:
        if not below[i]:
            i += 1
            continue
        r = ref[i]
        later = np.nonzero(x[i + 1:] >= r - _RTOL * (abs(r) + 1.0))[0]
        j = i + 1 + int(later[0]) if len(later) else None
        repaired = j is not None and s[j] - s[i] <= window
        events.append({
            "client": cid, "rupture_session": s[i], "score": x[i], "reference": r, "sd": sd,
            "threshold": r - k * sd, "depth": r - x[i], "depth_sd": (r - x[i]) / sd,
            "repair_session": s[j] if repaired else np.nan, "repaired": bool(repaired),
            "window_observed": bool(repaired or s[-1] >= s[i] + window),
        })
        i = j if j is not None else n
    return events


@renamed_arguments(time="session")
def detect_ruptures(data: pd.DataFrame, column: str = "alliance", *, client: str = "client",
                    session: str = "session", method: str = "stiles2004", k: float | None = None,
                    sd: str = "within", reference: str = "mean", repair_window: int | float = 3,
                    min_sessions: int = 3) -> RuptureResult:
    """Find alliance ruptures (drops of at least *k* SD below the client's own level) and their repair.

    A rupture is a session with ``reference - score >= k * SD`` (a drop exactly at the threshold counts); its
    repair is the first later session back at or above the reference, if it comes within ``repair_window``
    session numbers. Definitions of the reference, the SD and every edge case are in the module docstring
    (:mod:`allianceStats.dynamics.rupture`). Stiles et al. (2004): ``method="stiles2004"`` (k = 2); Strauss et al.
    (2006): ``method="strauss2006"`` (k = 1); SD choices as compared by Gumz et al. (2012).

    Parameters
    ----------
    data : pandas.DataFrame
        Long session table, one row per client and session (not modified).
    column : str
        The alliance score.
    client, session : str
        Client-id and session-number columns (``time=`` is the old name of ``session=``).
    method : {"stiles2004", "strauss2006"}
        Sets *k* (2 or 1) unless ``k`` is given.
    k : float, optional
        SD multiplier; overrides ``method``.
    sd : {"within", "pooled", "combined"}
        The client's own SD, the pooled within-person SD, or the larger of the two.
    reference : {"mean", "median", "others"}
        The client's level: the mean or median of their scores, or the mean of their other sessions.
    repair_window : int or float
        How many session numbers after the rupture a return still counts as repair (default 3; a choice of
        this package, not a published constant — report it).
    min_sessions : int
        Clients with fewer observed scores are not screened (default 3).

    Returns
    -------
    RuptureResult
        ``events`` (one row per rupture) and ``clients`` (one row per client).

    Raises
    ------
    SchemaError
        A column is missing or not numeric, a session number or client id is missing, a (client, session)
        pair repeats — every problem listed at once.
    OptionError
        An option outside its choices or range.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"client": ["a"] * 8, "session": range(1, 9),
    ...                    "alliance": [4.0, 4.1, 3.9, 4.0, 2.0, 4.1, 4.0, 3.9]})
    >>> res = detect_ruptures(df)
    >>> res.events[["client", "rupture_session", "repair_session", "repaired"]]
      client  rupture_session  repair_session  repaired
    0      a                5             6.0      True
    >>> res.n_obs, res.converged
    (8, True)
    """
    started = time.perf_counter()
    check_choice("method", method, tuple(METHOD_K))
    check_choice("sd", sd, SD_CHOICES)
    check_choice("reference", reference, REFERENCE_CHOICES)
    k_used = check_number("k", METHOD_K[method] if k is None else k, minimum=0, strict=True,
                          hint="the SD multiplier must be positive (Stiles 2004: 2; Strauss 2006: 1)")
    check_number("repair_window", repair_window, minimum=1, hint="a number of sessions")
    lowest = 3 if sd == "within" else 2
    try:
        min_sessions = check_positive_int("min_sessions", min_sessions, minimum=lowest)
    except OptionError as err:
        raise OptionError(f"{err} with sd={sd!r} (with two scores a client's own SD puts the lower one only "
                          f"0.71 SD below the mean)") from None
    df = session_table(data, [column], client=client, session=session, where="detect_ruptures")
    df = df[df[column].notna()]

    groups = [(cid, g[session].to_numpy(dtype=float), g[column].to_numpy(dtype=float))
              for cid, g in df.groupby(client, sort=True)]
    pooled = _pooled_sd([x for _, _, x in groups]) if sd in ("pooled", "combined") else np.nan
    # clients that only have missing scores still get a row
    all_ids = pd.unique(data[client].dropna())
    seen = {cid for cid, _, _ in groups}
    groups += [(cid, np.empty(0), np.empty(0)) for cid in all_ids if cid not in seen]

    events, rows = [], []
    for cid, s, x in groups:
        n = len(x)
        within = float(np.std(x, ddof=1)) if n >= 2 else np.nan
        s_i = {"within": within, "pooled": pooled, "combined": np.fmax(within, pooled)}[sd]
        if reference == "others":
            ref = (x.sum() - x) / (n - 1) if n >= 2 else np.full(n, np.nan)
            ref_c = np.nan
        else:
            ref_c = float(np.mean(x) if reference == "mean" else np.median(x)) if n else np.nan
            ref = np.full(n, ref_c)
        reason = ""
        if n < min_sessions:
            reason = f"fewer than {min_sessions} scores"
        elif not np.isfinite(s_i):
            reason = "SD not estimable"
        elif s_i <= _RTOL * (1.0 + float(np.mean(np.abs(x)))):
            # equal scores leave a rounding-size SD (e.g. 2e-16), which would flag every session
            reason = "zero SD"
        row = {"client": cid, "n_scores": n, "reference": ref_c, "sd": s_i,
               "threshold": ref_c - k_used * s_i, "screened": reason == "", "reason": reason,
               "n_ruptures": np.nan, "n_repaired": np.nan}
        if reason == "":
            ev = _client_events(cid, s, x, ref, s_i, k_used, float(repair_window))
            events += ev
            row["n_ruptures"] = float(len(ev))
            row["n_repaired"] = float(sum(e["repaired"] for e in ev))
        rows.append(row)

    ev_df = pd.DataFrame(events, columns=EVENT_COLUMNS).astype(
        {**{c: float for c in EVENT_COLUMNS[2:9]}, "client": data[client].dtype,
         "rupture_session": df[session].dtype, "repaired": bool,
         "window_observed": bool})
    cl_df = pd.DataFrame(rows, columns=CLIENT_COLUMNS).astype({"client": data[client].dtype})
    options = {"column": column, "client": client, "session": session, "method": method, "k": k_used, "sd": sd,
               "reference": reference, "repair_window": repair_window, "min_sessions": min_sessions}
    return RuptureResult(events=ev_df, clients=cl_df, method=method, k=k_used, sd=sd, reference=reference,
                         repair_window=repair_window, min_sessions=min_sessions, column=column,
                         provenance=provenance(data[list(dict.fromkeys([client, session, column]))], options,
                                               function="detect_ruptures", started=started),
                         n_obs=int(len(df)))
