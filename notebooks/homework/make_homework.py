"""Generate the homework notebooks, student and solution versions, from one source each.

Each assignment is written once, as a MyST-markdown notebook in ``source/``
(the format ``jupytext --to myst`` writes and MyST-NB reads). In its code
cells the solution sits between two marker lines::

    rmse_baseline = None  # the answer the self-check reads
    # BEGIN SOLUTION
    rmse_baseline = rmse(test["rating"], BaselineOnly().fit(train).predict(test["user"], test["item"]))
    # END SOLUTION

and a written answer in a markdown cell sits between ``<!-- BEGIN SOLUTION -->``
and ``<!-- END SOLUTION -->``. The script writes two unexecuted notebooks:

* ``<name>.ipynb`` (the student version): every code solution is replaced by
  ``# YOUR CODE HERE`` and ``raise NotImplementedError``, every written one by
  a prompt, so the answer variables stay ``None`` and every self-check fails;
* ``solutions/<name>-solution.ipynb`` (the instructor version): the markers
  are removed and the solutions kept.

A code cell tagged ``self-check`` tests the task above it; each task is a
``## Task n`` section with exactly one self-check. ``tests/test_homework.py``
runs both versions: the solution must pass every self-check, the student
version must fail every one of them.

Usage, from the repository root::

    python notebooks/homework/make_homework.py           # (re)write the notebooks
    python notebooks/homework/make_homework.py --check   # exit 1 if they are out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat
from myst_nb.core.read import read_myst_markdown_notebook

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "source"
SOLUTIONS = HERE / "solutions"

CODE_BEGIN, CODE_END = "# BEGIN SOLUTION", "# END SOLUTION"
TEXT_BEGIN, TEXT_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
STUDENT_CODE = ["# YOUR CODE HERE", "raise NotImplementedError"]
STUDENT_TEXT = "*Your answer here.*"
SELF_CHECK = "self-check"
TASK_HEADING = re.compile(r"^## Task (\d+)\b", re.M)
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def _strip(lines: list[str], begin: str, end: str, student: list[str] | None, where: str) -> list[str]:
    """Remove the marker lines; with ``student``, replace each marked block by it (indented like the marker)."""
    out: list[str] = []
    inside = False
    for line in lines:
        mark = line.strip()
        if mark == begin:
            if inside:
                raise ValueError(f"{where}: {begin!r} inside an open solution block")
            inside = True
            if student is not None:
                indent = line[: len(line) - len(line.lstrip())]
                out += [indent + s if s else s for s in student]
            continue
        if mark == end:
            if not inside:
                raise ValueError(f"{where}: {end!r} without {begin!r}")
            inside = False
            continue
        if not inside or student is None:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {begin!r} is never closed")
    return out


def _check_structure(nb: nbformat.NotebookNode, where: str) -> int:
    """Every ``## Task n`` (n = 1, 2, ...) is followed by exactly one self-check cell; returns the task count."""
    tasks: list[int] = []
    checks: dict[int, int] = {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for number in TASK_HEADING.findall(cell.source):
                tasks.append(int(number))
                checks[int(number)] = 0
        elif SELF_CHECK in cell.metadata.get("tags", []):
            if not tasks:
                raise ValueError(f"{where}: a self-check cell comes before the first '## Task' heading")
            checks[tasks[-1]] += 1
    if tasks != list(range(1, len(tasks) + 1)):
        raise ValueError(f"{where}: tasks must be numbered 1, 2, ... in order, found {tasks}")
    wrong = {t: n for t, n in checks.items() if n != 1}
    if not tasks or wrong:
        raise ValueError(f"{where}: each task needs exactly one self-check cell; counts {wrong or 'no tasks'}")
    return len(tasks)


def build(source: Path) -> dict[str, nbformat.NotebookNode]:
    """``{"student": nb, "solution": nb}`` generated from one MyST-markdown source."""
    parsed = read_myst_markdown_notebook(source.read_text(encoding="utf-8"), path=source)
    n_tasks = _check_structure(parsed, source.name)
    result = {}
    for version in ("student", "solution"):
        student = version == "student"
        nb = nbformat.v4.new_notebook()
        nb.metadata = {
            "kernelspec": dict(KERNELSPEC),
            "language_info": {"name": "python"},
            "recbook_homework": {
                "source": f"notebooks/homework/source/{source.name}",
                "version": version,
                "tasks": n_tasks,
                "generated_by": "notebooks/homework/make_homework.py (edit the source, not this file)",
            },
        }
        for n, cell in enumerate(parsed.cells):
            where = f"{source.name}, cell {n}"
            lines = cell.source.split("\n")
            if cell.cell_type == "code":
                text = "\n".join(_strip(lines, CODE_BEGIN, CODE_END, STUDENT_CODE if student else None, where))
                new = nbformat.v4.new_code_cell(text)
            else:
                text = "\n".join(_strip(lines, TEXT_BEGIN, TEXT_END, [STUDENT_TEXT] if student else None, where))
                if not student and n == 0:  # the title says which version this is
                    text = re.sub(r"^(# .+)$", r"\1 (instructor solution)", text, count=1, flags=re.M)
                new = nbformat.v4.new_markdown_cell(text)
            tags = list(cell.metadata.get("tags", []))
            if tags:
                new.metadata["tags"] = tags
            new.id = f"cell-{n:02d}"
            new.source = new.source.strip("\n")
            nb.cells.append(new)
        nbformat.validate(nb)
        result[version] = nb
    return result


def targets(source: Path) -> dict[str, Path]:
    """Where the two versions of ``source`` are written."""
    return {"student": HERE / f"{source.stem}.ipynb", "solution": SOLUTIONS / f"{source.stem}-solution.ipynb"}


def render(nb: nbformat.NotebookNode) -> str:
    """The notebook as nbformat writes it (indent 1, UTF-8 kept, a final newline)."""
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def sources() -> list[Path]:
    return sorted(SOURCES.glob("*.md"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated notebook differs from its source")
    args = parser.parse_args(argv)
    stale = []
    for source in sources():
        built = build(source)
        for version, path in targets(source).items():
            text = render(built[version])
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if text == current:
                continue
            if args.check:
                stale.append(path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path.relative_to(HERE.parents[1])}")
    if stale:
        names = ", ".join(str(p.relative_to(HERE.parents[1])) for p in stale)
        print(f"out of date: {names}; run python notebooks/homework/make_homework.py", file=sys.stderr)
        return 1
    if args.check:
        print(f"{len(sources())} assignment(s): the generated notebooks are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
