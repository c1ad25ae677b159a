"""The homework: generated from one source, the solution passes every self-check, the student version fails each.

Each assignment is written once in ``notebooks/homework/source/<name>.md``;
``notebooks/homework/make_homework.py`` writes the student notebook
(``notebooks/homework/<name>.ipynb``, solutions replaced by
``raise NotImplementedError``) and the instructor's
(``notebooks/homework/solutions/<name>-solution.ipynb``). The fast tests check
that the committed notebooks are what the sources generate, that the student
version holds no solution code, and that the self-checks reject a few wrong
answers. The two tests marked ``homework`` execute the notebooks (about a
minute together on two cores; select them with ``-m homework``):

* the solution runs without an error and prints ``Task n passed.`` for every task;
* in the student version every self-check fails with its own
  ``AssertionError`` (a message that starts with ``Task n:``), not with an
  unrelated crash, and the given cells (data loading, splits) still run.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
HOMEWORK = ROOT / "notebooks" / "homework"


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_homework", HOMEWORK / "make_homework.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _load_generator()
SOURCES = MAKE.sources()
needs_data = pytest.mark.skipif(not os.environ.get("RECBOOK_DATA"), reason="needs the data sets (RECBOOK_DATA)")


def _ids(source: Path) -> str:
    return source.stem


def _self_checks(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and MAKE.SELF_CHECK in c.metadata.get("tags", [])]


def _errors(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def _execute(path: Path):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    return nb


def test_there_is_one_assignment_per_part():
    assert [s.stem for s in SOURCES] == ["hw1-foundations", "hw2-large-models"]


@pytest.mark.parametrize("source", SOURCES, ids=_ids)
def test_the_committed_notebooks_are_generated_from_the_source(source):
    built = MAKE.build(source)
    for version, path in MAKE.targets(source).items():
        assert path.exists(), f"{path.name} is missing: run python notebooks/homework/make_homework.py"
        assert path.read_text(encoding="utf-8") == MAKE.render(built[version]), (
            f"{path.relative_to(ROOT)} differs from {source.name}: run python notebooks/homework/make_homework.py"
        )


def test_the_check_mode_reports_a_stale_notebook(tmp_path, monkeypatch):
    source = tmp_path / "source" / "hw9-demo.md"
    source.parent.mkdir()
    source.write_text(
        "# Demo\n\n## Task 1: one\n\n```{code-cell} ipython3\nx = None\n# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n```\n\n"
        "```{code-cell} ipython3\n:tags: [self-check]\n\nassert x == 1, 'Task 1: x should be 1'\n```\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(MAKE, "HERE", tmp_path)
    monkeypatch.setattr(MAKE, "SOURCES", tmp_path / "source")
    monkeypatch.setattr(MAKE, "SOLUTIONS", tmp_path / "solutions")
    assert MAKE.main(["--check"]) == 1  # nothing generated yet
    assert MAKE.main([]) == 0
    assert MAKE.main(["--check"]) == 0
    student = (tmp_path / "hw9-demo.ipynb").read_text(encoding="utf-8")
    assert "x = 1" not in student and "raise NotImplementedError" in student
    assert "x = 1" in (tmp_path / "solutions" / "hw9-demo-solution.ipynb").read_text(encoding="utf-8")
    source.write_text(source.read_text(encoding="utf-8").replace("x == 1", "x == 2"), encoding="utf-8")
    assert MAKE.main(["--check"]) == 1


SELF_CHECK_CELL = "```{code-cell} ipython3\n:tags: [self-check]\n\nassert True\n```\n"


@pytest.mark.parametrize(
    "text, message",
    [
        ("## Task 1: a\n\n```{code-cell} ipython3\n# BEGIN SOLUTION\nx = 1\n```\n\n" + SELF_CHECK_CELL, "never closed"),
        ("## Task 1: a\n\n```{code-cell} ipython3\nx = 1\n# END SOLUTION\n```\n\n" + SELF_CHECK_CELL, "without"),
        ("## Task 1: a\n\n```{code-cell} ipython3\nx = 1\n```\n", "exactly one self-check"),
        ("## Task 2: a\n\n" + SELF_CHECK_CELL, "numbered 1, 2"),
    ],
)
def test_the_generator_rejects_a_malformed_source(tmp_path, text, message):
    source = tmp_path / "bad.md"
    source.write_text("# Bad\n\n" + text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        MAKE.build(source)


@pytest.mark.parametrize("source", SOURCES, ids=_ids)
def test_the_student_version_holds_no_solution(source):
    text = source.read_text(encoding="utf-8")
    blocks = re.findall(r"^[ \t]*# BEGIN SOLUTION\n(.*?)^[ \t]*# END SOLUTION", text, flags=re.M | re.S)
    blocks += re.findall(r"<!-- BEGIN SOLUTION -->\n(.*?)<!-- END SOLUTION -->", text, flags=re.S)
    assert blocks, f"{source.name} has no solution blocks"
    outside = text
    for block in blocks:
        outside = outside.replace(block, "")
    student = nbformat.read(MAKE.targets(source)["student"], as_version=4)
    student_text = "\n".join(c.source for c in student.cells)
    assert "SOLUTION" not in student_text
    leaked = [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if len(line.strip()) > 15 and line.strip() not in outside and line.strip() in student_text
    ]
    assert not leaked, f"solution lines in the student version of {source.name}: {leaked[:3]}"
    solution = nbformat.read(MAKE.targets(source)["solution"], as_version=4)
    assert "SOLUTION" not in "\n".join(c.source for c in solution.cells)
    assert solution.cells[0].source.splitlines()[0].endswith("(instructor solution)")


@pytest.mark.parametrize("source", SOURCES, ids=_ids)
def test_one_self_check_per_task_and_a_seeded_first_cell(source):
    for version, path in MAKE.targets(source).items():
        nb = nbformat.read(path, as_version=4)
        headings = [m for c in nb.cells if c.cell_type == "markdown" for m in MAKE.TASK_HEADING.findall(c.source)]
        assert 4 <= len(headings) <= 6, f"{path.name}: {len(headings)} tasks, the assignments have 4 to 6"
        assert len(_self_checks(nb)) == len(headings) == nb.metadata["recbook_homework"]["tasks"]
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        assert "seed_everything(0)" in first_code.source
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{path.name} is stored executed"
        assert nb.metadata["recbook_homework"]["version"] == version


# Wrong answers, run through a self-check cell's code without a kernel: the check must fail with its
# task's message. Each case lists the names the check reads; a right answer of the same shape passes.
def _front(variants: pd.DataFrame) -> list[str]:
    c, q = variants["bytes"].to_numpy(), variants["ndcg"].to_numpy()
    return [n for n, ci, qi in zip(variants.index, c, q) if not ((c <= ci) & (q >= qi) & ((c < ci) | (q > qi))).any()]


_TABLE = pd.DataFrame(
    {"bytes": [341281, 113553, 71953, 341281, 174945, 91809, 91809], "ndcg": [0.36, 0.36, 0.36, 0.35, 0.32, 0.33, 0.38]},
    index=["float32 d=32", "int8", "int4", "pruned 50 %", "16 of 32 dimensions", "student alone d=8",
           "student distilled d=8"],
)
CASES = [
    ("hw1-foundations", 2, {"rmse_global": 1.12, "rmse_baseline": 0.94}, True),
    ("hw1-foundations", 2, {"rmse_global": 1.12, "rmse_baseline": 1.13}, False),  # baseline worse than the mean
    ("hw1-foundations", 2, {"rmse_global": 1.12, "rmse_baseline": 0.45}, False),  # e.g. measured on training data
    ("hw1-foundations", 3, {"rmse_knn": 0.92, "rmse_mf": 0.93}, True),
    ("hw1-foundations", 3, {"rmse_knn": 0.92, "rmse_mf": np.array([0.93, 0.94])}, False),  # not one number
    ("hw1-foundations", 3, {"rmse_knn": 0.92, "rmse_mf": 0.86}, False),  # MSE instead of RMSE
    ("hw2-large-models", 4, {"variants": _TABLE, "front": _front(_TABLE)}, True),
    ("hw2-large-models", 4, {"variants": _TABLE, "front": ["int4"]}, False),  # a point missing
    ("hw2-large-models", 4, {"variants": _TABLE, "front": list(_TABLE.index)}, False),  # everything
    ("hw2-large-models", 5, {"T": 5000, "regret": {"random": 1600.0, "epsilon-greedy": 350.0, "LinUCB": 310.0},
                             "ctr": {"random": 0.25, "epsilon-greedy": 0.5, "LinUCB": 0.51}}, True),
    ("hw2-large-models", 5, {"T": 5000, "regret": {"random": 1600.0, "epsilon-greedy": 1500.0, "LinUCB": 310.0},
                             "ctr": {"random": 0.25, "epsilon-greedy": 0.26, "LinUCB": 0.51}}, False),  # no learning
    ("hw2-large-models", 5, {"T": 5000, "regret": {"random": 1600.0, "LinUCB": 310.0},
                             "ctr": {"random": 0.25, "LinUCB": 0.51}}, False),  # a policy missing
]


@pytest.mark.parametrize("name, task, answers, right", CASES)
def test_a_self_check_accepts_a_right_answer_and_rejects_wrong_ones(name, task, answers, right):
    nb = nbformat.read(HOMEWORK / f"{name}.ipynb", as_version=4)
    code = _self_checks(nb)[task - 1].source
    namespace = {"np": np, "pd": pd, **answers}
    if right:
        exec(compile(code, f"{name} self-check {task}", "exec"), namespace)
    else:
        with pytest.raises(AssertionError, match=rf"^Task {task}:"):
            exec(compile(code, f"{name} self-check {task}", "exec"), namespace)


@pytest.mark.homework
@needs_data
@pytest.mark.parametrize("source", SOURCES, ids=_ids)
def test_the_solution_passes_every_self_check(source):
    nb = _execute(MAKE.targets(source)["solution"])
    failed = [(n, e["ename"], e["evalue"]) for n, c in enumerate(nb.cells) if c.cell_type == "code" for e in _errors(c)]
    assert not failed, f"the solution of {source.stem} raised: {failed}"
    checks = _self_checks(nb)
    assert len(checks) == nb.metadata["recbook_homework"]["tasks"]
    for task, cell in enumerate(checks, start=1):
        assert f"Task {task} passed." in _stdout(cell), f"self-check {task} of {source.stem} did not report a pass"


@pytest.mark.homework
@needs_data
@pytest.mark.parametrize("source", SOURCES, ids=_ids)
def test_the_student_version_fails_every_self_check_with_its_own_message(source):
    nb = _execute(MAKE.targets(source)["student"])
    checks = _self_checks(nb)
    assert len(checks) == nb.metadata["recbook_homework"]["tasks"]
    for task, cell in enumerate(checks, start=1):
        errors = _errors(cell)
        assert len(errors) == 1, f"self-check {task} of the student version of {source.stem} did not fail"
        assert errors[0]["ename"] == "AssertionError" and errors[0]["evalue"].startswith(f"Task {task}:"), (
            f"self-check {task} failed for another reason: {errors[0]['ename']}: {errors[0]['evalue']}"
        )
    check_ids = {cell.id for cell in checks}
    for n, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or cell.id in check_ids:
            continue
        names = [e["ename"] for e in _errors(cell)]
        expected = ["NotImplementedError"] if "# YOUR CODE HERE" in cell.source else []
        assert names == expected, f"cell {n} of the student version of {source.stem} raised {names}, expected {expected}"
