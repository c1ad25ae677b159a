"""Where benchmark scripts put their numbers: tidy CSVs in benchmarks/results/.

Every script that feeds the book's Leaderboard page writes one CSV per table
with :func:`save`, and :func:`write_machine` records the machine, the library
versions and the date of the run in ``benchmarks/results/machine.json``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from importlib import metadata
from pathlib import Path

import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"


def save(name: str, frame: pd.DataFrame) -> Path:
    """Write ``frame`` to ``benchmarks/results/<name>.csv`` (numbers at full precision)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.csv"
    frame.to_csv(path, index=False, float_format="%.10g")
    print(f"wrote {path.relative_to(RESULTS.parents[1])} ({len(frame)} rows)")
    return path


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover - not Linux
        pass
    return platform.processor() or platform.machine()


def write_machine() -> dict:
    """Record the machine, versions and date of this benchmark run."""
    versions = {}
    for pkg in ("recbook", "numpy", "scipy", "pandas", "scikit-learn", "torch", "numba", "sentence-transformers"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:  # pragma: no cover
            versions[pkg] = "not installed"
    info = {
        "date": _dt.date.today().isoformat(),
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.machine()}",
        "threads": os.environ.get("OMP_NUM_THREADS", "not fixed"),
        "versions": versions,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "machine.json").write_text(json.dumps(info, indent=2) + "\n")
    return info
