r"""Monte Carlo power and simulation studies, on one machine or a Dask cluster, resumable.

For every cell of a grid (numbers of clients x numbers of sessions) a family of
:mod:`allianceStats.power_analysis.families` is simulated and fitted ``reps`` times. Per cell and target parameter
:math:`\theta` with estimates :math:`\hat\theta_r` over the :math:`R` usable replications (converged and
proper), following Morris, White & Crowther (2019, *Stat. Med.* 38(11), 2074–2102), with their Monte Carlo
standard errors (MCSE):

* ``power`` = share of :math:`p_r < \alpha`; MCSE :math:`\sqrt{P(1-P)/R}`
* ``bias`` = :math:`\bar{\hat\theta} - \theta`; MCSE :math:`s_{\hat\theta}/\sqrt R`; ``rel_bias`` = bias / θ
* ``rmse`` = :math:`\sqrt{\overline{(\hat\theta-\theta)^2}}`;
  MCSE :math:`\mathrm{sd}((\hat\theta-\theta)^2)/(2\,\mathrm{rmse}\sqrt R)`
* ``coverage`` = share of CIs (level 1 - α) containing θ; MCSE :math:`\sqrt{C(1-C)/R}`
* ``failed_share`` (did not converge) and ``improper_share`` (boundary / Heywood): reported, never dropped
  silently.

Seeds: each cell has its own :class:`numpy.random.SeedSequence` keyed by the root ``seed`` and the cell's
sizes (``spawn_key=(n_clients, n_sessions)``), spawned into one child per replication, so every number
depends only on (seed, cell sizes, replication) — never on the number of workers, the order tasks finish,
or which other cells the grid holds. Replications run in batches (tasks) on a local Dask cluster
(processes on this machine's cores) by default, on ``dask_client=`` (a :class:`distributed.Client`) or the
cluster at ``scheduler=`` (an address) when given, or in this process with ``dask_client="sync"`` (BLAS limited
to one thread, as in a Dask worker). With ``out_dir``
each cell is written to Parquet (temporary file, then rename) the moment its last replication arrives, and
a rerun skips finished cells: an interrupted or killed study resumes.

Example
-------
>>> import allianceStats as als
>>> res = als.power("regression", n_clients=[20, 40], effects={"slope": 0.5}, reps=50, seed=1,
...                 dask_client="sync", progress=False)
>>> res.table[["n_clients", "target", "power"]].shape
(2, 3)
>>> res.n_obs, res.conf_level, res.provenance.seed
(100, 0.95, 1)
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd

from .._deprecation import renamed_arguments
from ..data.checks import check_alpha, check_bool, check_choice, check_positive_int, resolve_seed
from ..errors import AllianceStatsError, OptionError
from ..results import CLOSED_FORM, Convergence, Provenance, ResultDisplay, make_provenance
from .families import get_family, run_replication

BATCH = 25  # replications per task: large enough to amortise scheduling, small enough to balance two cores


def _run_batch(family, cell, effects, alpha, cell_index, seeds, first_rep):
    rows = []
    for k, s in enumerate(seeds):
        for r in run_replication(family, cell, effects, alpha, s):
            rows.append({"cell": cell_index, "rep": first_rep + k, **r})
    return rows


@dataclass(frozen=True, repr=False)
class PowerResult(ResultDisplay):
    """A finished power study.

    ``table``: one row per cell and target — ``model, n_clients, n_sessions, target, truth, reps, usable,
    power, power_mcse, mean_estimate, bias, bias_mcse, rel_bias, rel_bias_mcse, rmse, rmse_mcse, coverage,
    coverage_mcse, failed_share, improper_share``. ``replications``: every replication's raw row.

    The result protocol (:class:`allianceStats.results.Result`): ``n_obs`` is the number of replications run
    (``reps`` x cells); ``conf_level`` = 1 - ``alpha``, the level of every replication's interval (coverage is
    measured at it); the study itself optimises nothing (``convergence`` is
    :data:`~allianceStats.results.CLOSED_FORM`; replications whose fit failed are counted in
    ``failed_share``); the root seed is ``provenance.seed``.
    """

    table: pd.DataFrame
    replications: pd.DataFrame
    model: str
    alpha: float
    effects: dict
    provenance: Provenance = field(repr=False)
    n_obs: int = 0
    conf_level: float = 0.95
    convergence: Convergence = field(default=CLOSED_FORM, repr=False)

    @property
    def converged(self) -> bool:
        """Always True: the study optimises nothing itself (see ``failed_share`` for the replications)."""
        return self.convergence.converged

    def summary(self) -> str:
        """Plain-text table of power, bias, coverage and failures per cell and target."""
        cols = ["n_clients", "n_sessions", "target", "truth", "power", "power_mcse", "bias", "rmse", "coverage",
                "failed_share", "improper_share"]
        with pd.option_context("display.width", 140, "display.max_columns", 20):
            return (f"Power study: {self.model}, alpha = {self.alpha}, effects = {self.effects}\n"
                    + self.table[[c for c in cols if c in self.table]].round(4).to_string(index=False))


def _cells(n_clients, n_sessions, needs_sessions):
    clients = [n_clients] if np.isscalar(n_clients) else list(n_clients)
    if needs_sessions:
        if n_sessions is None:
            raise OptionError("power(): this model needs n_sessions (an integer or a list of integers).")
        sessions = [n_sessions] if np.isscalar(n_sessions) else list(n_sessions)
    else:
        sessions = [None] if n_sessions is None else ([n_sessions] if np.isscalar(n_sessions) else list(n_sessions))
    values = clients + [s for s in sessions if s is not None]
    bad = [v for v in values if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer,
                                                                                      np.floating))
           or not np.isfinite(v) or int(v) != v or v < 2]
    if bad or not clients:
        raise OptionError(f"power(): numbers of clients and sessions must be integers >= 2; got {bad or clients}.")
    return [{"n_clients": int(c), **({"n_sessions": int(s)} if s is not None else {})}
            for c, s in product(clients, sessions)]


def _summarise(reps: pd.DataFrame, alpha: float) -> pd.DataFrame:
    out = []
    for (cell, target), g in reps.groupby(["cell", "target"], sort=True):
        ok = g[g["converged"] & g["proper"] & np.isfinite(g["estimate"])]
        n, theta = len(ok), float(g["truth"].iloc[0])
        est = ok["estimate"].to_numpy()
        sig = (ok["p_value"].to_numpy() < alpha).mean() if n else np.nan
        cover = ((ok["ci_lower"] <= theta) & (theta <= ok["ci_upper"])).mean() if n else np.nan
        err2 = (est - theta) ** 2
        rmse = np.sqrt(err2.mean()) if n else np.nan
        sd = est.std(ddof=1) if n > 1 else np.nan
        bias = est.mean() - theta if n else np.nan
        out.append({
            "cell": cell, "target": target, "truth": theta, "reps": len(g), "usable": n,
            "power": sig, "power_mcse": np.sqrt(sig * (1 - sig) / n) if n else np.nan,
            "mean_estimate": est.mean() if n else np.nan, "bias": bias, "bias_mcse": sd / np.sqrt(n) if n else np.nan,
            "rel_bias": bias / theta if theta else np.nan,
            "rel_bias_mcse": sd / np.sqrt(n) / abs(theta) if theta and n else np.nan,
            "rmse": rmse, "rmse_mcse": err2.std(ddof=1) / (2 * rmse * np.sqrt(n)) if n > 1 and rmse > 0 else np.nan,
            "coverage": cover, "coverage_mcse": np.sqrt(cover * (1 - cover) / n) if n else np.nan,
            "failed_share": float((~g["converged"]).mean()), "improper_share": float((~g["proper"]).mean()),
        })
    return pd.DataFrame(out)


def _cell_key(model, cell, effects, reps, alpha, seed):
    blob = json.dumps([model, cell, effects, reps, alpha, seed], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _write_atomic(frame: pd.DataFrame, path: Path):
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


_DEFAULT_MODEL = {"regression": "regression", "within_between": "mlm", "riclpm": "riclpm", "mediation": "mediation",
                  "multilevel_mediation": "multilevel_mediation"}
CONNECT_TIMEOUT = "20s"  # how long power() waits for a scheduler given by address


def _connect(address: str):
    from distributed import Client

    try:
        return Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as err:
        raise AllianceStatsError(f"power(): cannot connect to the Dask scheduler at {address!r} ({err}); check the "
                                 "address or leave out scheduler= to use a local cluster.") from None


@renamed_arguments(client="dask_client")
def power(design: str, model: str | None = None, *, n_clients, n_sessions=None, effects: dict | None = None,
          reps: int = 1000, alpha: float = 0.05, seed: int | None = None, dask_client=None,
          scheduler: str | None = None, workers: int | None = None, out_dir: str | Path | None = None,
          progress: bool = True, _stop_after: int | None = None) -> PowerResult:
    """Monte Carlo power, bias, RMSE and coverage for a grid of sample sizes (definitions in the module docstring).

    Performance measures and their Monte Carlo standard errors follow Morris, White & Crowther (2019); each
    replication is simulated by :mod:`allianceStats.simulate.designs` and fitted by its model family
    (:mod:`allianceStats.power_analysis.families`).

    Parameters
    ----------
    design : {"regression", "within_between", "riclpm", "mediation", "multilevel_mediation"}
        The data-generating process (:mod:`allianceStats.simulate.designs`); it fixes the default model.
    model : {"regression", "mlm", "riclpm", "mediation", "multilevel_mediation"}, optional
        The model family fitted to each replication (default: the design's own).
    n_clients, n_sessions : int or list of int
        The grid (sessions = waves for the RI-CLPM). ``n_sessions`` is ignored by single-level designs.
    effects : dict
        Population values passed to the design, e.g. ``{"lagged": [[0.3, 0.1], [0.15, 0.3]], "dropout": 0.1}``.
    reps : int
        Replications per cell (at least 2).
    alpha : float
        Significance level of each replication's test; its intervals are at level 1 - ``alpha``.
    seed : int, optional
        The root seed; every number depends only on it, the cell sizes and the replication. ``None`` draws a
        fresh seed, which is recorded in ``provenance.seed`` (pass it back to repeat or resume the study).
    dask_client : None, "sync" or distributed.Client
        None starts a local Dask cluster with ``workers`` processes (default: the machine's cores), unless
        ``scheduler`` is given; "sync" runs in this process; a Client sends the same study to an existing cluster
        unchanged. ``client=`` is the old name.
    scheduler : str, optional
        Address of an existing Dask scheduler (``"tcp://host:8786"``): a client is connected for the run and
        closed afterwards. Give either ``dask_client`` or ``scheduler``.
    workers : int, optional
        Processes of the local cluster.
    out_dir : path, optional
        Folder for per-cell Parquet results; finished cells are skipped on a rerun (resume).
    progress : bool
        Show a progress bar.

    Returns
    -------
    PowerResult
        ``table`` (one row per cell and target) and ``replications`` (every replication's row).

    Raises
    ------
    OptionError
        An unknown design or model, a bad grid, ``reps``, ``alpha``, ``seed`` or ``workers``, or both
        ``dask_client`` and ``scheduler``.
    AllianceStatsError
        The scheduler cannot be reached, or the study stopped before every cell finished (rerun to resume).

    Examples
    --------
    >>> res = power("mediation", n_clients=100, effects={"a": 0.4, "b": 0.4}, reps=20, seed=3, dask_client="sync",
    ...             progress=False)
    >>> sorted(res.table["target"])
    ['a', 'b', 'direct', 'indirect']
    """
    started = time.perf_counter()
    check_choice("design", design, sorted(_DEFAULT_MODEL))
    model = model or _DEFAULT_MODEL[design]
    if _DEFAULT_MODEL[design] != model:
        raise OptionError(f"power(): design {design!r} is analysed by model {_DEFAULT_MODEL[design]!r}; "
                          f"got model={model!r}.")
    fam = get_family(model)
    reps = check_positive_int("reps", reps, minimum=2)
    alpha = check_alpha(alpha)
    seed = resolve_seed(seed)
    progress = check_bool("progress", progress)
    if workers is not None:
        workers = check_positive_int("workers", workers)
    if dask_client is not None and scheduler is not None:
        raise OptionError("power(): give either dask_client= or scheduler=, not both.")
    if scheduler is not None and not (isinstance(scheduler, str) and "://" in scheduler):
        raise OptionError(f"scheduler={scheduler!r} must be an address such as 'tcp://host:8786'")
    if isinstance(dask_client, str) and dask_client != "sync":
        raise OptionError(f"dask_client={dask_client!r} is not supported; give None, 'sync' or a "
                          f"distributed.Client (an address goes to scheduler=)")
    effects = dict(effects or {})
    cells = _cells(n_clients, n_sessions, fam.needs_sessions)
    cell_seqs = [np.random.SeedSequence(seed, spawn_key=(c["n_clients"], c.get("n_sessions", 0))) for c in cells]
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)

    frames, todo = {}, []
    for i, cell in enumerate(cells):
        key = _cell_key(model, cell, effects, reps, alpha, seed)
        path = out / f"cell-{key}.parquet" if out is not None else None
        if path is not None and path.is_file():
            frames[i] = pd.read_parquet(path)
        else:
            todo.append((i, cell, path))

    own_client = own_cluster = None
    if todo and dask_client is None:
        if scheduler is not None:
            dask_client = own_client = _connect(scheduler)
        else:
            from distributed import Client, LocalCluster

            own_cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                       processes=True, dashboard_address=":0")
            dask_client = own_client = Client(own_cluster)
    try:
        frames.update(_execute(model, todo, cell_seqs, effects, alpha, reps, dask_client, progress, _stop_after))
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()

    missing = [cells[i] for i, _, _ in todo if i not in frames]
    if missing:
        raise AllianceStatsError(f"power(): the study stopped before cells {missing} finished; finished cells are "
                                 f"saved in {out}; run the same call again (seed={seed}) to resume.")
    reps_frame = pd.concat([frames[i] for i in range(len(cells))], ignore_index=True)
    table = _summarise(reps_frame, alpha)
    grid = pd.DataFrame(cells).reset_index(names="cell")
    table = grid.merge(table, on="cell").drop(columns="cell")
    table.insert(0, "model", model)
    return PowerResult(table=table, replications=reps_frame, model=model, alpha=alpha, effects=effects,
                       provenance=make_provenance(grid, options={"design": design, "model": model, "reps": reps,
                                                                 "alpha": alpha, "effects": effects,
                                                                 "cells": cells}, seed=seed, function="power",
                                                  started=started),
                       n_obs=int(reps * len(cells)), conf_level=1.0 - alpha)


def _execute(model, todo, cell_seqs, effects, alpha, reps, dask_client, progress, stop_after):
    from rich.progress import Progress
    from threadpoolctl import threadpool_limits

    paths = {i: path for i, _, path in todo}

    batches = []
    for i, cell, _ in todo:
        seeds = cell_seqs[i].spawn(reps)
        for start in range(0, reps, BATCH):
            batches.append((i, cell, seeds[start:start + BATCH], start))
    results: dict[int, list] = {i: [] for i, _, _ in todo}
    remaining = {i: sum(1 for b in batches if b[0] == i) for i, _, _ in todo}
    done_cells = {}
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"{model}: {len(batches)} batches", total=len(batches))
        if dask_client == "sync":
            def stream_sync():
                with threadpool_limits(1):  # tiny matrices: one BLAS thread is faster, and matches Dask workers
                    for b in batches:
                        yield b, _run_batch(model, b[1], effects, alpha, b[0], b[2], b[3])

            stream = stream_sync()
        else:
            futures = {dask_client.submit(_run_batch, model, b[1], effects, alpha, b[0], b[2], b[3], pure=False): b
                       for b in batches}
            from distributed import as_completed

            stream = ((futures[f], f.result()) for f in as_completed(futures))
        for b, rows in stream:
            results[b[0]].extend(rows)
            remaining[b[0]] -= 1
            if remaining[b[0]] == 0:
                frame = pd.DataFrame(results[b[0]]).sort_values(["rep", "target"], kind="stable")
                done_cells[b[0]] = frame.reset_index(drop=True)
                if paths[b[0]] is not None:  # saved at once, so a killed study keeps every finished cell
                    _write_atomic(done_cells[b[0]], paths[b[0]])
            bar.advance(task)
            if stop_after is not None and len(done_cells) >= stop_after:
                break
    return done_cells
