"""The ``alliance-stats`` command line: validate, describe, fit, ruptures, report, simulate, power, demo.

Every command takes a session table (CSV or Parquet; ``--column NAME=ROLE`` maps your column names to
the schema's roles, as :func:`allianceStats.read_sessions`) or an analysis file (TOML, see
:mod:`allianceStats.report.runner`). Results go to standard output; progress and messages to standard
error.

Exit codes: ``0`` success; ``2`` bad input — the data or the options are wrong (a
:class:`~allianceStats.errors.SchemaError` lists every problem; no traceback); ``1`` the model could not
be fitted (non-convergence, an unidentified model, a numerical failure), with the reason.

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
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from .errors import AllianceStatsError, ConvergenceError, IdentificationError

app = typer.Typer(name="alliance-stats", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False,
                  help="Longitudinal alliance–outcome analysis: validate data, fit models, write reports.")
fit_app = typer.Typer(no_args_is_help=True, help="Fit one model and print its results.")
app.add_typer(fit_app, name="fit")

err_console = Console(stderr=True, highlight=False, soft_wrap=True)

from .report.runner import DEMO_ANALYSIS  # noqa: E402  (the analysis file behind `alliance-stats demo`)

DataArg = Annotated[str, typer.Argument(help='Session table: a CSV or Parquet file, or "example" for the bundled data.')]
ColumnOpt = Annotated[Optional[list[str]], typer.Option(
    "--column", "-c", help="Map a column of your file to a schema role: NAME=ROLE (repeatable).")]
OutOpt = Annotated[Optional[Path], typer.Option("--out", "-o", help="Also write the main table to this CSV file.")]


class FitFailure(Exception):
    """A model could not be fitted (exit code 1)."""


@contextlib.contextmanager
def _exit_codes() -> Iterator[None]:
    """Map errors to exit codes and print messages, never tracebacks, to standard error."""
    try:
        yield
    except (ConvergenceError, IdentificationError, FitFailure) as err:
        err_console.print(f"error: could not fit the model: {err}", markup=False)
        raise typer.Exit(1) from None
    except AllianceStatsError as err:
        err_console.print(f"error: {err}", markup=False)
        raise typer.Exit(2) from None


def _mapping(columns: list[str] | None) -> dict[str, str] | None:
    if not columns:
        return None
    out = {}
    for item in columns:
        name, sep, role = item.partition("=")
        if not sep or not name or not role:
            raise AllianceStatsError(f"--column takes NAME=ROLE (e.g. --column ID=client); got {item!r}.")
        out[name] = role
    return out


def _load(data: str, columns: list[str] | None):
    import allianceStats as als

    if data == "example":
        return als.load_example()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = als.read_sessions(Path(data), columns=_mapping(columns))
    for w in caught:
        err_console.print(f"warning: {w.message}", markup=False)
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
            for w in caught:
                if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)):
                    err_console.print(f"warning: {w.category.__name__}: {w.message}", markup=False)


def _write_csv(frame, out: Path | None) -> None:
    if out is not None:
        from .report.tables import atomic_write, to_csv_text

        atomic_write(out, to_csv_text(frame))
        err_console.print(f"wrote {out}", markup=False)


def _check_converged(result, what: str) -> None:
    converged = getattr(result, "converged", None)
    if converged is None and hasattr(result, "convergence"):
        converged = getattr(result.convergence, "converged", None)
    if converged is False:
        raise FitFailure(f"{what} did not converge; the estimates above are not reliable "
                         f"({getattr(getattr(result, 'convergence', None), 'message', '')}).")


def _show(result) -> None:
    typer.echo(result.summary() if hasattr(result, "summary") else str(result))


@app.command()
def validate(data: DataArg, column: ColumnOpt = None) -> None:
    """Check a session table against the schema; list every problem found (exit 2) or print OK."""
    with _exit_codes():
        frame = _load(data, column)
        n_clients = frame["client"].nunique()
        typer.echo(f"OK: {len(frame)} sessions of {n_clients} clients"
                   + (f" and {frame['therapist'].nunique()} therapists" if "therapist" in frame else "")
                   + f"; columns: {', '.join(map(str, frame.columns))}")


@app.command()
def describe(data: DataArg, column: ColumnOpt = None) -> None:
    """Print clients, therapists, sessions, attendance, dropout and missingness per measure."""
    import allianceStats as als

    with _exit_codes():
        typer.echo(als.describe(_load(data, column)).summary())


@fit_app.command("mlm")
def fit_mlm(data: DataArg,
            formula: Annotated[str, typer.Option("--formula", "-f", help="lme4-style formula.")],
            decompose: Annotated[Optional[list[str]], typer.Option(
                help="Split these measures into _within/_between parts (and lags) first (repeatable).")] = None,
            ml: Annotated[bool, typer.Option("--ml", help="Maximum likelihood instead of REML.")] = False,
            column: ColumnOpt = None, out: OutOpt = None) -> None:
    """Fit a nested linear mixed model (lme4 syntax), e.g. -f "outcome ~ alliance_within_lag1 + (1 | client)"."""
    import allianceStats as als

    with _exit_codes():
        frame = _load(data, column)
        if decompose:
            frame = als.decompose(frame, decompose,
                                  therapist="therapist" if "therapist" in frame.columns else None)
        with _fitting("mixed model"):
            res = als.fit_mlm(formula, frame, reml=not ml)
        _show(res)
        _write_csv(res.params, out)
        _check_converged(res, "the mixed model")


def _panel(kind: str, data: str, variables: list[str], waves: int | None, constraints: str | None,
           column: list[str] | None, out: Path | None) -> None:
    import allianceStats as als

    with _exit_codes():
        frame = _load(data, column)
        options = {k: v for k, v in {"waves": list(range(1, waves + 1)) if waves else None,
                                     "constraints": constraints}.items() if v is not None}
        fit = als.fit_riclpm if kind == "riclpm" else als.fit_clpm
        with _fitting(kind.upper()):
            res = fit(frame, variables, **options)
        _show(res)
        _write_csv(res.params, out)
        _check_converged(res, f"the {kind.upper()}")


VariablesOpt = Annotated[list[str], typer.Option("--variable", "-v", help="Panel variable (repeat: -v alliance -v outcome).")]
WavesOpt = Annotated[Optional[int], typer.Option(help="Use sessions 1..WAVES as the waves.")]
ConstraintsOpt = Annotated[Optional[str], typer.Option(help='None, "lagged" or "stationary".')]


@fit_app.command("riclpm")
def fit_riclpm(data: DataArg, variable: VariablesOpt, waves: WavesOpt = None, constraints: ConstraintsOpt = None,
               column: ColumnOpt = None, out: OutOpt = None) -> None:
    """Fit a random-intercept cross-lagged panel model (Hamaker et al. 2015) by FIML."""
    _panel("riclpm", data, variable, waves, constraints, column, out)


@fit_app.command("clpm")
def fit_clpm(data: DataArg, variable: VariablesOpt, waves: WavesOpt = None, constraints: ConstraintsOpt = None,
             column: ColumnOpt = None, out: OutOpt = None) -> None:
    """Fit a cross-lagged panel model by FIML."""
    _panel("clpm", data, variable, waves, constraints, column, out)


@fit_app.command("sem")
def fit_sem(data: DataArg,
            model: Annotated[str, typer.Option("--model", "-m", help="lavaan syntax, or a file holding it.")],
            column: ColumnOpt = None, out: OutOpt = None) -> None:
    """Fit a structural equation model written in lavaan syntax (ML / FIML)."""
    import allianceStats as als

    with _exit_codes():
        text = Path(model).read_text(encoding="utf-8") if Path(model).is_file() else model
        frame = _load(data, column)
        with _fitting("SEM"):
            res = als.fit_sem(text, frame)
        _show(res)
        _write_csv(res.params, out)
        _check_converged(res, "the SEM")


@fit_app.command("mediation")
def fit_mediation(data: DataArg,
                  x: Annotated[str, typer.Option("--x", help="Predictor.")],
                  mediator: Annotated[list[str], typer.Option("--mediator", "-m", help="Mediator (repeatable).")],
                  y: Annotated[str, typer.Option("--y", help="Outcome.")],
                  serial: Annotated[bool, typer.Option(help="Mediators form a chain in the given order.")] = False,
                  unit: Annotated[str, typer.Option(help='"client" (client means) or "session" (clusters = clients).')] = "client",
                  n_boot: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 5000,
                  seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
                  column: ColumnOpt = None, out: OutOpt = None) -> None:
    """Indirect effects of X on Y through the mediators, with bootstrap CIs."""
    import allianceStats as als

    with _exit_codes():
        frame = _load(data, column)
        cols = [x, *mediator, y]
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise AllianceStatsError(f"column(s) {missing} not in the data; available: {', '.join(frame.columns)}.")
        kwargs = {}
        if unit == "client":
            frame = frame.groupby("client", sort=True)[cols].mean().reset_index()
        elif unit == "session":
            kwargs["cluster"] = "client"
        else:
            raise AllianceStatsError(f"--unit must be 'client' or 'session'; got {unit!r}.")
        with _fitting("mediation model"):
            res = als.mediation(frame, x, mediator, y, serial=serial, n_boot=n_boot, seed=seed, **kwargs)
        _show(res)
        _write_csv(res.effects, out)


@app.command()
def ruptures(data: DataArg,
             column_name: Annotated[str, typer.Option("--measure", help="Alliance column.")] = "alliance",
             method: Annotated[str, typer.Option(help='"stiles2004" (2 SD) or "strauss2006" (1 SD).')] = "stiles2004",
             column: ColumnOpt = None, out: OutOpt = None) -> None:
    """Detect alliance ruptures and their repair per client; print the counts (events to --out)."""
    import allianceStats as als

    with _exit_codes():
        frame = _load(data, column)
        res = als.detect_ruptures(frame, column_name, method=method)
        _show(res)
        _write_csv(res.events, out)


def _run_report(analysis: Path, outdir: Path, strict: bool) -> Path:
    from .report.render import write_report
    from .report.runner import build_report, load_analysis, load_data

    spec = load_analysis(analysis)
    data = load_data(spec)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=err_console, transient=True) as progress:
        task = progress.add_task("analysis", total=len(spec.steps))

        def tick(step: str) -> None:
            progress.update(task, description=f"running {step}", completed=spec.steps.index(step))

        report = build_report(spec, data, progress=tick)
        progress.update(task, completed=len(spec.steps), description="writing report")
        path = write_report(report, outdir)
    for section in report.sections:
        if section.status != "ok":
            err_console.print(f"{section.status}: {section.title}: {section.note}", markup=False)
    if strict and any(s.status == "failed" for s in report.sections):
        raise FitFailure(f"some analyses failed (see above); the report was still written to {path}")
    return path


@app.command()
def report(analysis: Annotated[Path, typer.Argument(help="Analysis file (TOML).")],
           out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for index.html and tables/.")] = Path("reports/report"),
           strict: Annotated[bool, typer.Option(help="Exit 1 if any analysis failed.")] = False) -> None:
    """Run every analysis of a TOML analysis file and write the HTML report and its tables."""
    with _exit_codes():
        path = _run_report(analysis, out, strict)
        typer.echo(f"report written to {path}")


@app.command()
def simulate(out: Annotated[Path, typer.Option("--out", "-o", help="CSV file for the session table.")],
             therapists: int = 20, clients: Annotated[int, typer.Option(help="Clients per therapist.")] = 10,
             sessions: int = 10, seed: int = 1,
             truth: Annotated[Optional[Path], typer.Option(help="Also write the population values (JSON).")] = None) -> None:
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
def power(study: Annotated[Path, typer.Argument(help="Power-study file (TOML), e.g. analyses/studies/riclpm_power.toml.")],
          scheduler: Annotated[Optional[str], typer.Option(
              "--scheduler", help="Address of an existing Dask scheduler (tcp://host:port); default: a local cluster.")] = None,
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
