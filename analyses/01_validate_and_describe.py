"""Worked analysis 1 — validate a session table, describe it, and split the alliance into its parts.

Run it from the repository root:  .venv/bin/python analyses/01_validate_and_describe.py

What a student learns here
--------------------------
1. How a session table is laid out: one row per attended session, with ids for client and therapist.
2. Why validation comes first: a typo in one row (a session number 0, text in a score column, a client
   filed under two therapists) silently changes every model fitted afterwards.
3. What the within-client / between-client / therapist decomposition means (Curran & Bauer 2011): a
   client's alliance in one session = their therapist's average + how their own average differs from it
   + how this session differs from their own average. Alliance-as-mechanism questions are about the last
   part (state-like); alliance-as-trait questions are about the middle one.
"""
import warnings

import pandas as pd

import allianceStats as als
from allianceStats.errors import DataWarning

# --- Step 1. Load the bundled example data -------------------------------------------------------------
# It is simulated (200 clients of 20 therapists, up to 10 sessions) so that we know the true values.
# read_sessions() checks every column the schema knows and returns a sorted, typed copy.
raw = als.load_example(validate=False)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", DataWarning)
    sessions = als.read_sessions(raw)
print(f"Step 1: {len(sessions)} valid session rows; warnings: {[str(w.message)[:70] for w in caught] or 'none'}")

# --- Step 2. See what validation catches ----------------------------------------------------------------
# We break three things on purpose. The error lists EVERY problem, with column, row and client id,
# so a researcher can fix the file in one pass.
broken = raw.head(6).copy()
broken.loc[1, "session"] = 0            # sessions are numbered from 1
broken.loc[2, "alliance"] = 7.5         # the WAI-SR alliance score runs from 1 to 5
broken.loc[3, "therapist"] = "T99"      # a client must stay with one therapist
try:
    als.read_sessions(broken)
except als.SchemaError as err:
    print("Step 2: validation found:\n" + str(err))

# --- Step 3. Describe the design ------------------------------------------------------------------------
# How many clients, therapists and sessions; how many clients dropped out; how much is missing.
description = als.describe(sessions)
print("\nStep 3: description\n" + description.summary())

# --- Step 4. Decompose the alliance ---------------------------------------------------------------------
# decompose() adds alliance_within (session minus the client's own mean), alliance_between (client mean
# minus therapist mean), alliance_therapist (therapist mean), and alliance_within_lag1 (last session's
# within part: missing at a client's first session and after a missed session).
parts = als.decompose(sessions, ["alliance", "outcome"], therapist="therapist")
cols = ["client", "session", "alliance", "alliance_therapist", "alliance_between", "alliance_within",
        "alliance_within_lag1"]
print("\nStep 4: the first client's alliance, decomposed")
print(parts[cols].head(6).round(3).to_string(index=False))

# The parts add back up to the score, and a client's within parts sum to zero:
recon = parts["alliance_therapist"] + parts["alliance_between"] + parts["alliance_within"]
gap = (recon - parts["alliance"]).abs().max()
print(f"largest reconstruction error: {gap:.1e}")
within_sums = parts.groupby("client")["alliance_within"].sum().abs().max()
print(f"largest per-client sum of within parts: {within_sums:.1e}")

# --- Step 5. How much of each measure is therapist, client and session? --------------------------------
# The variance of each part, as a first, model-free look (the mixed-model ICCs in analysis 02 are the
# estimates to report).
shares = pd.DataFrame({
    part: parts[[f"{v}_{part}" for v in ("alliance", "outcome")]].var().to_numpy()
    for part in ("therapist", "between", "within")
}, index=["alliance", "outcome"])
print("\nStep 5: variance of each part (model-free)\n" + (shares.div(shares.sum(axis=1), axis=0)).round(3).to_string())
