"""Run every benchmark in this folder, one after another (by hand, never in CI): `make bench`.

Each script times allianceStats against its peers on the same data in the same run and writes its table to
benchmarks/results/<area>.md. Peers that are not installed (R for lme4 / lavaan) are skipped with a note.
Run on an otherwise idle machine: the scripts record the load average beside their numbers.
"""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode != 0:
            failed.append(script.name)
    print("failed: " + ", ".join(failed) if failed else "all benchmarks ran; tables in benchmarks/results/")
    sys.exit(1 if failed else 0)
