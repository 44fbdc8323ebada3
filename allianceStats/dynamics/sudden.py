"""Sudden gains and sudden losses in session-by-session outcome series (Tang & DeRubeis, 1999).

Definition
----------
Between consecutive sessions *N* and *N* + 1 of one client, with scores :math:`x_N, x_{N+1}` and the change
measured in the direction of improvement (``better="lower"`` for symptom scales such as the BDI, ``"higher"`` for
percent days abstinent or alliance), a **sudden gain** meets three criteria:

1. *absolute size*: the improvement is at least ``min_change`` score points (e.g. a Reliable Change Index value;
   ``None`` skips this criterion);
2. *relative size*: the improvement is at least ``relative`` (25 %) of the pre-gain score,
   :math:`|x_{N+1} - x_N| \\ge 0.25\\,|x_N|` (meaningful only on a ratio scale with a true zero; ``None`` skips);
3. *stability*: the mean of the (up to) three sessions before, :math:`N-2, N-1, N`, differs from the mean of the
   three sessions after, :math:`N+1, N+2, N+3`, in the direction of improvement by more than
   :math:`t_{crit}\\, s_p` with the pooled SD
   :math:`s_p = \\sqrt{((n_1-1)s_1^2 + (n_2-1)s_2^2)/(n_1+n_2-2)}` (not a standard error: this is the criterion as
   published). :math:`t_{crit}` is the two-tailed critical value of Student's *t* with :math:`n_1 + n_2 - 2` df at
   level ``alpha``: 2.776 for 3 + 3 sessions at α = .05. With ``adjust=True`` (Lutz et al., 2013) a missing
   neighbour lowers the df (3 + 2 sessions: df 3; 2 + 2: df 2, 9.925 at α = .01); at least two sessions are
   needed on each side. With ``adjust=False`` all 3 + 3 neighbours must be observed (the R package
   ``suddengains`` instead keeps 2.776 whatever is missing; its ``adjust = TRUE`` rule is the one used here).

A **sudden loss** (``direction="loss"``) applies the same criteria to a worsening (Lutz et al., 2013).
Criteria 1 and 2 count equality as met ("at least"); criterion 3 is strict ("exceeds").

Sessions *N* and *N* + 1 must be consecutive session numbers: no gain is defined across a missed session, and the
neighbour windows are session numbers (a missed session is a missing neighbour, never replaced by the next row).
Missing scores count as missed sessions. Every interval is kept in ``candidates`` with its three criteria, so each
decision can be checked by hand.

References
----------
Tang, T. Z., & DeRubeis, R. J. (1999). Sudden gains and critical sessions in cognitive-behavioral therapy for
depression. *Journal of Consulting and Clinical Psychology, 67*(6), 894-904.

Lutz, W., Ehrlich, T., Rubel, J., Hallwachs, N., Röttger, M.-A., Jorasz, C., Mocanu, S., Vocks, S., Schulte, D., &
Tschitsaz-Stucki, A. (2013). The ups and downs of psychotherapy: Sudden gains and sudden losses identified with
session reports. *Psychotherapy Research, 23*(1), 14-24.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._deprecation import renamed_arguments
from ..data.checks import check_alpha, check_bool, check_choice, check_number
from ..errors import OptionError
from ..results import CLOSED_FORM, Convergence, Provenance, ResultDisplay
from ._table import provenance, session_table

CANDIDATE_COLUMNS = ["client", "pre_session", "post_session", "pre_score", "post_score", "change",
                     "relative_change", "mean_pre", "mean_post", "n_pre", "n_post", "pooled_sd", "t_critical",
                     "crit1", "crit2", "crit3", "sudden"]


def critical_t(n_pre: int, n_post: int, alpha: float = 0.05) -> float:
    """Two-tailed critical *t* of the third Tang & DeRubeis (1999) criterion, df = ``n_pre + n_post - 2``.

    Computed from :func:`scipy.stats.t.ppf`; Lutz et al. (2013) use the df of the sessions actually observed.

    Parameters
    ----------
    n_pre, n_post : int
        Sessions observed before and after the interval (3 + 3 when none is missing).
    alpha : float
        Two-tailed test level of the criterion (the p-value threshold of the t test), default .05.

    Returns
    -------
    float
        The critical value :math:`t_{1 - \\alpha/2}(n_{pre} + n_{post} - 2)`.

    Raises
    ------
    OptionError
        Fewer than 3 sessions in all, or ``alpha`` outside (0, 1).

    Examples
    --------
    >>> round(critical_t(3, 3, 0.05), 3), round(critical_t(3, 3, 0.01), 3), round(critical_t(2, 2, 0.01), 3)
    (2.776, 4.604, 9.925)
    """
    df = n_pre + n_post - 2
    if df < 1:
        raise OptionError(f"critical_t needs n_pre + n_post >= 3, got {n_pre} + {n_post}")
    alpha = check_alpha(alpha)
    return float(stats.t.ppf(1 - alpha / 2, df))


@dataclass(frozen=True, repr=False)
class SuddenChangeResult(ResultDisplay):
    """Sudden gains or losses found by :func:`detect_sudden_gains`.

    ``events``: the intervals meeting every criterion applied; ``candidates``: every interval between two
    consecutive observed sessions, columns ``client, pre_session, post_session, pre_score, post_score, change,
    relative_change, mean_pre, mean_post, n_pre, n_post, pooled_sd, t_critical, crit1, crit2, crit3, sudden``.
    ``change`` is ``post_score - pre_score`` in raw units; criteria that were skipped are ``True``.

    The result protocol (:class:`allianceStats.results.Result`): ``n_obs`` is the number of observed scores
    read; the criteria are closed-form rules (``convergence`` is :data:`~allianceStats.results.CLOSED_FORM`);
    no interval is reported (``conf_level`` keeps its default; criterion 3 uses the test level ``alpha``).
    """

    events: pd.DataFrame
    candidates: pd.DataFrame
    direction: str
    better: str
    min_change: float | None
    relative: float | None
    alpha: float
    adjust: bool
    column: str
    provenance: Provenance
    n_obs: int = 0
    conf_level: float = 0.95
    convergence: Convergence = field(default=CLOSED_FORM)

    def summary(self) -> str:
        """A short text: criteria applied and counts."""
        n_clients = self.candidates["client"].nunique()
        with_ev = self.events["client"].nunique()
        crit = [f"absolute >= {self.min_change:g}" if self.min_change is not None else "absolute: skipped",
                f"relative >= {self.relative:.0%}" if self.relative is not None else "relative: skipped",
                f"3+3 mean difference > t(alpha={self.alpha:g}) x pooled SD"
                + (" (Lutz 2013 df adjustment)" if self.adjust else " (complete neighbours only)")]
        kind = "losses" if self.direction == "loss" else "gains"
        return (f"Sudden {kind} in {self.column!r} ({self.better} is better): " + "; ".join(crit)
                + f"\nevents: {len(self.events)} in {with_ev} of {n_clients} clients with an interval")


@renamed_arguments(time="session")
def detect_sudden_gains(data: pd.DataFrame, column: str, *, better: str, min_change: float | None,
                        direction: str = "gain", relative: float | None = 0.25, alpha: float = 0.05,
                        adjust: bool = True, client: str = "client",
                        session: str = "session") -> SuddenChangeResult:
    """Sudden gains (or losses) by the three Tang & DeRubeis (1999) criteria, with the Lutz et al. (2013) df rule.

    Criterion 1: improvement >= ``min_change``; criterion 2: improvement >= ``relative`` x |pre-gain score|;
    criterion 3: the mean of sessions N-2..N and of N+1..N+3 differ (towards improvement) by more than
    ``critical_t(n_pre, n_post, alpha)`` x pooled SD. Full definitions and edge cases: module docstring
    (:mod:`allianceStats.dynamics.sudden`). Formerly ``sudden_gains`` (that name warns until 0.3.0).

    Parameters
    ----------
    data : pandas.DataFrame
        Long session table (not modified).
    column : str
        The outcome score.
    better : {"lower", "higher"}
        ``"lower"`` for symptom scales, ``"higher"`` for percent days abstinent or alliance. Required, because
        a wrong guess silently turns gains into losses.
    min_change : float or None
        Criterion 1 cut-off in score units (required; ``None`` skips it).
    direction : {"gain", "loss"}
        Sudden gains, or sudden losses (Lutz et al. 2013).
    relative : float or None
        Criterion 2 fraction (default 0.25; ``None`` skips it).
    alpha : float
        Two-tailed test level of criterion 3 (default .05).
    adjust : bool
        Lutz et al. (2013) df for missing neighbours (``False``: all 3 + 3 neighbours required).
    client, session : str
        Client-id and session-number columns (``time=`` is the old name of ``session=``).

    Returns
    -------
    SuddenChangeResult
        ``events`` and every ``candidates`` interval with its three criteria.

    Raises
    ------
    SchemaError
        A column is missing or not numeric, a session number or client id is missing, a pair repeats.
    OptionError
        An option outside its choices or range.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"client": "a", "session": range(1, 9),
    ...                    "bdi": [30, 29, 31, 30, 15, 14, 16, 15]})
    >>> res = detect_sudden_gains(df, "bdi", better="lower", min_change=7)
    >>> res.events[["client", "pre_session", "post_session", "change", "t_critical"]].round(3)
      client  pre_session  post_session  change  t_critical
    0      a            4             5   -15.0       2.776
    """
    started = time.perf_counter()
    check_choice("direction", direction, ("gain", "loss"))
    check_choice("better", better, ("lower", "higher"))
    for name, val in (("min_change", min_change), ("relative", relative)):
        if val is not None:
            check_number(name, val, minimum=0, hint="or None to skip the criterion")
    alpha = check_alpha(alpha)
    adjust = check_bool("adjust", adjust)
    df = session_table(data, [column], client=client, session=session, where="detect_sudden_gains")
    df = df[df[column].notna()]
    # +1 when an increase in the score is the change being looked for
    sign = 1.0 if (better == "higher") == (direction == "gain") else -1.0
    tcache: dict[tuple[int, int], float] = {}
    rows = []
    for cid, g in df.groupby(client, sort=True):
        s = g[session].to_numpy(dtype=float)
        x = g[column].to_numpy(dtype=float)
        pos = dict(zip(s, range(len(s))))
        for j in range(len(s) - 1):
            n0 = s[j]
            if s[j + 1] != n0 + 1:
                continue
            pre = np.array([x[pos[t]] for t in (n0 - 2, n0 - 1, n0) if t in pos])
            post = np.array([x[pos[t]] for t in (n0 + 1, n0 + 2, n0 + 3) if t in pos])
            change = x[j + 1] - x[j]
            magnitude = sign * change
            crit1 = True if min_change is None else bool(magnitude >= min_change)
            if relative is None:
                crit2 = True
            else:
                crit2 = bool(magnitude > 0 and magnitude >= relative * abs(x[j]))
            n1, n2 = len(pre), len(post)
            ok = (n1 >= 2 and n2 >= 2) if adjust else (n1 == 3 and n2 == 3)
            if ok:
                key = (n1, n2)
                if key not in tcache:
                    tcache[key] = critical_t(n1, n2, alpha)
                tcrit = tcache[key]
                sp = np.sqrt(((n1 - 1) * pre.var(ddof=1) + (n2 - 1) * post.var(ddof=1)) / (n1 + n2 - 2))
                crit3 = bool(sign * (post.mean() - pre.mean()) > tcrit * sp)
            else:
                tcrit = sp = np.nan
                crit3 = False
            rows.append({
                "client": cid, "pre_session": s[j], "post_session": s[j + 1], "pre_score": x[j],
                "post_score": x[j + 1], "change": change,
                "relative_change": change / abs(x[j]) if x[j] != 0 else np.nan,
                "mean_pre": pre.mean(), "mean_post": post.mean(), "n_pre": n1, "n_post": n2, "pooled_sd": sp,
                "t_critical": tcrit, "crit1": crit1, "crit2": crit2, "crit3": crit3,
                "sudden": crit1 and crit2 and crit3,
            })
    cand = pd.DataFrame(rows, columns=CANDIDATE_COLUMNS).astype({"client": data[client].dtype})
    for col in ("pre_session", "post_session"):
        cand[col] = cand[col].astype(df[session].dtype)
    for col in ("crit1", "crit2", "crit3", "sudden"):
        cand[col] = cand[col].astype(bool)
    events = cand[cand["sudden"]].reset_index(drop=True)
    options = {"column": column, "better": better, "direction": direction, "min_change": min_change,
               "relative": relative, "alpha": alpha, "adjust": adjust, "client": client, "session": session}
    return SuddenChangeResult(events=events, candidates=cand, direction=direction, better=better,
                              min_change=min_change, relative=relative, alpha=alpha, adjust=adjust, column=column,
                              provenance=provenance(data[list(dict.fromkeys([client, session, column]))], options,
                                                    function="detect_sudden_gains", started=started),
                              n_obs=int(len(df)))
