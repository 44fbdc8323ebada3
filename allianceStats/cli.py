"""The ``alliance-stats`` command line: validate, describe, fit, ruptures, report, simulate, power, demo.

Every command takes a session table (CSV or Parquet; ``--client ID`` / ``--therapist`` / ``--session`` name
your columns holding the schema's roles, ``--column NAME=ROLE`` maps any column, as
:func:`allianceStats.read_sessions`) or an analysis file (TOML, see :mod:`allianceStats.analysis`). Results go
to standard output; progress, warnings and messages to standard error. Options follow the package's vocabulary
(docs/design.md, "Vocabulary"): ``--conf-level``, ``--n-draws``, ``--ci``, ``--seed``, ``--waves``,
``--scheduler``; the 0.1 spelling ``--n-boot`` still works with a warning naming ``--n-draws``.

Exit codes (:data:`EXIT_CODES`):

``0``
    success; for ``report`` / ``demo``: every section of the report was computed.
``1``
    the model could not be fitted (non-convergence, an unidentified model, a numerical failure), with the
    reason; for ``report`` / ``demo``: the report was written, but at least one section failed (each is
    listed on standard error and at the top of the report).
``2``
    bad input — the data, the options, an analysis or study file, or an input or output path is wrong (a
    :class:`~allianceStats.errors.SchemaError` lists every problem). Nothing is fitted and nothing is written.
``3``
    ``report`` / ``demo`` only: the report was written and nothing failed, but some sections were skipped
    because their columns are absent (listed, with the reason, on standard error and at the top of the report);
    ``--strict`` makes this ``1``.

Every error is one message on standard error, never a traceback. Output paths (``--out``, ``--truth``, a report
folder, a power study's ``out_dir``) are checked before any work is done.

Example
-------
>>> from typer.testing import CliRunner
>>> result = CliRunner().invoke(app, ["validate", "example"])
>>> result.exit_code, result.stdout.startswith("OK:")
(0, True)
"""
from __future__ import annotations

import contextlib
import json
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ._deprecation import warn_renamed
from .analysis import DEMO_ANALYSIS
from .errors import AllianceStatsError, ConvergenceError, DataFileError, IdentificationError, OptionError

#: the exit codes of every command (see the module docstring)
EXIT_OK, EXIT_FIT_FAILED, EXIT_BAD_INPUT, EXIT_SECTIONS_SKIPPED = 0, 1, 2, 3
EXIT_CODES = {EXIT_OK: "success", EXIT_FIT_FAILED: "a model could not be fitted (report: a section failed)",
              EXIT_BAD_INPUT: "bad input: data, options or a path are wrong; nothing was written",
              EXIT_SECTIONS_SKIPPED: "report written; some sections were skipped (their columns are absent)"}

app = typer.Typer(name="alliance-stats", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False,
                  help="Longitudinal alliance–outcome analysis: validate data, fit models, write reports.")
fit_app = typer.Typer(no_args_is_help=True, help="Fit one model and print its results.")
app.add_typer(fit_app, name="fit")

err_console = Console(stderr=True, highlight=False, soft_wrap=True)

DataArg = Annotated[str, typer.Argument(
    help='Session table: a CSV or Parquet file, or "example" for the bundled data.')]
ColumnOpt = Annotated[list[str] | None, typer.Option(
    "--column", "-c", help="Map a column of your file to a schema role: NAME=ROLE (repeatable).")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Also write the main table to this CSV file.")]
ClientOpt = Annotated[str | None, typer.Option(help="Your column holding the client id (default: client).")]
TherapistOpt = Annotated[str | None, typer.Option(help="Your column holding the therapist id (default: therapist).")]
SessionOpt = Annotated[str | None, typer.Option(help="Your column holding the session number (default: session).")]
ConfLevelOpt = Annotated[float | None, typer.Option(
    "--conf-level", help="Level of every confidence interval, between 0 and 1 (default 0.95).")]


class FitFailure(Exception):
    """A model could not be fitted (exit code 1)."""


@contextlib.contextmanager
def _exit_codes() -> Iterator[None]:
    """Map errors to exit codes and print one message, never a traceback, on standard error.

    ``1``: the model could not be fitted (:class:`ConvergenceError`, :class:`IdentificationError`, a numerical
    failure); ``2``: bad input (every other :class:`AllianceStatsError`, a file that cannot be read or written).
    """
    try:
        yield
    except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
        raise
    except (ConvergenceError, IdentificationError, FitFailure) as err:
        err_console.print(f"error: could not fit the model: {err}", markup=False)
        raise typer.Exit(1) from None
    except AllianceStatsError as err:
        err_console.print(f"error: {err}", markup=False)
        raise typer.Exit(2) from None
    except OSError as err:
        where = f"cannot access {err.filename}: " if err.filename else ""
        err_console.print(f"error: {where}{err.strerror or err}", markup=False)
        raise typer.Exit(2) from None
    except Exception as err:  # noqa: BLE001 - a bug still gets one line, not a traceback
        err_console.print(f"error: unexpected {type(err).__name__}: {err} (please report this with the command "
                          "you ran)", markup=False)
        raise typer.Exit(1) from None


def _print_warnings(caught) -> None:
    for w in caught:
        if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)):
            err_console.print(f"warning: {w.category.__name__}: {w.message}", markup=False)


def _renamed_option(old: str, new: str) -> None:
    """Tell the user an option of the 0.1 vocabulary is renamed (the value is still used)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_renamed(old, new)
    _print_warnings(caught)


def _level(conf_level: float | None) -> dict[str, float]:
    return {} if conf_level is None else {"conf_level": conf_level}


def _mapping(columns: list[str] | None, roles: tuple[str | None, str | None, str | None] = (None, None, None)
             ) -> dict[str, str] | None:
    """``--column NAME=ROLE`` and ``--client/--therapist/--session NAME`` as one mapping for read_sessions."""
    out: dict[str, str] = {}
    problems = []
    for item in columns or []:
        name, sep, role = item.partition("=")
        if not sep or not name or not role:
            problems.append(f"--column takes NAME=ROLE (e.g. --column ID=client); got {item!r}")
        out[name] = role
    for role, name in zip(("client", "therapist", "session"), roles):
        if name is not None:
            if out.get(name, role) != role:
                problems.append(f"column {name!r} is given both as --{role} and as --column {name}={out[name]}")
            out[name] = role
    if problems:
        raise OptionError("; ".join(problems))
    return out or None


def _unreadable(path: Path, err: Exception) -> DataFileError | None:
    """One sentence saying why a data file cannot be read (for errors of the file, not of its content)."""
    import pandas as pd

    if isinstance(err, UnicodeDecodeError):
        try:
            with open(path, "rb") as fh:
                head = fh.read(4)
        except OSError:
            head = b""
        if head.startswith(b"PK\x03\x04"):
            return DataFileError(f"{path} is a zip file (an Excel .xlsx workbook renamed .csv?), not CSV text; "
                                 "save the sheet as 'CSV UTF-8' in Excel, or read it with pandas.read_excel and "
                                 "pass the DataFrame")
        return DataFileError(f"{path} is not UTF-8 text (byte 0x{err.object[err.start]:02x} at position "
                             f"{err.start}); save it as UTF-8 (Excel: 'CSV UTF-8'; or iconv -f latin1 -t utf-8)")
    if isinstance(err, pd.errors.EmptyDataError):
        return DataFileError(f"{path} is empty (no header line); a session table needs a header line "
                             "(client,session,...) and one row per session")
    if isinstance(err, pd.errors.ParserError):
        return DataFileError(f"{path} cannot be read as CSV: {str(err).strip().splitlines()[0]}")
    if type(err).__module__.startswith("pyarrow"):
        return DataFileError(f"{path} cannot be read as Parquet: {str(err).strip().splitlines()[0]}")
    return None


def _load(data: str, columns: list[str] | None, roles=(None, None, None)):
    import allianceStats as als

    if data == "example":
        return als.load_example()
    path = Path(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = als.read_sessions(path, columns=_mapping(columns, roles))
        except (AllianceStatsError, OSError):
            raise
        except Exception as err:  # noqa: BLE001 - a file that cannot be read is bad input, with its reason
            reason = _unreadable(path, err)
            if reason is None:
                raise
            raise reason from None
    _print_warnings(caught)
    return frame


def _check_out(out: Path | None, option: str = "--out") -> None:
    """Before any work: ``--out`` must be a file that can be written (not a folder, not below a file)."""
    if out is not None:
        from .report.tables import check_output_file

        check_output_file(out, what=option)


def _check_count(value: int | None, option: str, minimum: int = 1) -> None:
    if value is not None and value < minimum:
        raise OptionError(f"{option}={value} must be a whole number of at least {minimum}")


@contextlib.contextmanager
def _fitting(what: str) -> Iterator[None]:
    """Spinner while fitting; warnings go to stderr; any non-input error becomes a fit failure with its reason."""
    with err_console.status(f"fitting {what} …"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except AllianceStatsError:
            raise
        except Exception as err:  # noqa: BLE001 - reported as the reason, exit code 1
            raise FitFailure(f"{what}: {type(err).__name__}: {err}") from None
        finally:
            _print_warnings(caught)


def _write_csv(frame, out: Path | None) -> None:
    if out is not None:
        from .report.tables import atomic_write, to_csv_text

        atomic_write(out, to_csv_text(frame))
        err_console.print(f"wrote {out}", markup=False)


def _check_converged(result, what: str) -> None:
    if not result.converged:
        raise FitFailure(f"{what} did not converge; the estimates above are not reliable "
                         f"({result.convergence.message}).")


def _check_identified(result, what: str) -> None:
    """A fit without a covariance matrix of its estimates (an unidentified model) is not a usable fit."""
    if getattr(result, "vcov", False) is None:
        reasons = "; ".join(getattr(result.convergence, "warnings", ()) or ()) or "the information matrix is singular"
        raise FitFailure(f"{what} has no standard errors, so the model is probably not identified ({reasons}).")


def _show(result) -> None:
    typer.echo(result.summary())


@app.command()
def validate(data: DataArg,
             column: ColumnOpt = None, client: ClientOpt = None, therapist: TherapistOpt = None,
             session: SessionOpt = None) -> None:
    """Check a session table against the schema; list every problem found (exit 2) or print OK."""
    with _exit_codes():
        frame = _load(data, column, (client, therapist, session))
        n_clients = frame["client"].nunique()
        typer.echo(f"OK: {len(frame)} sessions of {n_clients} clients"
                   + (f" and {frame['therapist'].nunique()} therapists" if "therapist" in frame else "")
                   + f"; columns: {', '.join(map(str, frame.columns))}")


@app.command()
def describe(data: DataArg,
             column: ColumnOpt = None, client: ClientOpt = None, therapist: TherapistOpt = None,
             session: SessionOpt = None) -> None:
    """Print clients, therapists, sessions, attendance, dropout and missingness per measure."""
    import allianceStats as als

    with _exit_codes():
        typer.echo(als.describe(_load(data, column, (client, therapist, session))).summary())


@fit_app.command("mlm")
def fit_mlm(data: DataArg,
            formula: Annotated[str, typer.Option("--formula", "-f", help="lme4-style formula.")],
            decompose: Annotated[list[str] | None, typer.Option(
                help="Split these measures into _within/_between parts (and lags) first (repeatable).")] = None,
            ml: Annotated[bool, typer.Option("--ml", help="Maximum likelihood instead of REML.")] = False,
            conf_level: ConfLevelOpt = None,
            column: ColumnOpt = None, client: ClientOpt = None, therapist: TherapistOpt = None,
            session: SessionOpt = None, out: OutOpt = None) -> None:
    """Fit a nested linear mixed model (lme4 syntax), e.g. -f "outcome ~ alliance_within_lag1 + (1 | client)"."""
    import allianceStats as als

    with _exit_codes():
        _check_out(out)
        frame = _load(data, column, (client, therapist, session))
        if decompose:
            frame = als.decompose(frame, decompose,
                                  therapist="therapist" if "therapist" in frame.columns else None)
        with _fitting("mixed model"):
            res = als.fit_mlm(frame, formula, reml=not ml, **_level(conf_level))
        _show(res)
        _write_csv(res.params, out)
        _check_converged(res, "the mixed model")


def _panel(kind: str, data: str, variables: list[str], waves: int | None, constraints: str | None,
           conf_level: float | None, column: list[str] | None, roles: tuple, out: Path | None) -> None:
    import allianceStats as als

    with _exit_codes():
        _check_out(out)
        _check_count(waves, "--waves", minimum=2)
        frame = _load(data, column, roles)
        options = {k: v for k, v in {"waves": list(range(1, waves + 1)) if waves is not None else None,
                                     "constraints": constraints, "conf_level": conf_level}.items() if v is not None}
        fit = als.fit_riclpm if kind == "riclpm" else als.fit_clpm
        with _fitting(kind.upper()):
            res = fit(frame, variables, **options)
        _show(res)
        _write_csv(res.params, out)
        _check_converged(res, f"the {kind.upper()}")
        _check_identified(res, f"the {kind.upper()}")


VariablesOpt = Annotated[list[str], typer.Option(
    "--variable", "-v", help="Panel variable (repeat: -v alliance -v outcome).")]
WavesOpt = Annotated[int | None, typer.Option(help="Use sessions 1..WAVES as the waves (at least 2; default: all).")]
ConstraintsOpt = Annotated[str | None, typer.Option(help='None, "lagged" or "stationary".')]


@fit_app.command("riclpm")
def fit_riclpm(data: DataArg, variable: VariablesOpt, waves: WavesOpt = None, constraints: ConstraintsOpt = None,
               conf_level: ConfLevelOpt = None,
               column: ColumnOpt = None, client: ClientOpt = None, therapist: TherapistOpt = None,
               session: SessionOpt = None, out: OutOpt = None) -> None:
    """Fit a random-intercept cross-lagged panel model (Hamaker et al. 2015) by FIML."""
    _panel("riclpm", data, variable, waves, constraints, conf_level, column, (client, therapist, session), out)


@fit_app.command("clpm")
def fit_clpm(data: DataArg, variable: VariablesOpt, waves: WavesOpt = None, constraints: ConstraintsOpt = None,
             conf_level: ConfLevelOpt = None,
             column: ColumnOpt = None, client: ClientOpt = None, therapist: TherapistOpt = None,
             session: SessionOpt = None, out: OutOpt = None) -> None:
    """Fit a cross-lagged panel model by FIML."""
    _panel("clpm", data, variable, waves, constraints, conf_level, column, (client, therapist, session), out)


@fit_app.command("sem")
def fit_sem(data: DataArg,
            model: Annotated[str, typer.Option("--model", "-m", help="lavaan syntax, or a file holding it.")],
            conf_level: ConfLevelOpt = None,
            column: ColumnOpt = None, client: ClientOpt = None, therapist: TherapistOpt = None,
            session: SessionOpt = None, out: OutOpt = None) -> None:
    """Fit a structural equation model written in lavaan syntax (ML / FIML)."""
    import allianceStats as als

    with _exit_codes():
        _check_out(out)
        text = Path(model).read_text(encoding="utf-8") if Path(model).is_file() else model
        frame = _load(data, column, (client, therapist, session))
        with _fitting("SEM"):
            res = als.fit_sem(model=text, data=frame, **_level(conf_level))
        _show(res)
        _write_csv(res.params, out)
        _check_converged(res, "the SEM")
        _check_identified(res, "the SEM")


@fit_app.command("mediation")
def fit_mediation(data: DataArg,
                  x: Annotated[str, typer.Option("--x", help="Predictor.")],
                  mediator: Annotated[list[str], typer.Option("--mediator", "-m", help="Mediator (repeatable).")],
                  y: Annotated[str, typer.Option("--y", help="Outcome.")],
                  serial: Annotated[bool, typer.Option(help="Mediators form a chain in the given order.")] = False,
                  unit: Annotated[str, typer.Option(
                      help='"client" (client means) or "session" (clients resampled).')] = "client",
                  n_draws: Annotated[int, typer.Option(help="Bootstrap resamples (or Monte Carlo draws).")] = 5000,
                  ci: Annotated[str, typer.Option(
                      help='Interval method: "percentile", "bca", "monte_carlo" or "delta".')] = "percentile",
                  conf_level: ConfLevelOpt = None,
                  seed: Annotated[int, typer.Option(help="Random seed (recorded with the result).")] = 1,
                  n_boot: Annotated[int | None, typer.Option(hidden=True, help="Renamed --n-draws.")] = None,
                  column: ColumnOpt = None, client: ClientOpt = None, therapist: TherapistOpt = None,
                  session: SessionOpt = None, out: OutOpt = None) -> None:
    """Indirect effects of X on Y through the mediators, with bootstrap (or Monte Carlo) intervals."""
    import allianceStats as als

    from .data.checks import check_choice, require_columns

    with _exit_codes():
        if n_boot is not None:
            _renamed_option("--n-boot", "--n-draws")
            n_draws = n_boot
        check_choice("--unit", unit, ["client", "session"])
        _check_count(seed, "--seed", minimum=0)
        _check_out(out)
        roles = {"--x": [x], "--mediator": mediator, "--y": [y]}
        repeated = sorted({c for cols in roles.values() for c in cols
                           if sum(cols.count(c) for cols in roles.values()) > 1})
        if repeated:
            raise OptionError(f"column(s) {repeated} are given more than once among --x, --mediator and --y; each "
                              "column plays one role")
        frame = require_columns(_load(data, column, (client, therapist, session)),
                                list(dict.fromkeys([x, *mediator, y])), where="fit mediation")
        kwargs = {"n_draws": n_draws, "ci": ci, "seed": seed, **_level(conf_level)}
        if unit == "client":
            frame = frame.groupby("client", sort=True)[[x, *mediator, y]].mean().reset_index()
        else:
            kwargs["client"] = "client"
        with _fitting("mediation model"):
            res = als.fit_mediation(frame, x, mediator, y, serial=serial, **kwargs)
        _show(res)
        _write_csv(res.effects, out)


@app.command()
def ruptures(data: DataArg,
             column_name: Annotated[str, typer.Option("--measure", help="Alliance column.")] = "alliance",
             method: Annotated[str, typer.Option(help='"stiles2004" (2 SD) or "strauss2006" (1 SD).')] = "stiles2004",
             column: ColumnOpt = None, client: ClientOpt = None, therapist: TherapistOpt = None,
             session: SessionOpt = None, out: OutOpt = None) -> None:
    """Detect alliance ruptures and their repair per client; print the counts (events to --out)."""
    import allianceStats as als

    with _exit_codes():
        _check_out(out)
        frame = _load(data, column, (client, therapist, session))
        res = als.detect_ruptures(frame, column_name, method=method)
        _show(res)
        _write_csv(res.events, out)


class ReportRun(NamedTuple):
    """What ``_run_report`` wrote: the path of ``index.html`` and the report (its sections and their status)."""

    path: Path
    report: Any


def _run_report(analysis: Path, outdir: Path) -> ReportRun:
    """Run an analysis file (:mod:`allianceStats.analysis`), draw it (:mod:`allianceStats.report`), write it.

    The output folder is checked before anything runs. Failed and skipped sections are listed on standard error.
    """
    from .analysis import load_analysis, load_data, run_analysis
    from .report import build_report, write_report
    from .report.tables import check_output_folder

    check_output_folder(outdir, what="the report folder (--out)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = load_analysis(analysis)
        data = load_data(spec)
    _print_warnings(caught)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=err_console, transient=True) as progress:
        task = progress.add_task("analysis", total=len(spec.steps))

        def tick(step: str) -> None:
            progress.update(task, description=f"running {step}", completed=spec.steps.index(step))

        run = run_analysis(spec, data, progress=tick)
        progress.update(task, completed=len(spec.steps), description="writing report")
        report = build_report(run)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            path = write_report(report, outdir)
    _print_warnings(caught)
    if report.problems:
        err_console.print(f"{len(report.problems)} of {len(report.sections)} sections not computed:", markup=False)
    for section in report.problems:
        err_console.print(f"{section.status}: {section.title}: {section.note}", markup=False)
    return ReportRun(path, report)


def _sections_exit(run: ReportRun, strict: bool) -> None:
    """Leave with the code the report's sections call for (:data:`EXIT_CODES`), saying so on standard error."""
    failed, skipped = run.report.failed, run.report.skipped
    if failed:
        err_console.print(f"error: {len(failed)} section(s) failed; the report lists them at the top "
                          f"({run.path})", markup=False)
        raise typer.Exit(EXIT_FIT_FAILED)
    if skipped:
        err_console.print(f"{'error' if strict else 'note'}: {len(skipped)} section(s) skipped because their "
                          f"columns are absent ({run.path})", markup=False)
        raise typer.Exit(EXIT_FIT_FAILED if strict else EXIT_SECTIONS_SKIPPED)


@app.command()
def report(analysis: Annotated[Path, typer.Argument(help="Analysis file (TOML).")],
           out: Annotated[Path, typer.Option(
               "--out", "-o", help="Output folder for index.html and tables/.")] = Path("reports/report"),
           strict: Annotated[bool, typer.Option(
               help="Exit 1 also when sections were skipped (otherwise 3).")] = False) -> None:
    """Run every analysis of a TOML analysis file and write the HTML report and its tables.

    Exit codes: 0 every section computed; 1 some section failed; 3 some skipped (columns absent); 2 bad input
    (nothing written). Failed and skipped sections are listed on stderr and at the top of the report.
    """
    with _exit_codes():
        run = _run_report(analysis, out)
        typer.echo(f"report written to {run.path}")
    _sections_exit(run, strict)


@app.command()
def simulate(out: Annotated[Path, typer.Option("--out", "-o", help="CSV file for the session table.")],
             therapists: int = 20, clients: Annotated[int, typer.Option(help="Clients per therapist.")] = 10,
             sessions: int = 10, seed: int = 1,
             truth: Annotated[Path | None, typer.Option(
                 help="Also write the population values (JSON).")] = None) -> None:
    """Simulate session data from the cyclical alliance / SDT model (known truth) to a CSV file."""
    from .report.tables import atomic_write, to_csv_text
    from .simulate import sdt_cycle

    with _exit_codes():
        _check_out(out)
        _check_out(truth, "--truth")
        if truth is not None and truth.resolve() == out.resolve():
            raise OptionError(f"--truth and --out are the same file ({out}); give two file names")
        _check_count(seed, "--seed", minimum=0)
        for option, value in (("--therapists", therapists), ("--clients", clients), ("--sessions", sessions)):
            _check_count(value, option)
        with err_console.status("simulating …"):
            data, pop = sdt_cycle(therapists, clients, sessions, seed=seed)
        atomic_write(out, to_csv_text(data))
        if truth is not None:
            atomic_write(truth, json.dumps(pop, indent=1, sort_keys=True, default=_jsonable) + "\n")
        typer.echo(f"wrote {len(data)} sessions of {data['client'].nunique()} clients to {out}")


def _jsonable(value):
    import numpy as np
    import pandas as pd

    if isinstance(value, (pd.DataFrame, pd.Series)):
        return json.loads(value.to_json(orient="split"))
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


@app.command()
def power(study: Annotated[Path, typer.Argument(
              help="Power-study file (TOML), e.g. analyses/studies/riclpm_power.toml.")],
          scheduler: Annotated[str | None, typer.Option(
              "--scheduler",
              help="Address of an existing Dask scheduler (tcp://host:port); default: a local cluster.")] = None,
          progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True) -> None:
    """Run a Monte Carlo power study: per-cell results, power_table.csv and one power-curve SVG per target."""
    import re

    from .power_analysis.studyfile import load_study, run_study
    from .report.power_curve import power_curve_svg
    from .report.tables import atomic_write, check_output_folder

    with _exit_codes():
        out_dir = Path(load_study(study)["out_dir"])
        check_output_folder(out_dir, what=f"the study's out_dir ({study})")
        result = run_study(study, scheduler=scheduler, progress=progress)
        for target in result.table["target"].unique():
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(target)).strip("_")
            atomic_write(out_dir / f"power_curve_{name}.svg", power_curve_svg(result.table, target=target))
        typer.echo(result.summary())
        typer.echo(f"results and power curves in {out_dir}")


@app.command()
def demo(out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("reports/demo")) -> None:
    """Run the full analysis of the bundled example data and write reports/demo/index.html.

    Exit codes as ``report``: 0 every section computed; 1 some failed; 3 some skipped; 2 the folder is not usable.
    """
    with _exit_codes():
        run = _run_report(DEMO_ANALYSIS, out)
        typer.echo(f"demo report written to {run.path.resolve()}")
        typer.echo(f"open it with: xdg-open {run.path}  (or any web browser)")
    _sections_exit(run, strict=False)


def main() -> None:  # pragma: no cover - `python -m allianceStats.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
