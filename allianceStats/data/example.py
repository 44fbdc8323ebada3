"""The bundled example data set: 200 clients of 20 therapists, up to 10 sessions, from the SDT-cycle simulator.

The table (``allianceStats/data/example_data/alliance_sessions.csv``, codebook beside it) is made by
:func:`make_example` — :func:`allianceStats.simulate.sdt_cycle` with ``EXAMPLE_DESIGN`` and seed
``EXAMPLE_SEED``, continuous columns rounded to 4 decimals — so anyone can regenerate it and check it; a test
does. ``make demo`` and the worked analyses in ``analyses/`` use it.

Example
-------
>>> from allianceStats.data.example import load_example
>>> d = load_example()
>>> d["client"].nunique(), d["therapist"].nunique(), int(d["session"].max())
(200, 20, 10)
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import pandas as pd

from ..errors import DataWarning
from .checks import check_bool
from .read import read_sessions

EXAMPLE_SEED = 20261125
EXAMPLE_DESIGN = {"n_therapists": 20, "clients_per_therapist": 10, "n_sessions": 10}
EXAMPLE_PATH = Path(__file__).resolve().parent / "example_data" / "alliance_sessions.csv"
DECIMALS = 4


def make_example() -> tuple[pd.DataFrame, dict]:
    """Regenerate the example table and its population values (``truth``) exactly as shipped.

    >>> data, truth = make_example()
    >>> len(data) == len(load_example())
    True
    """
    from ..simulate import sdt_cycle

    data, truth = sdt_cycle(**EXAMPLE_DESIGN, seed=EXAMPLE_SEED)
    floats = data.select_dtypes("float").columns
    data[floats] = data[floats].round(DECIMALS)
    return data, truth


def write_example(path: str | Path = EXAMPLE_PATH) -> Path:
    """Regenerate the bundled CSV with :func:`make_example` and write it to ``path`` (temporary file, then renamed).

    The shipped file was written this way; ``example_data/codebook.md`` records the numpy version and the way the
    correlated normal draws are made (an explicit Cholesky factor, so the file is the same on every machine).

    Parameters
    ----------
    path : str or pathlib.Path
        Where to write (default: the bundled file).

    Returns
    -------
    pathlib.Path
        The file written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = write_example(pathlib.Path(tempfile.mkdtemp()) / "sessions.csv")
    >>> out.read_text() == EXAMPLE_PATH.read_text()
    True
    """
    path = Path(path)
    data, _ = make_example()
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    data.to_csv(tmp, index=False, lineterminator="\n")
    os.replace(tmp, path)
    return path


def load_example(*, validate: bool = True) -> pd.DataFrame:
    """Load the bundled example session table (validated with :func:`read_sessions` unless ``validate=False``).

    Simulated from the SDT-cycle model (:func:`allianceStats.simulate.sdt_cycle`, seed ``EXAMPLE_SEED``; see
    the module docstring), so every population value is known. Columns: therapist, client, session, therapist
    behaviours (empathy, autonomy_support), WAI-SR items and subscales, alliance, srs, need satisfaction
    (autonomy, competence, relatedness, needs), motivation, engagement, outcome (percent days abstinent),
    days_use, dropout. See ``example_data/codebook.md``.

    Parameters
    ----------
    validate : bool
        Read through :func:`read_sessions` (typed, sorted, checked); ``False`` reads the CSV as it is.

    Returns
    -------
    pandas.DataFrame
        200 clients of 20 therapists, up to 10 sessions each.

    Examples
    --------
    >>> load_example().columns[:3].tolist()
    ['therapist', 'client', 'session']
    """
    if not check_bool("validate", validate):
        return pd.read_csv(EXAMPLE_PATH)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # the example's known single-session clients
        return read_sessions(EXAMPLE_PATH)
