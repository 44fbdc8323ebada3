"""The ``alliance-stats`` command line: validate, describe, fit, ruptures, report, simulate, power, demo.

Every command takes a session table (CSV or Parquet; ``--client ID`` / ``--therapist`` / ``--session`` name
your columns holding the schema's roles, ``--column NAME=ROLE`` maps any column, as
:func:`allianceStats.read_sessions`) or an analysis file (TOML, see :mod:`allianceStats.analysis`). Results go
to standard output; progress, warnings and messages to standard error. Options follow the package's vocabulary
(docs/design.md, "Vocabulary"): ``--conf-level``, ``--n-draws``, ``--ci``, ``--seed``, ``--waves``,
``--scheduler``; the 0.1 spelling ``--n-boot`` still works with a warning naming ``--n-draws``.

Exit codes: ``0`` success; ``2`` bad input — the data, the options or a file are wrong (a
:class:`~allianceStats.errors.SchemaError` lists every problem); ``1`` the model could not be fitted
(non-convergence, an unidentified model, a numerical failure), with the reason. Every error is one message on
standard error, never a traceback.

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
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ._deprecation import warn_renamed
from .analysis import DEMO_ANALYSIS
from .errors import AllianceStatsError, ConvergenceError, IdentificationError, OptionError

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
        err_console.print(f"error: {err.strerror or err}" + (f": {err.filename}" if err.filename else ""),
                          markup=False)
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


def _load(data: str, columns: list[str] | None, roles=(None, None, None)):
    import allianceStats as als

    if data == "example":
        return als.load_example()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = als.read_sessions(Path(data), columns=_mapping(columns, roles))
    _print_warnings(caught)
    return frame


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
        frame = _load(data, column, roles)
        options = {k: v for k, v in {"waves": list(range(1, waves + 1)) if waves else None,
                                     "constraints": constraints, "conf_level": conf_level}.items() if v is not None}
        fit = als.fit_riclpm if kind == "riclpm" else als.fit_clpm
        with _fitting(kind.upper()):
            res = fit(frame, variables, **options)
        _show(res)
        _write_csv(res.params, out)
        _check_converged(res, f"the {kind.upper()}")


VariablesOpt = Annotated[list[str], typer.Option(
    "--variable", "-v", help="Panel variable (repeat: -v alliance -v outcome).")]
WavesOpt = Annotated[int | None, typer.Option(help="Use sessions 1..WAVES as the waves.")]
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
        text = Path(model).read_text(encoding="utf-8") if Path(model).is_file() else model
        frame = _load(data, column, (client, therapist, session))
        with _fitting("SEM"):
            res = als.fit_sem(model=text, data=frame, **_level(conf_level))
        _show(res)
        _write_csv(res.params, out)
        _check_converged(res, "the SEM")


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
        frame = require_columns(_load(data, column, (client, therapist, session)), [x, *mediator, y],
                                where="fit mediation")
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
        frame = _load(data, column, (client, therapist, session))
        res = als.detect_ruptures(frame, column_name, method=method)
        _show(res)
        _write_csv(res.events, out)


def _run_report(analysis: Path, outdir: Path, strict: bool) -> Path:
    """Run an analysis file (:mod:`allianceStats.analysis`), draw it (:mod:`allianceStats.report`), write it."""
    from .analysis import load_analysis, load_data, run_analysis
    from .report import build_report, write_report

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
        path = write_report(report, outdir)
    for section in report.sections:
        if section.status != "ok":
            err_console.print(f"{section.status}: {section.title}: {section.note}", markup=False)
    if strict and any(s.status == "failed" for s in report.sections):
        raise FitFailure(f"some analyses failed (see above); the report was still written to {path}")
    return path


@app.command()
def report(analysis: Annotated[Path, typer.Argument(help="Analysis file (TOML).")],
           out: Annotated[Path, typer.Option(
               "--out", "-o", help="Output folder for index.html and tables/.")] = Path("reports/report"),
           strict: Annotated[bool, typer.Option(help="Exit 1 if any analysis failed.")] = False) -> None:
    """Run every analysis of a TOML analysis file and write the HTML report and its tables."""
    with _exit_codes():
        path = _run_report(analysis, out, strict)
        typer.echo(f"report written to {path}")


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
    from .report.tables import atomic_write

    with _exit_codes():
        result = run_study(study, scheduler=scheduler, progress=progress)
        out_dir = Path(load_study(study)["out_dir"])
        for target in result.table["target"].unique():
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(target)).strip("_")
            atomic_write(out_dir / f"power_curve_{name}.svg", power_curve_svg(result.table, target=target))
        typer.echo(result.summary())
        typer.echo(f"results and power curves in {out_dir}")


@app.command()
def demo(out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("reports/demo")) -> None:
    """Run the full analysis of the bundled example data and write reports/demo/index.html."""
    with _exit_codes():
        path = _run_report(DEMO_ANALYSIS, out, strict=False)
        typer.echo(f"demo report written to {path.resolve()}")
        typer.echo(f"open it with: xdg-open {path}  (or any web browser)")


def main() -> None:  # pragma: no cover - `python -m allianceStats.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
