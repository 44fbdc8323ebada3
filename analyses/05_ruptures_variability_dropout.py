"""Worked analysis 5 — alliance ruptures and repair, alliance variability, and early alliance as a predictor of dropout.

Run it from the repository root:  .venv/bin/python analyses/05_ruptures_variability_dropout.py

What a student learns here
--------------------------
1. What a "rupture" is in session-by-session data: a session whose alliance lies at least k standard deviations
   below the client's own level (Stiles et al. 2004: k = 2; Strauss et al. 2006: k = 1), and "repair": the return
   to that level within a few sessions. How many ruptures you find depends on k and on which SD you use (the
   client's own, the pooled within-person SD, or the stricter of the two — Gumz et al. 2012). Report the definition.
2. Sudden gains in the outcome (Tang & DeRubeis 1999): three criteria, one of them a t-test-like comparison of the
   three sessions before and after, whose critical value depends on how many of those sessions were attended
   (Lutz et al. 2013).
3. Variability indices per client: within-client SD, the mean square successive difference (MSSD / RMSSD, which
   ignores slow trends and is computed only between consecutive sessions), and the probability of acute change
   (Jahng, Wood & Trull 2008).
4. Time to dropout (docs/design.md Q3): Cox proportional hazards and the discrete-time logistic hazard on the alliance
   of sessions 1-2, and Kaplan-Meier retention curves by early-alliance tertile. The data are simulated, so we can
   check the estimate against the value that generated them.
5. Level vs variability vs repair (Q4): one call puts the three side by side as predictors of the end-of-treatment
   outcome and — in a landmark analysis, to keep the predictors in the past — of later dropout.
"""
import warnings

import pandas as pd

import allianceStats as als
from allianceStats.data.example import make_example
from allianceStats.dynamics import critical_t

pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 12)

# --- Step 1. Load the data ------------------------------------------------------------------------------------
# One row per attended session. `dropout` is 1 on the last observed row of a client who left treatment early,
# 0 elsewhere; rows after dropout are absent and missed sessions leave gaps in the session numbers.
sessions = als.load_example()
_, truth = make_example()  # the simulation's true values, to check our answers against
last = sessions.groupby("client")["session"].max()
print(f"Step 1: {sessions['client'].nunique()} clients, {len(sessions)} sessions; "
      f"{int(sessions['dropout'].sum())} dropouts; sessions per client: median {last.median():.0f}, "
      f"range {last.min()}-{last.max()}")

# --- Step 2. Ruptures under four definitions -----------------------------------------------------------------
# The same data give very different counts: with the client's own SD and k = 2 a single dip must be extreme, and
# a client needs at least 6 sessions before one dip can reach 2 SD at all (see the module docs). The pooled SD
# judges every client against the typical session-to-session spread of the sample.
definitions = {
    "Stiles 2004 (k=2, own SD)": dict(method="stiles2004"),
    "Strauss 2006 (k=1, own SD)": dict(method="strauss2006"),
    "k=1, pooled within-person SD": dict(method="strauss2006", sd="pooled"),
    "k=1, stricter of own/pooled (Gumz)": dict(method="strauss2006", sd="combined"),
}
counts = []
for label, options in definitions.items():
    res = als.detect_ruptures(sessions, "alliance", **options)
    ev = res.events
    counts.append({"definition": label, "ruptures": len(ev), "clients with one": ev["client"].nunique(),
                   "repaired": int(ev["repaired"].sum()),
                   "unrepaired, window not observed": int((~ev["repaired"] & ~ev["window_observed"]).sum())})
print("\nStep 2: ruptures by definition (repair = back to the client's mean within 3 sessions)")
print(pd.DataFrame(counts).to_string(index=False))
stiles = als.detect_ruptures(sessions, "alliance", method="stiles2004")
print(stiles.summary())
example = stiles.events.iloc[0]
series = sessions.loc[sessions["client"] == example["client"], ["session", "alliance"]]
print(f"One rupture: client {example['client']}, session {example['rupture_session']}, "
      f"{example['depth_sd']:.2f} SD below the client's mean {example['reference']:.2f}; "
      f"repaired at session {example['repair_session']:.0f}")
print(series.set_index("session").T.round(2).to_string())

# --- Step 3. Sudden gains and losses in the outcome ----------------------------------------------------------
# The outcome is percent days abstinent: higher is better. Criterion 1 needs a substantive size: we use 15
# points. Criterion 3 compares sessions N-2..N with N+1..N+3; its critical t depends on how many were attended.
print("\nStep 3: critical t of criterion 3 (two-tailed):",
      {f"{a}+{b}, alpha {al}": round(critical_t(a, b, al), 3) for a, b, al in [(3, 3, .05), (3, 3, .01),
                                                                             (3, 2, .05), (2, 2, .01)]})
gains = als.detect_sudden_gains(sessions, "outcome", better="higher", min_change=15)
losses = als.detect_sudden_gains(sessions, "outcome", better="higher", min_change=15, direction="loss")
print(gains.summary())
print(losses.summary())
print(gains.events[["client", "pre_session", "post_session", "pre_score", "post_score", "n_pre", "n_post",
                    "t_critical"]].round(2).to_string(index=False))

# --- Step 4. Variability of the alliance, per client ---------------------------------------------------------
# RMSSD uses differences between *consecutive* sessions only: a difference across a missed session spans two
# steps and is left out. PAC = share of those differences that are "acute" (here: a drop of at least 0.5 points).
indices = als.variability(sessions, "alliance", pac_cutoff=0.5, pac_direction="decrease",
                          rupture_options={"method": "strauss2006", "sd": "pooled"})
print("\nStep 4: per-client alliance indices (first rows, and their correlations across clients)")
print(indices.head().round(3).to_string(index=False))
print(indices[["mean", "sd", "rmssd", "slope", "pac"]].corr().round(2).to_string())

# --- Step 5. Early alliance and time to dropout (Q3) ----------------------------------------------------------
# Each client's alliance predictor = their mean over sessions 1-2. Cox uses Efron's method for the many tied
# dropout times, like R's coxph. The simulation drops clients with a per-session logistic hazard whose
# coefficient for early alliance is known, so the discrete-time model is the true model here.
cox = als.fit_dropout(sessions, predictors=["alliance"], method="cox")
discrete = als.fit_dropout(sessions, predictors=["alliance"], method="discrete", baseline="factor")
print("\nStep 5a:", cox.summary(), sep="\n")
print(discrete.summary())
row = discrete.params.set_index("term").loc["alliance"]
true = truth["dropout"]["early_alliance"]
print(f"True logit coefficient {true}; estimate {row['estimate']:.2f}, 95% CI [{row['ci_lower']:.2f}, "
      f"{row['ci_upper']:.2f}] -> {'covers' if row['ci_lower'] <= true <= row['ci_upper'] else 'misses'} the truth")

km = als.kaplan_meier(sessions, split="tertiles", variable="alliance")
retained = km.groupby("group", sort=False).last()[["time", "survival", "ci_lower", "ci_upper"]]
print("\nStep 5b: Kaplan-Meier retention after the last dropout time, by early-alliance tertile")
print(retained.round(3).to_string())

# --- Step 6. Level, variability and repair side by side (Q4) -------------------------------------------------
# Outcome: last observed percent days abstinent, controlling the first one and the number of sessions.
# Retention: only clients still in treatment after session 6, predictors from sessions 1-6 (a landmark analysis).
# Predictors are per SD, so their sizes can be compared. The simulation has no built-in repair effect, so a
# "repaired" coefficient near zero is the right answer here.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", als.DataWarning)
    q4 = als.fit_level_variability_repair(sessions, alliance="alliance", outcome="outcome", landmark=6,
                                          rupture_options={"method": "strauss2006", "sd": "pooled"})
print("\nStep 6:", q4.summary(), sep="\n")
print(f"(true correlation of the client-level alliance and outcome traits in the simulation: "
      f"{truth['params']['trait_corr_alliance_outcome']})")
