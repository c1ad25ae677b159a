"""Time every notebook of the book, run top to bottom as a student would run it.

Usage (from the repository root, with RECBOOK_DATA set; ``make`` exports repro.env)::

    python benchmarks/notebook_times.py            # every notebook in _toc.yml order
    python benchmarks/notebook_times.py --only notebooks/03-collaborative-filtering

Each notebook is executed in a fresh kernel, in its own folder, on a temporary copy
(the stored outputs are not touched), and its wall time - kernel start included - is
written to ``benchmarks/results/notebook_times.csv`` together with the machine's load
average over the run. The course plan (``book/course-plan.md``) renders its
"in-class runs" column from that file (``benchmarks/course_plan.py``).

Run it on an otherwise idle machine: with other work on the same cores the times
grow (the ``load`` column shows whether the run was alone).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import nbformat
import pandas as pd
import yaml
from nbclient import NotebookClient
from tqdm.auto import tqdm

from _results import _cpu, save

ROOT = Path(__file__).resolve().parents[1]


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """The chapters' notebooks listed in ``_toc.yml``, in the book's order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files: list[str] = []

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))
            walk(entry.get("chapters", []))

    walk(toc.get("parts", []))
    # the chapters' notebooks; the homework notebooks (notebooks/homework/) are not
    # run in class and their student versions stop at the first unanswered task
    return [root / f"{f}.ipynb" for f in files if f.startswith("notebooks/0") and (root / f"{f}.ipynb").exists()]


def time_notebook(path: Path, timeout: int = 900) -> float:
    """Execute ``path`` in a fresh kernel (in its folder) and return the wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="time only the notebooks whose path starts with this prefix")
    args = parser.parse_args()
    if not os.environ.get("RECBOOK_DATA"):
        raise SystemExit("set RECBOOK_DATA (e.g. RECBOOK_DATA=../shared/data) so the notebooks read local data")
    notebooks = [p for p in toc_notebooks() if str(p.relative_to(ROOT)).startswith(args.only)]
    if not notebooks:
        raise SystemExit(f"no notebook in _toc.yml starts with {args.only!r}")
    out = ROOT / "benchmarks" / "results" / "notebook_times.csv"
    if not args.only and out.exists():
        out.unlink()  # a full run replaces every row
    order = {str(p.relative_to(ROOT)): i for i, p in enumerate(toc_notebooks())}
    for path in tqdm(notebooks, desc="notebooks", unit="nb"):
        load_before = os.getloadavg()[0]
        seconds = time_notebook(path)
        row = {
            "notebook": str(path.relative_to(ROOT)),
            "seconds": round(seconds, 1),
            "load_before": round(load_before, 2),
            "load_after": round(os.getloadavg()[0], 2),
            "date": time.strftime("%Y-%m-%d"),
            "cpu": f"{_cpu()}, {os.cpu_count()} cores",
        }
        tqdm.write(f"{row['notebook']}: {seconds:.1f} s")
        # written after every notebook, so an interrupted run keeps what it measured
        frame = pd.DataFrame([row])
        if out.exists():
            old = pd.read_csv(out)
            frame = pd.concat([old[old["notebook"] != row["notebook"]], frame])
        frame = frame.sort_values("notebook", key=lambda s: s.map(order)).reset_index(drop=True)
        save("notebook_times", frame)
    print(f"total: {frame['seconds'].sum() / 60:.1f} min over {len(frame)} notebooks")


if __name__ == "__main__":
    main()
