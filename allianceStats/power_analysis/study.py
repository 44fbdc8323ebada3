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
to one thread, as in a Dask worker).

Resuming: each cell is written to Parquet (temporary file, then rename) the moment its last replication arrives,
to ``out_dir`` — by default a folder of the user's cache, ``~/.cache/allianceStats/power/<model>-<key>/``
(``$XDG_CACHE_HOME`` or ``$ALLIANCESTATS_CACHE_DIR`` move it; ``<key>`` is a hash of everything that determines the
numbers except the grid, so extending the grid reuses the finished cells), never the source tree, and holding a
``.gitignore`` so it is never committed. A rerun skips finished cells: an interrupted or killed study resumes.
A cell file is self-describing: it stores its model, sizes, effects, replications, alpha and seed, and is used
only for the cell it describes; a file that is truncated, unreadable or describes another cell is recomputed,
with a warning. ``out_dir=False`` writes nothing.

Progress: a bar on a terminal; otherwise (a log file, a pipe, CI, a notebook) one line per finished cell on
standard error, with the replications, failures and the time elapsed.

A local cluster starts worker *processes* that import the calling script, so a script must start the study
under ``if __name__ == "__main__":`` (otherwise every worker would start it again and Dask fails with a long
"Nanny failed to start" traceback); :func:`power` finds a call outside the guard before starting the cluster and
says so in one error with the two-line fix.

Example
-------
>>> import allianceStats as als
>>> res = als.power("regression", n_clients=[20, 40], effects={"slope": 0.5}, reps=50, seed=1,
...                 dask_client="sync", progress=False)
>>> res.table[["n_clients", "target", "power"]].shape
(2, 3)
>>> res.n_obs, res.conf_level, res.provenance.seed
(100, 0.95, 1)

In a script, on a local cluster (the default executor):

>>> if __name__ == "__main__":   # Dask's worker processes import the script: the study must not run again there
...     res = als.power("riclpm", n_clients=[100, 200], n_sessions=5, reps=1000, seed=1)
"""
from __future__ import annotations

import ast
import hashlib
import inspect
import json
import os
import sys
import time
import tokenize
import warnings
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd

from .._deprecation import renamed_arguments
from ..data.checks import check_alpha, check_bool, check_choice, check_positive_int, resolve_seed
from ..errors import AllianceStatsError, DataWarning, OptionError
from ..results import CLOSED_FORM, Convergence, Provenance, ResultDisplay, make_provenance
from ..simulate import designs
from .families import get_family, run_replication

BATCH = 25  # replications per task: large enough to amortise scheduling, small enough to balance two cores
CACHE_ENV = "ALLIANCESTATS_CACHE_DIR"  # moves the default folder of power studies
CELL_FORMAT = 2  # version of the self-describing cell files (1: the grid position only, before 0.2.0)
_META_KEY = b"allianceStats.cell"


def _run_batch(family, cell, effects, alpha, seeds, first_rep):
    """Replications ``first_rep, first_rep + 1, ...`` of one cell; each row names its cell's sizes (not its place
    in the grid), so a stored cell describes itself."""
    rows = []
    for k, s in enumerate(seeds):
        for r in run_replication(family, cell, effects, alpha, s):
            rows.append({**cell, "rep": first_rep + k, **r})
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
        if not sessions:
            raise OptionError("power(): n_sessions=[] is empty; give an integer or a non-empty list of integers.")
    else:
        sessions = [None] if n_sessions is None else ([n_sessions] if np.isscalar(n_sessions) else list(n_sessions))
    values = clients + [s for s in sessions if s is not None]
    bad = [v for v in values if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer,
                                                                                      np.floating))
           or not np.isfinite(v) or int(v) != v or v < 2]
    if not clients:
        raise OptionError("power(): n_clients=[] is empty; give an integer or a non-empty list of integers.")
    if bad:
        raise OptionError(f"power(): numbers of clients and sessions must be integers >= 2; got {bad}.")
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


def _cell_description(model, cell, effects, reps, alpha, seed) -> str:
    """What a cell file must say about itself to be used for this cell (canonical JSON)."""
    return json.dumps({"format": CELL_FORMAT, "model": model, "cell": cell, "effects": effects, "reps": reps,
                       "alpha": alpha, "seed": seed}, sort_keys=True, default=str)


def _write_cell(frame: pd.DataFrame, path: Path, description: str) -> None:
    """The cell's replications with its description in the Parquet metadata; temporary file, then rename."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META_KEY: description.encode()})
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _read_cell(path: Path, description: str, cell: dict, reps: int) -> tuple[pd.DataFrame | None, str]:
    """``(frame, "")`` if ``path`` holds this cell's finished replications, else ``(None, why not)``."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
        frame = table.to_pandas()
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError; truncated or empty files
        return None, f"it cannot be read ({str(err).strip().splitlines()[0][:160]})"
    stored = (table.schema.metadata or {}).get(_META_KEY)
    if stored is None:
        return None, "it does not describe its cell (written before 0.2.0, when cell files held a grid position)"
    if stored.decode() != description:
        return None, f"it describes another cell ({stored.decode()[:300]})"
    for name, value in cell.items():
        if name not in frame or not (frame[name] == value).all():
            return None, f"its rows are not all for {name} = {value}"
    if set(frame.get("rep", pd.Series(dtype=int)).unique()) != set(range(reps)):
        return None, f"it does not hold replications 0..{reps - 1}"
    per_rep = frame.groupby("rep").size()
    if per_rep.nunique() != 1:
        return None, "its replications do not all have the same targets"
    return frame, ""


def cache_dir() -> Path:
    """Folder of the package's resumable outputs: ``$ALLIANCESTATS_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/allianceStats`` (``~/.cache/allianceStats``; on Windows ``%LOCALAPPDATA%/allianceStats``).

    >>> cache_dir().name in ("allianceStats",) or "ALLIANCESTATS_CACHE_DIR" in os.environ
    True
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "allianceStats"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "allianceStats"


def default_out_dir(name: str, model: str, effects: dict, reps: int, alpha: float, seed: int) -> Path:
    """The default folder of a power study: ``<cache_dir()>/power/<name>-<key>``, where ``key`` hashes everything
    that determines the numbers except the grid (so a wider grid reuses the finished cells).

    >>> default_out_dir("mlm", "mlm", {}, 500, 0.05, 1).parent.name
    'power'
    """
    blob = json.dumps([model, effects, reps, alpha, seed], sort_keys=True, default=str)
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:40] or "study"
    return cache_dir() / "power" / f"{safe}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def _prepare_out_dir(out: Path, *, explicit: bool) -> Path | None:
    """Create the study folder; an unusable ``out_dir`` given by the user is an OptionError (a default one that
    cannot be created only warns: the study then runs without resume points)."""
    problem = None
    if out.exists() and not out.is_dir():
        problem = f"out_dir={str(out)!r} is a file, not a folder; give a folder (it is created if needed)"
    else:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            problem = f"out_dir={str(out)!r} cannot be created: a folder above it is a file"
        except NotADirectoryError:
            problem = f"out_dir={str(out)!r} cannot be created: a folder above it is a file"
        except OSError as err:
            problem = f"out_dir={str(out)!r} cannot be created: {err.strerror or err}"
        if problem is None and not os.access(out, os.W_OK | os.X_OK):
            problem = f"out_dir={str(out)!r} cannot be written: permission denied"
    if problem is None:
        if cache_dir().resolve() in out.resolve().parents:  # the cache is never committed, wherever it lives
            ignore = cache_dir() / ".gitignore"
            if not ignore.exists():
                try:
                    ignore.write_text("# allianceStats cache: never commit it\n*\n", encoding="utf-8")
                except OSError:
                    pass
        return out
    if explicit:
        raise OptionError(problem)
    warnings.warn(f"power(): the default study folder cannot be used ({problem}); the study runs without resume "
                  "points — pass out_dir= a folder you can write to", DataWarning, stacklevel=3)
    return None


_DEFAULT_MODEL = {"regression": "regression", "within_between": "mlm", "riclpm": "riclpm", "mediation": "mediation",
                  "multilevel_mediation": "multilevel_mediation", "binary_within_between": "glmm_binary"}
CONNECT_TIMEOUT = "20s"  # how long power() waits for a scheduler given by address


def effect_names(design: str) -> list[str]:
    """The population values (keyword-only arguments, ``seed`` excluded) design ``design`` accepts.

    >>> effect_names("mediation")
    ['a', 'b', 'direct', 'variables']
    """
    sig = inspect.signature(getattr(designs, design))
    return [p.name for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY and p.name != "seed"]


def check_effects(design: str, effects: dict, cells: list[dict]) -> None:
    """Unknown effect names, and values the design rejects on the grid's smallest cell, as one OptionError.

    >>> check_effects("regression", {"slop": 0.3}, [{"n_clients": 20}])
    Traceback (most recent call last):
    ...
    allianceStats.errors.OptionError: effects: unknown name(s) 'slop' for design 'regression'; valid: slope, ...
    """
    valid = effect_names(design)
    unknown = [k for k in effects if k not in valid]
    if unknown:
        raise OptionError(f"effects: unknown name(s) {', '.join(map(repr, unknown))} for design {design!r}; valid: "
                          f"{', '.join(valid)}")
    small = min(cells, key=lambda c: (c["n_clients"], c.get("n_sessions", 0)))
    args = [max(small["n_clients"], 5)] + ([max(small["n_sessions"], 3)] if "n_sessions" in small else [])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            getattr(designs, design)(*args, **effects, seed=0)
    except (AllianceStatsError, TypeError, ValueError, ArithmeticError) as err:
        raise OptionError(f"effects were rejected by design {design!r}: {str(err).strip().splitlines()[0]}") from None


def _connect(address: str):
    from distributed import Client

    try:
        return Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError, TypeError) as err:
        raise AllianceStatsError(f"power(): cannot connect to the Dask scheduler at {address!r} ({err}); check the "
                                 "address or leave out scheduler= to use a local cluster.") from None


def _guard_fix(call: str) -> str:
    return ("\n\n    if __name__ == \"__main__\":\n        " + call.strip() + "\n\n")


def _unguarded_script_call() -> tuple[str, int, str] | None:
    """``(script, line, source line)`` if this call comes from a script's top-level code outside
    ``if __name__ == "__main__":`` (where a local cluster's spawned workers would run it again), else None."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path or not str(path).endswith(".py"):
        return None  # an interactive session, python -c, a notebook: workers cannot import it
    script = os.path.realpath(path)
    frame = sys._getframe(1)
    while frame is not None and not (frame.f_globals is vars(main) and frame.f_code.co_name == "<module>"
                                     and os.path.realpath(frame.f_code.co_filename) == script):
        frame = frame.f_back
    if frame is None:
        return None
    line = frame.f_lineno
    try:
        with tokenize.open(path) as fh:
            source = fh.read()
        tree = ast.parse(source)
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_main_test(node.test) and node.body \
                and node.body[0].lineno <= line <= (node.body[-1].end_lineno or line):
            return None
    text = source.splitlines()[line - 1] if 0 < line <= len(source.splitlines()) else "res = als.power(...)"
    return str(path), line, text


def _is_main_test(test) -> bool:
    """True for ``__name__ == "__main__"`` (either order), also inside ``and`` / ``or``."""
    for node in ast.walk(test):
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
            sides = [node.left, node.comparators[0]]
            if any(isinstance(a, ast.Name) and a.id == "__name__" for a in sides) and \
                    any(isinstance(a, ast.Constant) and a.value == "__main__" for a in sides):
                return True
    return False


def _check_main_guard() -> None:
    """Before a local cluster starts: refuse a script-level call outside the main guard, with the fix (only when
    Dask spawns its worker processes, its default; forked workers do not import the script)."""
    import dask.config

    if dask.config.get("distributed.worker.multiprocessing-method", "spawn") != "spawn":
        return
    main = sys.modules.get("__main__")
    if getattr(main, "__name__", "__main__") == "__mp_main__":  # inside a spawned worker importing the script
        raise AllianceStatsError(
            "power() was started while a Dask worker process imported the calling script: the script runs the "
            "study at import time. Put the call under the main guard:" + _guard_fix("res = als.power(...)")
            + "or pass dask_client=\"sync\" to run in this process.")
    found = _unguarded_script_call()
    if found is not None:
        path, line, text = found
        raise AllianceStatsError(
            f"power() starts a local Dask cluster whose worker processes import your script {path}; line {line} "
            "runs the study at import time, so every worker would start it again (Dask then fails with "
            "\"Nanny failed to start\"). Put the call under the main guard:" + _guard_fix(text)
            + "or pass dask_client=\"sync\" to run in this process.")


@renamed_arguments(client="dask_client")
def power(design: str, model: str | None = None, *, n_clients, n_sessions=None, effects: dict | None = None,
          reps: int = 1000, alpha: float = 0.05, seed: int | None = None, dask_client=None,
          scheduler: str | None = None, workers: int | None = None, out_dir: str | Path | bool | None = None,
          progress: bool = True, _stop_after: int | None = None) -> PowerResult:
    """Monte Carlo power, bias, RMSE and coverage for a grid of sample sizes (definitions in the module docstring).

    Performance measures and their Monte Carlo standard errors follow Morris, White & Crowther (2019); each
    replication is simulated by :mod:`allianceStats.simulate.designs` and fitted by its model family
    (:mod:`allianceStats.power_analysis.families`).

    Parameters
    ----------
    design : {"regression", "within_between", "riclpm", "mediation", "multilevel_mediation", "binary_within_between"}
        The data-generating process (:mod:`allianceStats.simulate.designs`); it fixes the default model.
    model : {"regression", "mlm", "riclpm", "mediation", "multilevel_mediation", "glmm_binary"}, optional
        The model family fitted to each replication (default: the design's own).
    n_clients, n_sessions : int or list of int
        The grid (sessions = waves for the RI-CLPM). ``n_sessions`` is ignored by single-level designs.
    effects : dict
        Population values passed to the design, e.g. ``{"lagged": [[0.3, 0.1], [0.15, 0.3]], "dropout": 0.1}``,
        and ``variables``, the names the targets are given (``{"variables": ["alliance", "outcome"]}`` gives
        ``"alliance -> outcome"``). An unknown name or a value the design rejects is an OptionError.
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
    out_dir : path or False, optional
        Folder for the per-cell Parquet files; finished cells are skipped on a rerun (resume). Default: a folder of
        the user's cache named after the study (module docstring), so a crash never loses finished cells;
        ``False`` writes nothing.
    progress : bool
        Show progress: a bar on a terminal, else one line per finished cell on standard error.

    Returns
    -------
    PowerResult
        ``table`` (one row per cell and target) and ``replications`` (every replication's row).

    Raises
    ------
    OptionError
        An unknown design or model, a bad or empty grid, an unknown effect name or a value the design rejects,
        bad ``reps``, ``alpha``, ``seed``, ``workers`` or ``scheduler``, both ``dask_client`` and ``scheduler``, or
        an ``out_dir`` that is a file or cannot be written.
    AllianceStatsError
        The scheduler cannot be reached, the study stopped before every cell finished (rerun to resume), or a
        script would start a local cluster outside ``if __name__ == "__main__":`` (the message shows the fix).

    Examples
    --------
    >>> res = power("mediation", n_clients=100, effects={"a": 0.4, "b": 0.4}, reps=20, seed=3, dask_client="sync",
    ...             progress=False)
    >>> sorted(res.table["target"])
    ['m -> y', 'x -> m', 'x -> m -> y', 'x -> y (direct)']

    On a local cluster (``dask_client=None``), from a script: its worker processes import the script, so the call
    goes under the main guard (without it, power() stops with this fix in its message):

    >>> if __name__ == "__main__":
    ...     res = power("riclpm", n_clients=[100, 200], n_sessions=5, reps=1000, seed=1,
    ...                 effects={"variables": ["alliance", "outcome"]})
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
    if effects is not None and not isinstance(effects, dict):
        raise OptionError(f"effects={effects!r} must be a dict of population values, e.g. {{'slope': 0.3}}")
    effects = dict(effects or {})
    cells = _cells(n_clients, n_sessions, fam.needs_sessions)
    check_effects(design, effects, cells)
    cell_seqs = [np.random.SeedSequence(seed, spawn_key=(c["n_clients"], c.get("n_sessions", 0))) for c in cells]
    if out_dir is False:
        out = None
    elif out_dir is None:
        out = _prepare_out_dir(default_out_dir(model, model, effects, reps, alpha, seed), explicit=False)
    elif isinstance(out_dir, (str, os.PathLike)) and str(out_dir):
        out = _prepare_out_dir(Path(out_dir), explicit=True)
    else:
        raise OptionError(f"out_dir={out_dir!r} must be a folder path, None (the default folder) or False (none)")

    frames, todo, stale = {}, [], []
    for i, cell in enumerate(cells):
        path = out / f"cell-{_cell_key(model, cell, effects, reps, alpha, seed)}.parquet" if out is not None else None
        description = _cell_description(model, cell, effects, reps, alpha, seed)
        if path is not None and path.is_file():
            frame, why = _read_cell(path, description, cell, reps)
            if frame is not None:
                frames[i] = frame
                continue
            stale.append(f"{path.name} ({_cell_text(cell)}): {why}")
        todo.append((i, cell, path, description))
    if stale:
        warnings.warn(f"power(): {len(stale)} cell file(s) in {out} cannot be used and are recomputed: "
                      + "; ".join(stale), DataWarning, stacklevel=3)

    if todo:
        own_client = own_cluster = None
        if dask_client is None:
            if scheduler is not None:
                dask_client = own_client = _connect(scheduler)
            else:
                _check_main_guard()
                from distributed import Client, LocalCluster

                own_cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                           processes=True, dashboard_address=":0")
                dask_client = own_client = Client(own_cluster)
        try:
            frames.update(_execute(model, todo, cell_seqs, effects, alpha, reps, dask_client, progress, _stop_after,
                                   n_loaded=len(frames), n_cells=len(cells), started=started))
        finally:
            if own_client is not None:
                own_client.close()
            if own_cluster is not None:
                own_cluster.close()

    missing = [cells[i] for i, *_ in todo if i not in frames]
    if missing:
        where = (f"finished cells are saved in {out}; run" if out is not None
                 else "nothing was saved (out_dir=False); run")
        raise AllianceStatsError(f"power(): the study stopped before cells {missing} finished; {where} the same "
                                 f"call again (seed={seed}) to resume.")
    reps_frame = pd.concat([frames[i].assign(cell=i) for i in range(len(cells))], ignore_index=True)
    reps_frame = reps_frame[["cell", *[c for c in reps_frame.columns if c != "cell"]]]
    table = _summarise(reps_frame, alpha)
    grid = pd.DataFrame(cells).reset_index(names="cell")
    table = grid.merge(table, on="cell").drop(columns="cell")
    table.insert(0, "model", model)
    return PowerResult(table=table, replications=reps_frame, model=model, alpha=alpha, effects=effects,
                       provenance=make_provenance(grid, options={"design": design, "model": model, "reps": reps,
                                                                 "alpha": alpha, "effects": effects,
                                                                 "cells": cells,
                                                                 "out_dir": str(out) if out is not None else None},
                                                  seed=seed, function="power", started=started),
                       n_obs=int(reps * len(cells)), conf_level=1.0 - alpha)


def _cell_text(cell: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in cell.items())


class _Progress:
    """A bar on a terminal; elsewhere one line per finished cell on standard error (counts and elapsed time)."""

    def __init__(self, model, n_batches, n_todo, n_loaded, n_cells, enabled, started):
        from rich.console import Console
        from rich.progress import Progress

        self.console = Console(stderr=True)
        self.bar = enabled and self.console.is_terminal
        self.lines = enabled and not self.bar
        self.model, self.n_todo, self.started, self.done = model, n_todo, started, 0
        self.progress = Progress(console=self.console, disable=not self.bar, transient=True)
        self.task = self.progress.add_task(f"{model}: {n_batches} batches", total=n_batches)
        if self.lines:
            loaded = f"; {n_loaded} loaded from earlier runs" if n_loaded else ""
            self._line(f"{n_todo} of {n_cells} cells to run ({n_batches} batches){loaded}")

    def _line(self, text):
        print(f"power {self.model}: {text}", file=sys.stderr, flush=True)

    def batch_done(self):
        self.progress.advance(self.task)

    def cell_done(self, cell, frame):
        self.done += 1
        if self.lines:
            by_rep = frame.groupby("rep")
            failed = int((~by_rep["converged"].all()).sum())
            improper = int((~by_rep["proper"].all()).sum())
            self._line(f"cell {self.done}/{self.n_todo} finished ({_cell_text(cell)}): {by_rep.ngroups} replications, "
                       f"{failed} failed, {improper} improper; {time.perf_counter() - self.started:.1f} s elapsed")

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)


def _execute(model, todo, cell_seqs, effects, alpha, reps, dask_client, progress, stop_after, *, n_loaded=0,
             n_cells=None, started=None):
    from threadpoolctl import threadpool_limits

    by_index = {i: (cell, path, description) for i, cell, path, description in todo}
    batches = []
    for i, cell, _, _ in todo:
        seeds = cell_seqs[i].spawn(reps)
        for start in range(0, reps, BATCH):
            batches.append((i, cell, seeds[start:start + BATCH], start))
    results: dict[int, list] = {i: [] for i in by_index}
    remaining = {i: sum(1 for b in batches if b[0] == i) for i in by_index}
    done_cells = {}
    with _Progress(model, len(batches), len(todo), n_loaded, n_cells or len(todo), progress,
                   started if started is not None else time.perf_counter()) as bar:
        if dask_client == "sync":
            def stream_sync():
                with threadpool_limits(1):  # tiny matrices: one BLAS thread is faster, and matches Dask workers
                    for b in batches:
                        yield b, _run_batch(model, b[1], effects, alpha, b[2], b[3])

            stream = stream_sync()
        else:
            futures = {dask_client.submit(_run_batch, model, b[1], effects, alpha, b[2], b[3], pure=False): b
                       for b in batches}
            from distributed import as_completed

            stream = ((futures[f], f.result()) for f in as_completed(futures))
        for b, rows in stream:
            i = b[0]
            results[i].extend(rows)
            remaining[i] -= 1
            if remaining[i] == 0:
                frame = pd.DataFrame(results[i]).sort_values(["rep", "target"], kind="stable")
                done_cells[i] = frame.reset_index(drop=True)
                cell, path, description = by_index[i]
                if path is not None:  # saved at once, so a killed study keeps every finished cell
                    _write_cell(done_cells[i], path, description)
                bar.cell_done(cell, done_cells[i])
            bar.batch_done()
            if stop_after is not None and len(done_cells) >= stop_after:
                break
    return done_cells
