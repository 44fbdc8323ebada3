"""Run an R script from the benchmarks (the peers' timings): written to a temporary file, run with Rscript."""
from __future__ import annotations

import os
import subprocess
import tempfile


def run_r_script(script: str, *args: str, timeout: float = 3600) -> tuple[subprocess.CompletedProcess, dict]:
    """Run ``script`` with ``Rscript <file> <args>``; its completed process and its output lines ``KEY v1 v2 ...``
    as ``{KEY: [v1, v2, ...]}`` (the last line of a key wins)."""
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(script)
    try:
        out = subprocess.run(["Rscript", fh.name, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    finally:
        os.unlink(fh.name)
    return out, {ln.split()[0]: ln.split()[1:] for ln in out.stdout.splitlines() if ln.strip()}
