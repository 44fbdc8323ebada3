r"""Power studies described in a TOML file: validated, run on one machine or an existing Dask cluster, resumable.

A *study file* records everything that determines the numbers of a Monte Carlo power study — the
data-generating design and its population values, the analysis model, the grid of sample sizes, the number
of replications, the significance level and the root seed — so a study can be rerun, resumed, reviewed and
sent unchanged to a larger cluster. :func:`run_study` passes the values to :func:`allianceStats.power`
(performance measures after Morris, White & Crowther 2019, with their Monte Carlo standard errors) and
writes, to the study's ``out_dir``, one Parquet file per finished cell (the resume points) and the final
table ``power_table.csv``.

Format (TOML 1.0, read with :mod:`tomllib`)::

    title = "RI-CLPM: alliance -> next-session outcome"   # optional
    design = "riclpm"          # regression | within_between | riclpm | mediation
    model = "riclpm"           # optional; the design's own model by default
    reps = 1000                # replications per cell (>= 2)
    alpha = 0.05               # significance level; CIs at 1 - alpha
    seed = 20261125            # root seed (required): results depend only on it
    out_dir = "riclpm_power"   # optional; relative to the study file; default: a folder of the user's cache
    scheduler = "tcp://10.0.0.5:8786"   # optional: an existing Dask scheduler
    workers = 2                # optional: processes of the local cluster when no scheduler is given

    [grid]
    n_clients = [100, 200, 300]   # an integer or a list
    n_sessions = [3, 5]           # sessions (waves for the RI-CLPM); not used by single-level designs

    [effects]                  # keyword arguments of allianceStats.simulate.designs.<design>
    lagged = [[0.3, 0.1], [0.15, 0.3]]
    dropout = 0.1

Every key is checked: an unknown key (a typo) is an error that names it and lists the valid ones, and the
effects are tried once on the smallest cell of the grid so that an impossible population (a non-stationary
lagged matrix, a matrix of the wrong size) is reported before any replication runs.

Without ``out_dir`` the results go to ``~/.cache/allianceStats/power/<file stem>-<key>/`` (``$XDG_CACHE_HOME`` or
``$ALLIANCESTATS_CACHE_DIR`` move it; see :func:`allianceStats.power_analysis.study.cache_dir`): never beside the
study file, so running a study shipped in a source tree (``analyses/studies/``) writes nothing into it; the key
hashes the study's settings except the grid, so a rerun, or a wider grid, resumes from the finished cells.
:func:`load_study` returns the folder (``out_dir``) and ``alliance-stats power`` prints it.

``effects.variables`` names the variables (``["alliance", "outcome"]``); the targets of the power table are named
with them (``"alliance -> outcome"``, ``"alliance -> outcome (within)"``).

From a script, call :func:`run_study` under ``if __name__ == "__main__":`` when it starts a local Dask cluster
(its worker processes import the script)::

    import allianceStats as als

    if __name__ == "__main__":
        print(als.run_study("analyses/studies/mlm_power.toml").summary())

Reference: Morris, T. P., White, I. R., & Crowther, M. J. (2019). Using simulation studies to evaluate
statistical methods. *Statistics in Medicine* 38(11), 2074–2102.

Example
-------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "slope.toml").write_text('design = "regression"\nreps = 20\nseed = 1\n'
...                                       '[grid]\nn_clients = [20, 40]\n[effects]\nslope = 0.5\n')
>>> study = load_study(folder / "slope.toml")
>>> study["design"], study["n_clients"], study["effects"]
('regression', [20, 40], {'slope': 0.5})
>>> res = run_study(folder / "slope.toml", dask_client="sync", progress=False)
>>> res.table["n_clients"].tolist(), (study["out_dir"] / "power_table.csv").is_file()
([20, 40], True)
>>> study["out_dir"].parent == folder   # the default folder is in the user's cache, not beside the file
False
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import os
import tomllib
from pathlib import Path
from typing import Any

from .._deprecation import renamed_arguments
from ..data.output import write_csv
from ..errors import AllianceStatsError, OptionError
from ..simulate import designs
from .study import _DEFAULT_MODEL, PowerResult, default_out_dir, effect_names, power

#: the data-generating processes a study file may name (functions of :mod:`allianceStats.simulate.designs`)
DESIGNS = ("regression", "within_between", "riclpm", "mediation", "multilevel_mediation",
           "binary_within_between")
TOP_KEYS = ("title", "design", "model", "reps", "alpha", "seed", "out_dir", "scheduler", "workers", "grid",
            "effects")
GRID_KEYS = ("n_clients", "n_sessions")
TABLE_FILE = "power_table.csv"
STUDY_FILE = "study.json"


def _needs_sessions(design: str) -> bool:
    """True when the design takes a number of sessions (waves) after the number of clients."""
    sig = inspect.signature(getattr(designs, design))
    return sum(p.kind is p.POSITIONAL_OR_KEYWORD for p in sig.parameters.values()) >= 2


def _int_or_int_list(value) -> bool:
    is_int = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731 (TOML bools are ints)
    return is_int(value) or (isinstance(value, list) and len(value) > 0 and all(is_int(v) for v in value))


def _as_list(value) -> list[int]:
    return list(value) if isinstance(value, list) else [value]


def parse_study(raw: dict[str, Any], *, base_dir: str | Path = ".", source: str = "<dict>") -> dict[str, Any]:
    """Validate a parsed study table (the content of a study file) and resolve it; see :func:`load_study`.

    Every problem is collected and reported together, each naming the offending key.

    >>> parse_study({"design": "regression", "seed": 1, "grid": {"n_clients": 30}, "rep": 10})
    Traceback (most recent call last):
    ...
    allianceStats.errors.AllianceStatsError: study <dict>: unknown key 'rep'; valid keys: title, design, model,
    reps, alpha, seed, out_dir, scheduler, workers, grid, effects.
    """
    where = f"study {source}"
    problems = [f"unknown key {k!r}" for k in raw if k not in TOP_KEYS]
    if problems:
        raise AllianceStatsError(f"{where}: {'; '.join(problems)}; valid keys: {', '.join(TOP_KEYS)}.")

    design = raw.get("design")
    if design not in DESIGNS:
        found = "no 'design' key" if design is None else f"design = {design!r}"
        raise AllianceStatsError(f"{where}: {found}; set design to one of {', '.join(DESIGNS)}.")
    grid = raw.get("grid")
    if not isinstance(grid, dict):
        raise AllianceStatsError(f"{where}: a [grid] table with n_clients (and n_sessions for {design!r}"
                                 f" if it needs sessions) is required.")
    effects = raw.get("effects", {})
    if not isinstance(effects, dict):
        raise AllianceStatsError(f"{where}: 'effects' must be a table ([effects]); got {type(effects).__name__}.")

    valid_effects = effect_names(design)
    problems += [f"unknown key {k!r} in [grid] (valid: {', '.join(GRID_KEYS)})" for k in grid if k not in GRID_KEYS]
    problems += [f"unknown key {k!r} in [effects] of design {design!r} (valid: {', '.join(valid_effects)})"
                 for k in effects if k not in valid_effects]
    if "n_clients" not in grid:
        problems.append("[grid] n_clients is required (an integer or a list of integers)")
    elif not _int_or_int_list(grid["n_clients"]):
        problems.append(f"[grid] n_clients = {grid['n_clients']!r} must be an integer or a non-empty list of integers")
    if _needs_sessions(design):
        if "n_sessions" not in grid:
            problems.append(f"[grid] n_sessions is required by design {design!r} (an integer or a list of integers)")
        elif not _int_or_int_list(grid["n_sessions"]):
            problems.append(f"[grid] n_sessions = {grid['n_sessions']!r} must be an integer or a non-empty list "
                            "of integers")
    elif "n_sessions" in grid:
        problems.append(f"[grid] n_sessions is not used by the single-level design {design!r}; remove it")
    seed = raw.get("seed")
    if not (isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0):
        problems.append("seed is required: a non-negative integer (results are reproducible only when seeded)"
                        if seed is None else f"seed = {seed!r} must be a non-negative integer")
    reps = raw.get("reps", 1000)
    if not (isinstance(reps, int) and not isinstance(reps, bool) and reps >= 2):
        problems.append(f"reps = {reps!r} must be an integer >= 2")
    alpha = raw.get("alpha", 0.05)
    if not (isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and 0 < alpha < 1):
        problems.append(f"alpha = {alpha!r} must be a number strictly between 0 and 1")
    workers = raw.get("workers")
    if workers is not None and not (isinstance(workers, int) and not isinstance(workers, bool) and workers >= 1):
        problems.append(f"workers = {workers!r} must be a positive integer")
    scheduler = raw.get("scheduler")
    if scheduler is not None and not (isinstance(scheduler, str) and "://" in scheduler):
        problems.append(f"scheduler = {scheduler!r} must be an address such as 'tcp://host:8786'")
    for key in ("title", "model", "out_dir"):
        if key in raw and not isinstance(raw[key], str):
            problems.append(f"{key} = {raw[key]!r} must be a string")
    if problems:
        raise AllianceStatsError(f"{where}: " + "; ".join(problems) + ".")

    study = {
        "title": raw.get("title", ""),
        "design": design,
        "model": raw.get("model"),
        "n_clients": grid["n_clients"],
        "n_sessions": grid.get("n_sessions"),
        "effects": dict(effects),
        "reps": reps,
        "alpha": float(alpha),
        "seed": seed,
        "out_dir": (Path(base_dir) / raw["out_dir"] if "out_dir" in raw
                    else default_out_dir(Path(source).stem, raw.get("model") or _DEFAULT_MODEL[design],
                                         dict(effects), reps, float(alpha), seed)),
        "scheduler": scheduler,
        "workers": workers,
        "source": source,
    }
    _try_effects(study, where)
    return study


def _try_effects(study: dict, where: str) -> None:
    """Draw one small data set with the study's effects so that impossible values fail before any task runs."""
    n = max(min(_as_list(study["n_clients"])), 5)
    args = (n, max(min(_as_list(study["n_sessions"])), 3)) if study["n_sessions"] is not None else (n,)
    try:
        getattr(designs, study["design"])(*args, **study["effects"], seed=0)
    except (AllianceStatsError, TypeError, ValueError) as err:
        raise AllianceStatsError(f"{where}: [effects] were rejected by design {study['design']!r}: {err}") from None


def load_study(path: str | Path) -> dict[str, Any]:
    r"""Read and validate a power-study file (TOML); return the resolved settings.

    The returned dict has the keys ``title, design, model, n_clients, n_sessions, effects, reps, alpha, seed,
    out_dir`` (a :class:`~pathlib.Path`, relative paths resolved against the study file's folder; default: a
    folder of the user's cache, see the module docstring), ``scheduler, workers, source``. The format is described
    in the module docstring; an unknown key anywhere is an :class:`~allianceStats.errors.AllianceStatsError` that
    quotes the key and lists the valid ones, and all problems found are reported together.

    Parameters
    ----------
    path : str or pathlib.Path
        The study file (TOML 1.0).

    Returns
    -------
    dict
        The resolved settings (see above).

    Raises
    ------
    AllianceStatsError
        The file cannot be read, is not TOML, has an unknown or invalid key, or effects the design rejects.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "typo.toml"
    >>> _ = f.write_text('design = "riclpm"\nseed = 1\n[grid]\nn_clients = 100\nn_sessions = 5\n'
    ...                  '[effects]\ndrop_out = 0.1\n')
    >>> load_study(f)
    Traceback (most recent call last):
    ...
    allianceStats.errors.AllianceStatsError: study typo.toml: unknown key 'drop_out' in [effects] of design
    'riclpm' (valid: lagged, variables, ri_var, ri_cor, innovation_var, innovation_cor, dropout, dropout_slope).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise AllianceStatsError(f"study file {path} cannot be read: {err.strerror or err}.") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise AllianceStatsError(f"study file {path} is not valid TOML: {err}.") from None
    return parse_study(raw, base_dir=path.resolve().parent, source=path.name)


@renamed_arguments(client="dask_client")
def run_study(path: str | Path, *, dask_client=None, scheduler: str | None = None,
              progress: bool = True) -> PowerResult:
    r"""Run the power study described in a study file and write its results; return the :class:`PowerResult`.

    Executor, in order of precedence: ``dask_client`` (a :class:`distributed.Client`, or ``"sync"`` for this
    process; ``client=`` is its old name); ``scheduler`` (an address such as ``"tcp://host:8786"``: a client is
    connected to that existing cluster for the run and closed afterwards); the file's ``scheduler``; otherwise a
    local Dask cluster with the file's ``workers`` (default: this machine's cores). The numbers do not depend
    on the choice: seeds are per replication (see :func:`allianceStats.power`).

    Written to ``out_dir``: ``cell-<key>.parquet`` per finished cell as it arrives (a rerun skips them, so an
    interrupted study resumes), then ``power_table.csv`` (``PowerResult.table``; performance measures and MCSEs
    as defined by Morris, White & Crowther 2019) and ``study.json`` (the resolved settings and provenance).
    Files are written to a temporary name and renamed, with the permissions the umask gives; text cells of the
    table that a spreadsheet would run as a formula get a leading ``'``. Progress (``progress=True``) goes to
    standard error: a bar on a terminal, else one line per finished cell.

    In a script that lets this start a local Dask cluster, call it under ``if __name__ == "__main__":`` (the
    workers import the script; without the guard the call stops with the fix in its message).

    Parameters
    ----------
    path : str or pathlib.Path
        The study file (see :func:`load_study`).
    dask_client : None, "sync" or distributed.Client
        Where the replications run (see above).
    scheduler : str, optional
        Address of an existing Dask scheduler; overrides the file's ``scheduler``.
    progress : bool
        Show a progress bar.

    Returns
    -------
    PowerResult
        As :func:`allianceStats.power` returns it.

    Raises
    ------
    OptionError
        Both ``dask_client`` and ``scheduler``.
    AllianceStatsError
        An invalid study file (see :func:`load_study`) or an unreachable scheduler.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "mediation.toml"
    >>> _ = f.write_text('design = "mediation"\nreps = 10\nseed = 7\nout_dir = "out"\n'
    ...                  '[grid]\nn_clients = 80\n[effects]\na = 0.4\nb = 0.4\n')
    >>> res = run_study(f, dask_client="sync", progress=False)
    >>> sorted(res.table["target"]), sorted(p.name for p in (f.parent / "out").glob("*.csv"))
    (['m -> y', 'x -> m', 'x -> m -> y', 'x -> y (direct)'], ['power_table.csv'])
    """
    study = load_study(path)
    if dask_client is not None and scheduler is not None:
        raise OptionError("run_study(): give either dask_client= or scheduler=, not both.")
    if dask_client is None:
        scheduler = scheduler or study["scheduler"]
    result = power(study["design"], model=study["model"], n_clients=study["n_clients"],
                   n_sessions=study["n_sessions"], effects=study["effects"], reps=study["reps"],
                   alpha=study["alpha"], seed=study["seed"], dask_client=dask_client, scheduler=scheduler,
                   workers=study["workers"], out_dir=study["out_dir"], progress=progress)
    _write_outputs(study, result)
    return result


def _write_outputs(study: dict, result: PowerResult) -> None:
    out = Path(study["out_dir"])
    write_csv(result.table, out / TABLE_FILE, float_format="%.10g")  # formula-like target names neutralised
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in study.items()}
    record = {"study": settings, "model": result.model, "provenance": dataclasses.asdict(result.provenance)}
    tmp = out / f"{STUDY_FILE}.tmp{os.getpid()}"
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, out / STUDY_FILE)
