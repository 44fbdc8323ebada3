"""Worked analysis 10 — alliance fluctuations and relapse: time-varying Cox, competing events, discrete-time hazards
and a joint model.

Run it from the repository root:  .venv/bin/python analyses/10_alliance_fluctuations_relapse.py

What a student learns here
--------------------------
1. Why the alliance must be a *time-varying* covariate: a client's alliance changes from session to session, and
   the risk of relapse next week depends on the alliance now, not on the mean over the first two sessions.
2. How a session table and an events table become counting-process intervals (start, stop] — R's ``tmerge`` —
   with the current, lagged, within-client and cumulative-mean alliance, each measured no later than the start of
   the interval it describes (no look-ahead), and how the builder reports problems.
3. Kaplan–Meier curves with confidence bands and numbers at risk; a Cox model with time-varying covariates and
   client-robust standard errors; the proportional-hazards check (cox.zph).
4. Relapse and dropout compete: the Aalen–Johansen cumulative incidence (not one minus a Kaplan–Meier curve) and
   cause-specific hazards.
5. The same question in discrete time (one row per client and week at risk).
6. The joint model: the hazard depends on the *true* current alliance, but each rating carries measurement error.
   A Cox model on the last observed rating underestimates the association (regression dilution); the joint model
   of the alliance trajectory and relapse removes the attenuation. The simulated data have a known truth
   (association -1.0 per point of true alliance), so you can see it. The joint model can also ask whether a
   falling alliance (its current slope) carries risk beyond its level.
7. Predicted relapse-free survival for two alliance paths: steady, and a rupture that is not repaired.

The data are simulated with known truth (allianceStats.simulate.relapse): weekly WAI-SR ratings (1-5) with rating
error, relapse driven by the current true alliance, dropout as a competing event, follow-up of 26 weeks.
"""
import warnings

import numpy as np
import pandas as pd

from allianceStats.errors import DataWarning, SchemaError
from allianceStats.simulate.relapse import relapse_times
from allianceStats.survival import (
    cumulative_incidence,
    fit_cause_specific,
    fit_cox,
    fit_discrete_hazard,
    fit_joint,
    survival_curve,
    survival_intervals,
)

pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 14)

# --- Step 1. Sessions and events -------------------------------------------------------------------------------
# 1,500 clients; weekly sessions from intake (week 0) up to week 11; each client's follow-up ends with a relapse,
# a dropout or the end of the 26 weeks. One table of ratings, one row per client for the outcome. (Another seed
# gives another sample: every estimate below moves by about its standard error.)
sessions, events, truth = relapse_times(1500, seed=2027)
print(f"Step 1. {len(sessions)} rated sessions of {sessions['client'].nunique()} clients; outcomes:")
print(events["outcome"].value_counts().to_string())
print(sessions.head(4).to_string(index=False))
print(events.head(4).to_string(index=False))

# --- Step 2. Counting-process intervals -------------------------------------------------------------------------
# One row per client and interval between sessions, the last one ending at the relapse or the end of follow-up.
# The alliance of an interval is the rating at its start (carried forward over a missing rating); a rating taken
# at the end of an interval would already reflect what happened in it, so it is never used for that interval.
intervals = survival_intervals(sessions, events, time_scale="week", event="outcome", censored="completed",
                               keep=["female"])
intervals = intervals.assign(relapse=(intervals["event"] == "relapse").astype(int))
print(f"\nStep 2. {len(intervals)} intervals; columns: {list(intervals.columns)}")
print(intervals[["client", "start", "stop", "event", "alliance", "alliance_lag1", "alliance_cummean",
                 "alliance_within", "ruptures_so_far"]].head(6).to_string(index=False))

# The builder checks its input and lists every problem with the clients concerned; nothing is modified.
broken = events.copy()
broken.loc[0, "time"] = -1.0
try:
    survival_intervals(sessions, broken, time_scale="week", event="outcome", censored="completed")
except SchemaError as err:
    print("\nA broken events table:\n", err)

# --- Step 3. Kaplan-Meier, then a Cox model with the alliance as it changes ------------------------------------
clients = events.assign(relapse=(events["outcome"] == "relapse").astype(int))
km = survival_curve(clients, "Surv(time, relapse) ~ female")
print("\nStep 3. Kaplan-Meier (dropout censored) by gender; numbers at risk at weeks 0, 8, 16, 24:")
print(km.at_risk([0, 8, 16, 24]).pivot(index="group", columns="time", values="n_risk").to_string())
print(km.table[km.table["n_events"] > 0].groupby("group").tail(1).to_string(index=False))

complete = intervals.dropna(subset=["alliance", "alliance_cummean"])
current = fit_cox(complete, "Surv(start, stop, relapse) ~ alliance + female", client="client")
print("\nCox model, current observed alliance (robust SEs by client):")
print(current.summary())
# Fluctuation vs level: the deviation of this week's rating from the client's level so far, and that level.
split = fit_cox(complete, "Surv(start, stop, relapse) ~ alliance_within + alliance_cummean + female",
                client="client")
print("\nFluctuation (within-client deviation) and level (mean so far):")
print(split.params[["term", "estimate", "std_error", "hazard_ratio", "p_value"]].round(3).to_string(index=False))
zph = current.cox_zph()
print("\nProportional hazards (Grambsch-Therneau):")
print(zph.table.round(3).to_string(index=False))

# --- Step 4. Relapse and dropout compete --------------------------------------------------------------------------
incidence = cumulative_incidence(events, "Surv(time, outcome) ~ 1", censored="completed")
at_26 = incidence.table.groupby("state").tail(1)
print("\nStep 4. Aalen-Johansen probabilities at the end of follow-up:")
print(at_26[["state", "time", "probability", "std_error", "ci_lower", "ci_upper"]].round(3).to_string(index=False))
cs = fit_cause_specific(complete, "Surv(start, stop, event) ~ alliance + female", censored=0, client="client")
print("Cause-specific hazards (the alliance of the current week):")
print(cs.params[["cause", "term", "estimate", "std_error", "hazard_ratio"]].round(3).to_string(index=False))

# --- Step 5. Discrete time: one row per client and week at risk ---------------------------------------------------
# A relapse at week 13.8 belongs to week 14; a client who leaves follow-up mid-week keeps the weeks seen in full.
weeks = survival_intervals(sessions, events, time_scale="week", event="outcome", censored="completed",
                           keep=["female"], periods=True)
weeks = weeks.assign(relapse=(weeks["event"] == "relapse").astype(int)).dropna(subset=["alliance"])
discrete = fit_discrete_hazard(weeks, "relapse ~ factor(period) + alliance + female", link="cloglog")
print(f"\nStep 5. Discrete-time cloglog model on {discrete.n_obs} person-weeks:")
print(discrete.params[discrete.params["term"].isin(["alliance", "female"])][
    ["term", "estimate", "std_error", "ratio"]].round(3).to_string(index=False))

# --- Step 6. The joint model --------------------------------------------------------------------------------------
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DataWarning)  # missing ratings are left out of the longitudinal submodel
    joint = fit_joint(sessions, "alliance ~ week + (week | client)", clients, "Surv(time, relapse) ~ female",
                      session="week")
print("\nStep 6.", joint.summary())
naive = current.params.set_index("term").loc["alliance"]
print(f"\nAssociation with relapse per point of alliance (truth {truth['alpha']}):")
print(f"  naive Cox on the observed rating: {naive['estimate']:.3f} (SE {naive['std_error']:.3f})")
print(f"  joint model, current true value:  {joint.association:.3f} "
      f"(SE {joint.params.set_index('term').loc['association', 'std_error']:.3f})")

# Is a *falling* alliance a risk beyond its current level? The joint model can put the current slope of the true
# trajectory in the hazard too (association="both"); in these data only the level matters, by construction.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DataWarning)
    both = fit_joint(sessions, "alliance ~ week + (week | client)", clients, "Surv(time, relapse) ~ female",
                     session="week", association="both")
print("\nLevel and slope of the true alliance in the hazard:")
print(both.params[both.params["term"].str.startswith("association")][
    ["term", "estimate", "std_error", "p_value"]].round(3).to_string(index=False))

# --- Step 7. Two alliance paths -----------------------------------------------------------------------------------
# A client at 4.0 throughout, and one whose alliance drops to 3.0 in week 4 and stays there (an unrepaired
# rupture). Predicted relapse-free survival from the Cox model with the current alliance.
paths = pd.DataFrame({"path": ["steady", "rupture", "rupture"], "start": [0.0, 0.0, 4.0],
                      "stop": [26.0, 4.0, 26.0], "relapse": 0, "alliance": [4.0, 4.0, 3.0], "female": 0})
curves = current.predict_survival(paths, client="path")
at = curves[curves["time"] <= 20].groupby("curve").tail(1)
print("\nStep 7. Predicted relapse-free survival at week 20 (last event time before it):")
print(at[["curve", "time", "survival", "ci_lower", "ci_upper"]].round(3).to_string(index=False))
closer = abs(joint.association - truth["alpha"]) < abs(naive["estimate"] - truth["alpha"])
print(f"\nDone: the true association was {truth['alpha']}; the joint model's estimate {joint.association:.2f} is "
      f"{'closer' if closer else 'not closer'} to it than the naive model's {naive['estimate']:.2f}.")
assert np.isfinite(joint.loglik)
