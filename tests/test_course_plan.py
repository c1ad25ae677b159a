"""The course plan is rendered from the measured notebook times and covers the whole book."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"


def _benchmark(name: str):
    """Import ``benchmarks/<name>.py`` (which may import its sibling ``_results``)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def _toc_notebooks() -> set[str]:
    return {str(p.relative_to(ROOT)) for p in _benchmark("notebook_times").toc_notebooks()}


def test_page_is_rendered_from_the_measured_times():
    plan = _benchmark("course_plan")
    assert (ROOT / "book" / "course-plan.md").read_text() == plan.render(), (
        "book/course-plan.md is stale: run benchmarks/course_plan.py (after benchmarks/notebook_times.py) and commit"
    )


def test_syllabus_reads_every_notebook_once_and_runs_only_what_it_reads():
    plan = _benchmark("course_plan")
    toc = {p.removesuffix(".ipynb") for p in _toc_notebooks()}
    read = [page for week in plan.WEEKS for page in week["read"] if page.startswith("notebooks/")]
    assert len(read) == len(set(read)), "a notebook is read in two weeks"
    assert set(read) == toc, f"missing from the syllabus: {sorted(toc - set(read))}; not in the book: {sorted(set(read) - toc)}"
    for week in plan.WEEKS:
        assert set(week["run"]) <= set(week["read"]), week["topic"]
    assert 12 <= len(plan.WEEKS) + 1 <= 14, "a 12-14 week course: the lecture weeks plus a review week"


def test_every_notebook_of_the_book_has_a_measured_time():
    times = pd.read_csv(BENCHMARKS / "results" / "notebook_times.csv")
    assert set(times["notebook"]) == _toc_notebooks()
    assert (times["seconds"] > 0).all()


def test_render_refuses_a_page_without_its_generated_blocks():
    import pytest

    plan = _benchmark("course_plan")
    with pytest.raises(ValueError, match="syllabus"):
        plan.render("# Course plan\n\nno generated blocks here\n")
