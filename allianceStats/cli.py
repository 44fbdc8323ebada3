"""The ``alliance-stats`` command line: validate, describe, fit, intervals, sequences, synchrony, invariance,
ruptures, init, report, simulate, power, demo.

Every command takes a table (CSV or Parquet) or an analysis file (TOML, see :mod:`allianceStats.analysis`).
Session tables are read and checked by :func:`allianceStats.read_sessions` (``"example"`` is the bundled data;
``--client ID`` / ``--therapist`` / ``--session`` name your columns holding the schema's roles, ``--column
NAME=ROLE`` maps any column); coded events by :func:`allianceStats.read_events`; interval, signal and item tables
are read as they are. Results go to standard output; progress, warnings and messages to standard error. Options
follow the package's vocabulary (docs/design.md, "Vocabulary"): ``--conf-level``, ``--n-draws``, ``--ci``,
``--seed``, ``--waves``, ``--family``, ``--estimator``, ``--missing``, ``--scheduler``; the 0.1 spelling
``--n-boot`` still works with a warning naming ``--n-draws``.

``--format json`` (every ``fit`` command, ``intervals``, ``sequences``, ``synchrony``, ``invariance``) prints one
JSON object instead of the text summary: ``command``, ``result`` (its class), ``converged``, ``n_obs``,
``conf_level``, ``convergence``, ``tables`` (each tidy table as a list of row objects; missing values are
``null``), ``values`` (fit measures and other single numbers) and ``provenance``. ``--format csv`` prints the main
table of the table-building commands (``intervals``, ``synchrony``). ``--version`` prints the version.

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
import math
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from ._deprecation import warn_renamed
from .analysis import DEMO_ANALYSIS
from .errors import AllianceStatsError, ConvergenceError, DataFileError, IdentificationError, OptionError

#: the exit codes of every command (see the module docstring)
EXIT_OK, EXIT_FIT_FAILED, EXIT_BAD_INPUT, EXIT_SECTIONS_SKIPPED = 0, 1, 2, 3
EXIT_CODES = {EXIT_OK: "success", EXIT_FIT_FAILED: "a model could not be fitted (report: a section failed)",
              EXIT_BAD_INPUT: "bad input: data, options or a path are wrong; nothing was written",
              EXIT_SECTIONS_SKIPPED: "report written; some sections were skipped (their columns are absent)"}


# -- help text with conventional metavars: TEXT, INTEGER, FILE, NAME=ROLE; no <bool>, <list[str]> or {data} ----------
_TYPE_NAMES = {"integer": "INTEGER", "float": "NUMBER", "text": "TEXT", "path": "PATH", "boolean": "BOOLEAN"}


class _Option(TyperOption):
    """An option shown as click and most Unix tools show them: ``--out FILE``; a flag shows no value."""

    def display_type_rich(self, ctx: click.Context) -> str | None:
        if self.is_flag or self.count:
            return None
        return self.metavar or _TYPE_NAMES.get(getattr(self.type, "name", ""), "VALUE")


class _Argument(TyperArgument):
    """An argument shown by its upper-case name (``DATA``) in the usage line and the help, without a type."""

    def display_type_rich(self, ctx: click.Context) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        return name if self.required else f"[{name}]"


def _conventional(params) -> None:
    for p in params:
        if type(p) is TyperOption:
            p.__class__ = _Option
        elif type(p) is TyperArgument:
            p.__class__ = _Argument


class _ConventionalHelp:
    """Mixin for typer's command and group classes: conventional metavars on every parameter and --help."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _conventional(self.params)

    def get_help_option(self, ctx: click.Context):
        option = super().get_help_option(ctx)
        _conventional([option])
        return option


class _Command(_ConventionalHelp, TyperCommand):
    pass


class _Group(_ConventionalHelp, TyperGroup):
    pass


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"alliance-stats (allianceStats) {__version__}")
        raise typer.Exit()


app = typer.Typer(name="alliance-stats", no_args_is_help=True, add_completion=False, cls=_Group,
                  pretty_exceptions_enable=False,
                  help="Longitudinal alliance–outcome analysis: validate data, fit models, write reports.")
fit_app = typer.Typer(no_args_is_help=True, cls=_Group, help="Fit one model and print its results.")
app.add_typer(fit_app, name="fit")


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False) -> None:
    """Longitudinal alliance–outcome analysis: validate data, fit models, write reports."""


def _command(group: typer.Typer = app, name: str | None = None):
    return group.command(name, cls=_Command)


err_console = Console(stderr=True, highlight=False, soft_wrap=True)

DataArg = Annotated[str, typer.Argument(
    metavar="DATA", help='Session table: a CSV or Parquet file, or "example" for the bundled data.')]
ColumnOpt = Annotated[list[str] | None, typer.Option(
    "--column", "-c", metavar="NAME=ROLE",
    help="Map a column of your file to a schema role (repeatable), e.g. -c ID=client.")]
OutOpt = Annotated[Path | None, typer.Option(
    "--out", "-o", metavar="FILE", help="Also write the main table to this CSV file.")]
ClientOpt = Annotated[str | None, typer.Option(
    metavar="NAME", help="Your column holding the client id (default: client).")]
TherapistOpt = Annotated[str | None, typer.Option(
    metavar="NAME", help="Your column holding the therapist id (default: therapist).")]
SessionOpt = Annotated[str | None, typer.Option(
    metavar="NAME", help="Your column holding the session number (default: session).")]
ConfLevelOpt = Annotated[float | None, typer.Option(
    "--conf-level", metavar="LEVEL", help="Level of every confidence interval, between 0 and 1 (default 0.95).")]
FormatOpt = Annotated[str, typer.Option(
    "--format", metavar="text|json", help="text: the summary; json: one machine-readable JSON object.")]
TableFormatOpt = Annotated[str, typer.Option(
    "--format", metavar="text|csv|json",
    help="text: a summary and the first rows; csv: the whole table; json: one JSON object.")]
DecomposeOpt = Annotated[list[str] | None, typer.Option(
    metavar="MEASURE", help="Split this measure into _within/_between parts (and lags) first (repeatable).")]


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


def _note(text: str) -> None:
    err_console.print(f"note: {text}", markup=False)


def _renamed_option(old: str, new: str) -> None:
    """Tell the user an option of the 0.1 vocabulary is renamed (the value is still used)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_renamed(old, new)
    _print_warnings(caught)


def _level(conf_level: float | None) -> dict[str, float]:
    return {} if conf_level is None else {"conf_level": conf_level}


def _given(**options: Any) -> dict[str, Any]:
    """The options the user gave (not None): the others keep the Python function's defaults."""
    return {k: v for k, v in options.items() if v is not None}


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


def _unreadable(path: Path, err: Exception, what: str = "a session table") -> DataFileError | None:
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
        return DataFileError(f"{path} is empty (no header line); {what} needs a header line and one row per "
                             "record")
    if isinstance(err, pd.errors.ParserError):
        return DataFileError(f"{path} cannot be read as CSV: {str(err).strip().splitlines()[0]}")
    if type(err).__module__.startswith("pyarrow"):
        return DataFileError(f"{path} cannot be read as Parquet: {str(err).strip().splitlines()[0]}")
    return None


@contextlib.contextmanager
def _reading(path: Path, what: str) -> Iterator[None]:
    """Errors of the file itself (encoding, empty, not CSV / Parquet) become one DataFileError with the reason."""
    try:
        yield
    except (AllianceStatsError, OSError):
        raise
    except Exception as err:  # noqa: BLE001 - a file that cannot be read is bad input, with its reason
        reason = _unreadable(path, err, what)
        if reason is None:
            raise
        raise reason from None


def _load(data: str, columns: list[str] | None, roles=(None, None, None)):
    import allianceStats as als

    if data == "example":
        return als.load_example()
    path = Path(data)
    with warnings.catch_warnings(record=True) as caught, _reading(path, "a session table"):
        warnings.simplefilter("always")
        frame = als.read_sessions(path, columns=_mapping(columns, roles))
    _print_warnings(caught)
    return frame


def _load_sessions_or_table(data: str, columns: list[str] | None, roles=(None, None, None)):
    """A session table (validated by read_sessions) when DATA has the session columns or a mapping is given;
    otherwise the table as it is (an item table with one row per respondent, as fit_sem takes)."""
    if data == "example" or columns or any(r is not None for r in roles):
        return _load(data, columns, roles)
    header = _read_table(data, "the table", header_only=True)     # the column names only: one full read below
    if {"client", "session"} <= set(map(str, header.columns)):
        return _load(data, columns, roles)
    return _read_table(data, "the table")


def _read_table(data: str, what: str, *, header_only: bool = False):
    """Any table (interval, event, signal or item table) as it is: CSV, TSV or Parquet; nothing is renamed.
    ``header_only``: an empty frame with the table's columns (reads the header / the Parquet schema only)."""
    import pandas as pd

    path = Path(data)
    if not path.is_file():
        raise DataFileError(f"{what} not found: {path}" if not path.exists() else f"{what} {path} is not a file")
    with _reading(path, what):
        suffix = path.suffix.lower()
        if suffix in (".parquet", ".pq"):
            if header_only:
                import pyarrow.parquet as pq

                return pd.DataFrame(columns=pq.read_schema(path).names)
            return pd.read_parquet(path)
        if suffix not in (".csv", ".tsv", ".txt", ""):
            raise DataFileError(f"{what} {path}: unsupported file type {suffix!r}; give a .csv, .tsv or .parquet "
                                "file")
        return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", nrows=0 if header_only else None)


def _check_out(out: Path | None, option: str = "--out") -> None:
    """Before any work: ``--out`` must be a file that can be written (not a folder, not below a file)."""
    if out is not None:
        from .report.tables import check_output_file

        check_output_file(out, what=option)


def _check_count(value: int | None, option: str, minimum: int = 1) -> None:
    if value is not None and value < minimum:
        raise OptionError(f"{option}={value} must be a whole number of at least {minimum}")


def _check_format(fmt: str, choices: tuple[str, ...] = ("text", "json")) -> str:
    if fmt not in choices:
        raise OptionError(f"--format={fmt!r} is not supported; choose one of {', '.join(choices)}")
    return fmt


def _waves(text: str | None, option: str = "--waves") -> list[int] | None:
    """``--waves 5`` (sessions 1..5), ``--waves 1,2,3,5`` or ``--waves 2-6``: the session numbers used as waves."""
    if text is None:
        return None
    value = text.replace(" ", "")
    if re.fullmatch(r"-?\d+", value):
        _check_count(int(value), option, minimum=2)
        return list(range(1, int(value) + 1))
    if m := re.fullmatch(r"(\d+)-(\d+)", value):
        waves = list(range(int(m.group(1)), int(m.group(2)) + 1))
    elif re.fullmatch(r"\d+(,\d+)+", value):
        waves = [int(v) for v in value.split(",")]
    else:
        raise OptionError(f"{option}={text!r} is not a list of session numbers; give a count (--waves 5: sessions "
                          "1-5), a list (--waves 1,2,3,5) or a range (--waves 2-6)")
    if len(set(waves)) < 2 or len(set(waves)) != len(waves):
        raise OptionError(f"{option}={text!r} must name at least 2 different sessions, each once")
    return waves


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


# -- machine-readable output ------------------------------------------------------------------------------------
def _jsonable(value):
    import numpy as np
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return _records(value)
    if isinstance(value, pd.Series):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, str):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _records(frame) -> list[dict[str, Any]]:
    """Rows of a table as JSON objects; NaN and infinities become ``null``, numpy scalars plain numbers."""
    return [{str(k): _jsonable(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def result_json(result, command: str, tables: dict[str, Any], values: dict[str, Any] | None = None,
                **extra: Any) -> str:
    """One JSON object describing a result (the ``--format json`` output of every fit command).

    Parameters
    ----------
    result : a fitted result (the result protocol of :class:`allianceStats.results.Result`), or None.
    command : str
        The command that produced it (``"fit glmm"``).
    tables : dict
        Name -> tidy DataFrame (written as lists of row objects).
    values : dict, optional
        Single numbers (fit measures, likelihoods).
    extra
        Further top-level entries (e.g. ``unit`` of a mediation).

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd
    >>> text = result_json(None, "intervals", {"table": pd.DataFrame({"x": [1.0, float("nan")]})})
    >>> json.loads(text)["tables"]["table"]
    [{'x': 1.0}, {'x': None}]
    """
    out: dict[str, Any] = {"command": command}
    if result is not None:
        out["result"] = type(result).__name__
        conv = getattr(result, "convergence", None)
        out["converged"] = bool(getattr(result, "converged", conv.converged if conv is not None else True))
        out["n_obs"] = _jsonable(getattr(result, "n_obs", None))
        out["conf_level"] = _jsonable(getattr(result, "conf_level", None))
        if conv is not None:
            out["convergence"] = {"converged": bool(conv.converged), "iterations": _jsonable(conv.iterations),
                                  "optimizer": conv.optimizer, "message": conv.message,
                                  "warnings": list(conv.warnings)}
    out.update({k: _jsonable(v) for k, v in extra.items()})
    out["tables"] = {name: _records(frame) for name, frame in tables.items() if frame is not None}
    if values:
        out["values"] = _jsonable(values)
    prov = getattr(result, "provenance", None)
    if prov is not None:
        out["provenance"] = _jsonable({"function": prov.function, "seed": prov.seed,
                                       "data_sha256": prov.data_sha256, "timestamp": prov.timestamp,
                                       "versions": prov.versions, "options": prov.options})
    return json.dumps(out, indent=1, allow_nan=False)


def _show(result, fmt: str = "text", command: str = "", tables: dict | None = None, values: dict | None = None,
          **extra: Any) -> None:
    if fmt == "json":
        typer.echo(result_json(result, command, tables or {}, values, **extra))
    else:
        typer.echo(result.summary())


def _numbers(result, names) -> dict[str, Any]:
    return {n: getattr(result, n) for n in names if getattr(result, n, None) is not None}


# -- data --------------------------------------------------------------------------------------------------------
@_command()
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


@_command()
def describe(data: DataArg,
             column: ColumnOpt = None, client: ClientOpt = None, therapist: TherapistOpt = None,
             session: SessionOpt = None) -> None:
    """Print clients, therapists, sessions, attendance, dropout and missingness per measure."""
    import allianceStats as als

    with _exit_codes():
        typer.echo(als.describe(_load(data, column, (client, therapist, session))).summary())


# -- fit ---------------------------------------------------------------------------------------------------------
FormulaOpt = Annotated[str, typer.Option("--formula", "-f", metavar="FORMULA", help="lme4-style formula.")]


@_command(fit_app, "mlm")
def fit_mlm(data: DataArg, formula: FormulaOpt, decompose: DecomposeOpt = None,
            ml: Annotated[bool, typer.Option("--ml", help="Maximum likelihood instead of REML.")] = False,
            conf_level: ConfLevelOpt = None,
            column: ColumnOpt = None, client: ClientOpt = None, therapist: TherapistOpt = None,
            session: SessionOpt = None, out: OutOpt = None, format: FormatOpt = "text") -> None:
    """Fit a nested linear mixed model (lme4 syntax), e.g. -f "outcome ~ alliance_within_lag1 + (1 | client)"."""
    import allianceStats as als

    with _exit_codes():
        _check_format(format)
        _check_out(out)
        frame = _load(data, column, (client, therapist, session))
        if decompose:
            frame = als.decompose(frame, decompose,
                                  therapist="therapist" if "therapist" in frame.columns else None)
        with _fitting("mixed model"):
            res = als.fit_mlm(frame, formula, reml=not ml, **_level(conf_level))
        _show(res, format, "fit mlm", {"params": res.params, "varcomp": getattr(res, "varcomp", None)},
              _numbers(res, ("loglik", "deviance", "aic", "bic", "reml", "singular")))
        _write_csv(res.params, out)
        _check_converged(res, "the mixed model")


@_command(fit_app, "glmm")
def fit_glmm(data: DataArg,
             formula: Annotated[str, typer.Option(
                 "--formula", "-f", metavar="FORMULA",
                 help='glmer-style formula, e.g. "cbind(days_use, days_free) ~ alliance_within + (1 | client)".')],
             family: Annotated[str, typer.Option(
                 metavar="NAME", help='"binomial", "poisson" or "negative_binomial".')],
             link: Annotated[str | None, typer.Option(
                 metavar="NAME", help='"logit", "probit", "cloglog" (binomial) or "log" (default: the canonical '
                                      "link).")] = None,
             n_agq: Annotated[int | None, typer.Option(
                 "--n-agq", metavar="INTEGER",
                 help="Adaptive Gauss-Hermite points (1 = Laplace, the default; >1 needs one random intercept).")]
             = None,
             decompose: DecomposeOpt = None, conf_level: ConfLevelOpt = None,
             column: ColumnOpt = None, client: ClientOpt = None, therapist: TherapistOpt = None,
             session: SessionOpt = None, out: OutOpt = None, format: FormatOpt = "text") -> None:
    """Fit a generalised linear mixed model (lme4's glmer), e.g. any use or days used on the alliance."""
    import allianceStats as als

    with _exit_codes():
        _check_format(format)
        _check_out(out)
        _check_count(n_agq, "--n-agq")
        frame = _load(data, column, (client, therapist, session))
        if decompose:
            frame = als.decompose(frame, decompose,
                                  therapist="therapist" if "therapist" in frame.columns else None)
        with _fitting("generalised linear mixed model"):
            res = als.fit_glmm(frame, formula, family=family, **_given(link=link, n_agq=n_agq),
                               **_level(conf_level))
        zi = getattr(res, "zi_params", None)
        _show(res, format, "fit glmm", {"params": res.params, "varcomp": res.varcomp,
                                        **({"zi_params": zi} if zi is not None and len(zi) else {})},
              _numbers(res, ("loglik", "deviance", "aic", "bic", "singular", "family", "link", "n_agq")))
        _write_csv(res.params, out)
        _check_converged(res, "the GLMM")


def _panel(kind: str, data: str, variables: list[str], waves: str | None, constraints: str | None,
           conf_level: float | None, column: list[str] | None, roles: tuple, out: Path | None, fmt: str) -> None:
    import allianceStats as als

    with _exit_codes():
        _check_format(fmt)
        _check_out(out)
        chosen = _waves(waves)
        frame = _load(data, column, roles)
        options = _given(waves=chosen, constraints=constraints, conf_level=conf_level)
        fit = als.fit_riclpm if kind == "riclpm" else als.fit_clpm
        with _fitting(kind.upper()):
            res = fit(frame, variables, **options)
        _show(res, fmt, f"fit {kind}", {"params": res.params, "cross_lagged": res.cross_lagged,
                                        "autoregressive": res.autoregressive}, {"fit": res.fit},
              lavaan=res.to_lavaan())
        _write_csv(res.params, out)
        _check_converged(res, f"the {kind.upper()}")
        _check_identified(res, f"the {kind.upper()}")


VariablesOpt = Annotated[list[str], typer.Option(
    "--variable", "-v", metavar="NAME", help="Panel variable (repeat: -v alliance -v outcome).")]
WavesOpt = Annotated[str | None, typer.Option(
    metavar="LIST", help="Sessions used as waves: a count (5 = sessions 1-5), a list (1,2,3,5) or a range (2-6); "
                         "at least 2 (default: all).")]
ConstraintsOpt = Annotated[str | None, typer.Option(
    metavar="NAME", help='"lagged" (lagged paths equal over waves) or "stationary" (default: none).')]


@_command(fit_app, "riclpm")
def fit_riclpm(data: DataArg, variable: VariablesOpt, waves: WavesOpt = None, constraints: ConstraintsOpt = None,
               conf_level: ConfLevelOpt = None,
               column: ColumnOpt = None, client: ClientOpt = None, therapist: TherapistOpt = None,
               session: SessionOpt = None, out: OutOpt = None, format: FormatOpt = "text") -> None:
    """Fit a random-intercept cross-lagged panel model (Hamaker et al. 2015) by FIML."""
    _panel("riclpm", data, variable, waves, constraints, conf_level, column, (client, therapist, session), out,
           format)


@_command(fit_app, "clpm")
def fit_clpm(data: DataArg, variable: VariablesOpt, waves: WavesOpt = None, constraints: ConstraintsOpt = None,
             conf_level: ConfLevelOpt = None,
             column: ColumnOpt = None, client: ClientOpt = None, therapist: TherapistOpt = None,
             session: SessionOpt = None, out: OutOpt = None, format: FormatOpt = "text") -> None:
    """Fit a cross-lagged panel model by FIML."""
    _panel("clpm", data, variable, waves, constraints, conf_level, column, (client, therapist, session), out,
           format)


ModelOpt = Annotated[str, typer.Option("--model", "-m", metavar="SYNTAX|FILE",
                                       help="lavaan syntax, or a file holding it.")]


def _model_text(model: str) -> str:
    path = Path(model)
    try:
        is_file = path.is_file()
    except OSError:  # syntax too long or odd for a file name
        is_file = False
    return path.read_text(encoding="utf-8") if is_file else model


@_command(fit_app, "sem")
def fit_sem(data: DataArg, model: ModelOpt,
            estimator: Annotated[str | None, typer.Option(
                metavar="NAME", help='lavaan\'s estimator: "ML", "MLR", "WLSMV", ... (default: as fit_sem).')] = None,
            missing: Annotated[str | None, typer.Option(
                metavar="NAME", help='"fiml" (full-information ML; lavaan\'s missing = "ml"), "listwise" '
                                     "(default: as fit_sem, lavaan's) or \"pairwise\" (with --ordered items, as "
                                     "lavaan).")] = None,
            se: Annotated[str | None, typer.Option(
                metavar="NAME", help='Standard errors: "standard", "robust", "robust.huber.white", "bootstrap" or '
                                     '"none" (default: "standard").')] = None,
            ordered: Annotated[list[str] | None, typer.Option(
                metavar="NAME", help="An ordered (ordinal) item (repeatable); WLSMV by default then.")] = None,
            n_draws: Annotated[int | None, typer.Option(
                metavar="INTEGER", help="Bootstrap resamples with --se bootstrap.")] = None,
            seed: Annotated[int | None, typer.Option(metavar="INTEGER", help="Seed of the bootstrap.")] = None,
            conf_level: ConfLevelOpt = None,
            column: ColumnOpt = None, client: ClientOpt = None, therapist: TherapistOpt = None,
            session: SessionOpt = None, out: OutOpt = None, format: FormatOpt = "text") -> None:
    """Fit a structural equation model written in lavaan syntax (ML, FIML, MLR or WLSMV)."""
    import allianceStats as als

    with _exit_codes():
        _check_format(format)
        _check_out(out)
        _check_count(n_draws, "--n-draws", minimum=2)
        _check_count(seed, "--seed", minimum=0)
        text = _model_text(model)
        frame = _load_sessions_or_table(data, column, (client, therapist, session))
        options = _given(estimator=estimator, missing=missing, se=se, ordered=ordered, n_draws=n_draws, seed=seed)
        with _fitting("SEM"):
            res = als.fit_sem(frame, text, **options, **_level(conf_level))
        _show(res, format, "fit sem", {"params": res.params}, {"fit": res.fit}, lavaan=res.to_lavaan(),
              r_call=res.r_call())
        _write_csv(res.params, out)
        _check_converged(res, "the SEM")
        _check_identified(res, "the SEM")


#: what each --unit of ``fit mediation`` means (said on standard error, and in the JSON output)
MEDIATION_UNITS = {
    "rows": "rows: each row of the table is one independent unit (fit_mediation's default)",
    "client": "client means: one row per client, the mean of each variable over the client's sessions",
    "session": "sessions, with clients resampled by the bootstrap (fit_mediation(client='client'))",
}


@_command(fit_app, "mediation")
def fit_mediation(data: DataArg,
                  x: Annotated[str, typer.Option("--x", metavar="NAME", help="Predictor.")],
                  mediator: Annotated[list[str], typer.Option(
                      "--mediator", "-m", metavar="NAME", help="Mediator (repeatable).")],
                  y: Annotated[str, typer.Option("--y", metavar="NAME", help="Outcome.")],
                  serial: Annotated[bool, typer.Option(help="Mediators form a chain in the given order.")] = False,
                  unit: Annotated[str, typer.Option(
                      metavar="rows|client|session",
                      help='The unit of analysis: "rows" (each row independent, as fit_mediation by default), '
                           '"client" (client means) or "session" (sessions, clients resampled).')] = "rows",
                  n_draws: Annotated[int, typer.Option(
                      metavar="INTEGER", help="Bootstrap resamples (or Monte Carlo draws).")] = 5000,
                  ci: Annotated[str, typer.Option(
                      metavar="METHOD",
                      help='Interval method: "percentile", "bca", "monte_carlo" or "delta".')] = "percentile",
                  conf_level: ConfLevelOpt = None,
                  seed: Annotated[int, typer.Option(metavar="INTEGER",
                                                    help="Random seed (recorded with the result).")] = 1,
                  n_boot: Annotated[int | None, typer.Option(hidden=True, help="Renamed --n-draws.")] = None,
                  column: ColumnOpt = None, client: ClientOpt = None, therapist: TherapistOpt = None,
                  session: SessionOpt = None, out: OutOpt = None, format: FormatOpt = "text") -> None:
    """Indirect effects of X on Y through the mediators, with bootstrap (or Monte Carlo) intervals."""
    import allianceStats as als

    from .data.checks import check_choice, require_columns

    with _exit_codes():
        _check_format(format)
        if n_boot is not None:
            _renamed_option("--n-boot", "--n-draws")
            n_draws = n_boot
        check_choice("--unit", unit, list(MEDIATION_UNITS))
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
        elif unit == "session":
            kwargs["client"] = "client"
        _note(f"unit of analysis: {MEDIATION_UNITS[unit]}; {len(frame)} rows"
              + (" (--unit client uses client means; --unit session resamples clients)"
                 if unit == "rows" and frame["client"].duplicated().any() else ""))
        with _fitting("mediation model"):
            res = als.fit_mediation(frame, x, mediator, y, serial=serial, **kwargs)
        _show(res, format, "fit mediation", {"effects": res.effects, "paths": res.paths}, unit=unit,
              lavaan=res.to_lavaan())
        _write_csv(res.effects, out)


@_command(fit_app, "cox")
def fit_cox(data: Annotated[str, typer.Argument(
                metavar="INTERVALS", help="Interval table (CSV or Parquet), e.g. written by `alliance-stats "
                                          "intervals`: one row per (start, stop] interval.")],
            formula: Annotated[str, typer.Option(
                "--formula", "-f", metavar="FORMULA",
                help='Survival formula as R\'s coxph: "Surv(start, stop, event) ~ alliance + alliance_lag1".')],
            client: Annotated[str | None, typer.Option(
                metavar="NAME", help="Column of the client id: robust (Lin-Wei) SEs clustered by client, as "
                                     "coxph(cluster = client) (default: none, model-based SEs as fit_cox).")] = None,
            ties: Annotated[str | None, typer.Option(
                metavar="efron|breslow|exact", help='Tied event times (default "efron", as coxph).')] = None,
            conf_level: ConfLevelOpt = None, out: OutOpt = None, format: FormatOpt = "text") -> None:
    """Fit a Cox model with time-varying covariates (R's coxph), e.g. time to relapse on the current alliance."""
    import allianceStats as als

    from .analysis import _formula_columns

    with _exit_codes():
        _check_format(format)
        _check_out(out)
        frame = _read_table(data, "the interval table")
        used = _formula_columns(formula, frame.columns)
        complete = frame.dropna(subset=used)
        if len(complete) < len(frame):
            gaps = ", ".join(c for c in used if frame[c].isna().any())
            _note(f"{len(frame) - len(complete)} of {len(frame)} rows have a missing value of {gaps} and are left "
                  "out (as coxph's default na.omit)")
            frame = complete.reset_index(drop=True)
        if client is None and "client" in frame.columns and frame["client"].duplicated().any():
            _note("several rows per client and no --client: standard errors treat the rows as independent; "
                  "give --client client for robust SEs clustered by client")
        with _fitting("Cox model"):
            res = als.fit_cox(frame, formula, **_given(client=client, ties=ties), **_level(conf_level))
        _show(res, format, "fit cox", {"params": res.params, "tests": res.tests},
              _numbers(res, ("loglik", "loglik_null", "n_events", "n_clients", "ties", "robust")))
        _write_csv(res.params, out)
        _check_converged(res, "the Cox model")


# -- survival intervals, coded sequences, synchrony, invariance --------------------------------------------------
def _table_out(table, fmt: str, command: str, out: Path | None, summary: str, result=None,
               extra_tables: dict | None = None) -> None:
    from .report.tables import to_csv_text

    if fmt == "csv":
        typer.echo(to_csv_text(table), nl=False)
    elif fmt == "json":
        typer.echo(result_json(result, command, {"table": table, **(extra_tables or {})}))
    else:
        typer.echo(summary)
    _write_csv(table, out)


def _scalar(text: str | None):
    """A value typed on the command line: a whole number when it reads as one, else the text."""
    if text is None:
        return None
    return int(text) if re.fullmatch(r"-?\d+", text.strip()) else text


@_command()
def intervals(data: DataArg,
              events: Annotated[str | None, typer.Argument(
                  metavar="EVENTS", help="Events table (CSV or Parquet): one row per client with the event (or "
                                         "end of follow-up) time and the event. Default: dropout from the session "
                                         "table (--dropout-column).")] = None,
              time_scale: Annotated[str | None, typer.Option(
                  metavar="NAME", help='"session" (default) or the session-table column holding the time.')] = None,
              covariate: Annotated[list[str] | None, typer.Option(
                  metavar="NAME", help="Time-varying covariate (repeatable; default: alliance).")] = None,
              event: Annotated[str | None, typer.Option(
                  metavar="NAME", help="Event column of the events table (default: event).")] = None,
              event_time: Annotated[str | None, typer.Option(
                  metavar="NAME", help="Event-time column of the events table (default: time).")] = None,
              censored: Annotated[str | None, typer.Option(
                  metavar="VALUE", help='The event value meaning "no event" (default 0; e.g. completed).')] = None,
              follow_up: Annotated[str | None, typer.Option(
                  metavar="NAME", help="Column of the events table with the end of follow-up.")] = None,
              keep: Annotated[list[str] | None, typer.Option(
                  metavar="NAME", help="Client-level column copied to every interval (repeatable).")] = None,
              periods: Annotated[bool, typer.Option(
                  help="One row per unit period (person-period data for discrete-time models).")] = False,
              dropout_column: Annotated[str, typer.Option(
                  metavar="NAME", help="Without EVENTS: the session table's dropout column (1 on a dropout's last "
                                       "session); the event time is the last session.")] = "dropout",
              column: ColumnOpt = None, client: ClientOpt = None, therapist: TherapistOpt = None,
              session: SessionOpt = None, out: OutOpt = None, format: TableFormatOpt = "text") -> None:
    """Build (start, stop] intervals with time-varying alliance covariates from sessions and events (no look-ahead)."""
    import allianceStats as als

    from .analysis import dropout_events

    with _exit_codes():
        _check_format(format, ("text", "csv", "json"))
        _check_out(out)
        frame = _load(data, column, (client, therapist, session))
        if events is None:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                ev = dropout_events(frame, dropout_column)
            _print_warnings(caught)
            event, event_time = "event", "time"
        else:
            ev = _read_table(events, "the events table")
        options = _given(time_scale=time_scale, covariates=covariate, event=event, event_time=event_time,
                         censored=_scalar(censored), follow_up=follow_up, keep=keep)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            table = als.survival_intervals(frame, ev, periods=periods, **options)
        _print_warnings(caught)
        summary = (f"{len(table)} intervals of {table['client'].nunique()} clients, {int((table['event'] != 0).sum())}"
                   f" ending in an event; columns: {', '.join(map(str, table.columns))}\n\n"
                   + table.head(12).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        _table_out(table, format, "intervals", out, summary)


@_command()
def sequences(events: Annotated[str, typer.Argument(
                  metavar="EVENTS", help="Coded-event table (CSV or Parquet): client, session, order, code (and "
                                         "speaker, onset, offset).")],
              codes: Annotated[list[str] | None, typer.Option(
                  "--codes", metavar="NAME", help='Code set of the codes allowed (repeatable): "miti_4", '
                                                  '"misc_2.5", "client_language" (default: any code).')] = None,
              lag: Annotated[int | None, typer.Option(metavar="INTEGER", help="Lag (default 1).")] = None,
              per_session: Annotated[bool, typer.Option(
                  help="Also Yule's Q per session, summarised across sessions.")] = False,
              window: Annotated[float | None, typer.Option(
                  metavar="SECONDS", help="Time-based: the target going on within this many seconds after the "
                                          "given code ends (needs onset and offset).")] = None,
              n_draws: Annotated[int | None, typer.Option(
                  metavar="INTEGER", help="Permutations for a permutation p: events reordered within sessions "
                                          "(respecting structural zeros; with --window, durations and gaps "
                                          "kept).")]
              = None,
              seed: Annotated[int | None, typer.Option(metavar="INTEGER", help="Seed of the permutations.")] = None,
              conf_level: ConfLevelOpt = None, column: ColumnOpt = None, out: OutOpt = None,
              format: FormatOpt = "text") -> None:
    """Lag-sequential analysis of coded session events: which code follows which more often than chance."""
    import allianceStats as als

    with _exit_codes():
        _check_format(format)
        _check_out(out)
        _check_count(lag, "--lag")
        _check_count(n_draws, "--n-draws")
        _check_count(seed, "--seed", minimum=0)
        path = Path(events)
        with warnings.catch_warnings(record=True) as caught, _reading(path, "a coded-event table"):
            warnings.simplefilter("always")
            table = als.read_events(path, columns=_mapping(column), codes=codes or None)
        _print_warnings(caught)
        with _fitting("lag-sequential analysis"):
            res = als.lag_sequential(table, per_session=per_session, **_level(conf_level),
                                     **_given(lag=lag, window=window, n_draws=n_draws, seed=seed))
        summary = getattr(res, "session_summary", None)
        _show(res, format, "sequences", {"table": res.table, **({"session_summary": summary}
                                                                 if summary is not None else {})},
              _numbers(res, ("chisq", "df", "p_value", "p_permutation", "n_transitions", "n_sessions")))
        _write_csv(res.table, out)


@_command()
def synchrony(signals: Annotated[str, typer.Argument(
                  metavar="SIGNALS", help="Signal table (CSV or Parquet): one row per sample, in time order within "
                                          "each session.")],
              x: Annotated[str, typer.Option("--x", metavar="NAME", help="First signal (e.g. the client's).")],
              y: Annotated[str, typer.Option("--y", metavar="NAME", help="Second signal (e.g. the therapist's).")],
              sampling_rate: Annotated[float, typer.Option(metavar="HZ", help="Samples per second.")],
              lag_seconds: Annotated[float, typer.Option(metavar="SECONDS", help="Largest lag either way.")],
              window_seconds: Annotated[float, typer.Option(metavar="SECONDS", help="Window length.")],
              step_seconds: Annotated[float, typer.Option(metavar="SECONDS", help="Step between windows.")],
              client: Annotated[str, typer.Option(metavar="NAME", help="Client (dyad) column.")] = "client",
              session: Annotated[str, typer.Option(metavar="NAME", help="Session column.")] = "session",
              fisher_z: Annotated[bool, typer.Option(
                  help="Average correlations on Fisher's z scale (rMEA's default).")] = True,
              absolute: Annotated[bool, typer.Option(
                  help="Average absolute correlations (rMEA's default); --no-absolute keeps the sign.")] = True,
              out: OutOpt = None, format: TableFormatOpt = "text") -> None:
    """Synchrony of two signals per session: windowed lagged cross-correlation (Boker et al. 2002, as rMEA)."""
    import allianceStats as als

    with _exit_codes():
        _check_format(format, ("text", "csv", "json"))
        _check_out(out)
        frame = _read_table(signals, "the signal table")
        with _fitting("synchrony"):
            table = als.synchrony_by_session(frame, x=x, y=y, sampling_rate=sampling_rate, lag_seconds=lag_seconds,
                                             window_seconds=window_seconds, step_seconds=step_seconds,
                                             client=client, session=session, fisher_z=fisher_z, absolute=absolute)
        summary = (f"synchrony of {x} and {y} in {len(table)} session(s) (windows of {window_seconds:g} s every "
                   f"{step_seconds:g} s, lags up to ±{lag_seconds:g} s; {'Fisher z' if fisher_z else 'r'}"
                   f"{', absolute' if absolute else ''}):\n\n"
                   + table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        _table_out(table, format, "synchrony", out, summary)


@_command()
def invariance(data: Annotated[str, typer.Argument(
                   metavar="DATA", help="Item table (CSV or Parquet): one row per respondent with --group, or the "
                                        "long session table with --waves.")],
               model: Annotated[str, typer.Option(
                   "--model", "-m", metavar="SYNTAX|FILE",
                   help='The measurement model in lavaan syntax, or a file holding it ("bond =~ i3 + i5 + i7").')],
               group: Annotated[str | None, typer.Option(
                   metavar="NAME", help="Group column: invariance across groups.")] = None,
               waves: Annotated[str | None, typer.Option(
                   metavar="LIST", help="Invariance across these sessions of the same clients: a count, a list "
                                        "(1,2,3) or a range (1-3).")] = None,
               ordered: Annotated[bool, typer.Option(
                   help="Treat every item as ordered (ordinal): thresholds, WLSMV.")] = False,
               ordered_item: Annotated[list[str] | None, typer.Option(
                   metavar="NAME", help="An ordered item (repeatable) when the others are continuous, e.g. Likert "
                                        "items next to a visual-analogue scale (semTools' measEq.syntax with "
                                        "ordered = some items); not with --ordered.")] = None,
               step: Annotated[list[str] | None, typer.Option(
                   metavar="NAME", help="A step to fit (repeatable): configural, thresholds, metric, scalar, strict "
                                        "(default: all).")] = None,
               partial: Annotated[list[str] | None, typer.Option(
                   metavar="PARAMETER", help='A parameter left free (repeatable), e.g. "wai7 ~ 1".')] = None,
               estimator: Annotated[str | None, typer.Option(
                   metavar="NAME", help="Estimator (default: WLSMV for ordered items, ML otherwise).")] = None,
               missing: Annotated[str | None, typer.Option(
                   metavar="NAME", help='"listwise" (default), "fiml" (continuous items) or "pairwise" (ordered '
                                        "items, as lavaan).")] = None,
               client: Annotated[str, typer.Option(metavar="NAME", help="Client column (with --waves).")] = "client",
               session: Annotated[str, typer.Option(
                   metavar="NAME", help="Session column (with --waves).")] = "session",
               conf_level: ConfLevelOpt = None, out: OutOpt = None, format: FormatOpt = "text") -> None:
    """Measurement invariance step by step (configural, thresholds, metric, scalar, strict) across groups or
    sessions."""
    import allianceStats as als

    with _exit_codes():
        _check_format(format)
        _check_out(out)
        if (group is None) == (waves is None):
            raise OptionError("give either --group (invariance across groups) or --waves (across the sessions of "
                              "the same clients)")
        if ordered and ordered_item:
            raise OptionError("give --ordered (every item ordered) or --ordered-item NAME (these items ordered, the "
                              f"others continuous), not both (got --ordered and --ordered-item "
                              f"{', '.join(ordered_item)})")
        text = _model_text(model)
        frame = als.load_example() if data == "example" else _read_table(data, "the item table")
        options = _given(group=group, steps=step, partial=partial, estimator=estimator, missing=missing)
        if waves is not None:
            options.update(client=client, session=session, waves=_waves(waves))
        with _fitting("measurement invariance"):
            res = als.measurement_invariance(frame, text, ordered=True if ordered else (ordered_item or None),
                                             **options, **_level(conf_level))
        _show(res, format, "invariance", {"table": res.table},
              lavaan={s: res.to_lavaan(s) for s in res.table["step"]})
        _write_csv(res.table, out)
        _check_converged(res, "the invariance model")


@_command()
def ruptures(data: DataArg,
             column_name: Annotated[str, typer.Option("--measure", metavar="NAME", help="Alliance column.")]
             = "alliance",
             method: Annotated[str, typer.Option(
                 metavar="NAME", help='"stiles2004" (2 SD) or "strauss2006" (1 SD).')] = "stiles2004",
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


# -- analysis files and reports ----------------------------------------------------------------------------------
@_command()
def init(data: DataArg,
         out: Annotated[Path, typer.Option(
             "--out", "-o", metavar="FILE", help="The analysis file to write.")] = Path("analysis.toml"),
         force: Annotated[bool, typer.Option(help="Replace --out if it exists.")] = False,
         column: ColumnOpt = None, client: ClientOpt = None, therapist: TherapistOpt = None,
         session: SessionOpt = None) -> None:
    """Write an analysis file for the columns DATA has (sections whose columns are absent are left out, with
    a comment saying why); then run it with `alliance-stats report`."""
    from .analysis import draft_analysis

    with _exit_codes():
        _check_out(out)
        if out.exists() and not force:
            raise OptionError(f"--out {out} exists; give another file name or --force to replace it")
        frame = _load(data, column, (client, therapist, session))
        if data == "example":
            where = "example"
        else:
            try:
                where = Path(data).resolve().relative_to(out.resolve().parent).as_posix()
            except ValueError:
                where = Path(data).resolve().as_posix()
        text = draft_analysis(frame, where, columns=_mapping(column, (client, therapist, session)))
        from .report.tables import atomic_write

        atomic_write(out, text)
        sections = [line.strip("[]") for line in text.splitlines() if line.startswith("[") and line != "[data]"]
        typer.echo(f"wrote {out}: {len(sections)} analyses ({', '.join(dict.fromkeys(sections))})")
        typer.echo(f"run it with: alliance-stats report {out} -o reports/{out.stem}/")


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


@_command()
def report(analysis: Annotated[Path, typer.Argument(metavar="ANALYSIS", help="Analysis file (TOML).")],
           out: Annotated[Path, typer.Option(
               "--out", "-o", metavar="FOLDER",
               help="Output folder for index.html, tables/ and reproduce/.")] = Path("reports/report"),
           strict: Annotated[bool, typer.Option(
               help="Exit 1 also when sections were skipped (otherwise 3).")] = False) -> None:
    """Run every analysis of a TOML analysis file and write the HTML report, its tables and the R bundle.

    Exit codes: 0 every section computed; 1 some section failed; 3 some skipped (columns absent); 2 bad input
    (nothing written). Failed and skipped sections are listed on stderr and at the top of the report.
    """
    with _exit_codes():
        run = _run_report(analysis, out)
        typer.echo(f"report written to {run.path}")
    _sections_exit(run, strict)


@_command()
def simulate(out: Annotated[Path, typer.Option(
                 "--out", "-o", metavar="FILE", help="CSV file for the session table.")],
             therapists: Annotated[int, typer.Option(metavar="INTEGER", help="Therapists.")] = 20,
             clients: Annotated[int, typer.Option(metavar="INTEGER", help="Clients per therapist.")] = 10,
             sessions: Annotated[int, typer.Option(metavar="INTEGER", help="Sessions per client.")] = 10,
             seed: Annotated[int, typer.Option(metavar="INTEGER", help="Random seed.")] = 1,
             truth: Annotated[Path | None, typer.Option(
                 metavar="FILE", help="Also write the population values (JSON).")] = None) -> None:
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
            atomic_write(truth, json.dumps(pop, indent=1, sort_keys=True, default=_truth_value) + "\n")
        typer.echo(f"wrote {len(data)} sessions of {data['client'].nunique()} clients to {out}")


def _truth_value(value):
    """JSON for the population values of a simulation: tables in pandas' ``split`` layout, arrays as lists."""
    import numpy as np
    import pandas as pd

    if isinstance(value, (pd.DataFrame, pd.Series)):
        return json.loads(value.to_json(orient="split"))
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


@_command()
def power(study: Annotated[Path, typer.Argument(
              metavar="STUDY", help="Power-study file (TOML), e.g. analyses/studies/riclpm_power.toml.")],
          scheduler: Annotated[str | None, typer.Option(
              "--scheduler", metavar="ADDRESS",
              help="Address of an existing Dask scheduler (tcp://host:port); default: a local cluster.")] = None,
          progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True) -> None:
    """Run a Monte Carlo power study: per-cell results, power_table.csv and one power-curve SVG per target."""
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


@_command()
def demo(out: Annotated[Path, typer.Option(
             "--out", "-o", metavar="FOLDER", help="Output folder.")] = Path("reports/demo")) -> None:
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
