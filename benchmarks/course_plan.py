"""Render the course plan's syllabus and run-time tables from the measured notebook times.

Usage (from the repository root)::

    python benchmarks/notebook_times.py     # measure (about half an hour on 2 cores)
    python benchmarks/course_plan.py        # rewrite the generated blocks of book/course-plan.md

``book/course-plan.md`` is written by hand except the blocks between
``<!-- BEGIN GENERATED: name -->`` and ``<!-- END GENERATED: name -->``, which this
script fills from :data:`WEEKS` (the syllabus) and ``benchmarks/results/notebook_times.csv``.
``tests/test_course_plan.py`` checks that the page is current and that the syllabus
covers every notebook of the book exactly once.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "book" / "course-plan.md"
TIMES = ROOT / "benchmarks" / "results" / "notebook_times.csv"

#: The syllabus: one entry per week - the lecture's topic, the pages read for it (book
#: pages without ``.md``/``.ipynb``), which of them are run in class, and the homework.
WEEKS: list[dict] = [
    {
        "topic": "What a recommender is; the pipeline from logs to lists",
        "read": ["book/01-overview", "notebooks/02-architecture/01-pipeline"],
        "run": ["notebooks/02-architecture/01-pipeline"],
        "homework": "",
    },
    {
        "topic": "Behaviour data, rating baselines and the metrics",
        "read": [
            "notebooks/02-architecture/02-behaviour-data",
            "notebooks/02-architecture/03-rating-baselines",
            "notebooks/02-architecture/04-metrics",
        ],
        "run": ["notebooks/02-architecture/03-rating-baselines", "notebooks/02-architecture/04-metrics"],
        "homework": "",
    },
    {
        "topic": "Neighbourhood collaborative filtering",
        "read": ["notebooks/03-collaborative-filtering/01-user-based", "notebooks/03-collaborative-filtering/02-item-based"],
        "run": ["notebooks/03-collaborative-filtering/02-item-based"],
        "homework": "",
    },
    {
        "topic": "Matrix factorisation; implicit feedback and top-K ranking",
        "read": [
            "notebooks/03-collaborative-filtering/03-matrix-factorization",
            "notebooks/03-collaborative-filtering/04-implicit-topk",
        ],
        "run": ["notebooks/03-collaborative-filtering/03-matrix-factorization"],
        "homework": "Homework 1 (foundations) handed out",
    },
    {
        "topic": "Content-based recommendation: text features, profiles, cold start",
        "read": ["notebooks/04-content-based/01-text-features", "notebooks/04-content-based/02-profiles-and-cold-start"],
        "run": ["notebooks/04-content-based/02-profiles-and-cold-start"],
        "homework": "",
    },
    {
        "topic": "Multimodal features, attention and multi-task learning",
        "read": ["notebooks/04-content-based/03-multimodal", "notebooks/04-content-based/04-attention-multitask"],
        "run": ["notebooks/04-content-based/04-attention-multitask"],
        "homework": "",
    },
    {
        "topic": "Hybrid recommenders and their challenges",
        "read": [
            "notebooks/05-hybrid/01-hybrid-strategies",
            "notebooks/05-hybrid/02-comparing-hybrids",
            "notebooks/05-hybrid/03-challenges",
        ],
        "run": ["notebooks/05-hybrid/02-comparing-hybrids"],
        "homework": "Homework 1 due",
    },
    {
        "topic": "Large models: what makes them large, Mult-VAE, sequential models, two towers over text, their costs",
        "read": [
            "notebooks/06-large-models/01-what-makes-a-model-large",
            "notebooks/06-large-models/02-mult-vae",
            "notebooks/06-large-models/03-sequential",
            "notebooks/06-large-models/04-two-tower-text",
            "notebooks/06-large-models/05-challenges",
        ],
        "run": ["notebooks/06-large-models/02-mult-vae", "notebooks/06-large-models/04-two-tower-text"],
        "homework": "",
    },
    {
        "topic": "Knowledge distillation: the idea, rating and ranking students",
        "read": [
            "notebooks/07-distillation/01-idea-and-math",
            "notebooks/07-distillation/02-distilling-a-rating-model",
            "notebooks/07-distillation/03-ranking-distillation",
        ],
        "run": ["notebooks/07-distillation/01-idea-and-math", "notebooks/07-distillation/02-distilling-a-rating-model"],
        "homework": "Homework 2 (large models, distillation, compression) handed out",
    },
    {
        "topic": "Distilling a language model; uses and ablations of distillation",
        "read": [
            "notebooks/07-distillation/04-distilling-a-language-model",
            "notebooks/07-distillation/05-uses",
            "notebooks/07-distillation/06-ablations",
        ],
        "run": ["notebooks/07-distillation/06-ablations"],
        "homework": "",
    },
    {
        "topic": "Compression I: quantization, pruning, low rank and sharing",
        "read": [
            "notebooks/08-compression/01-quantization",
            "notebooks/08-compression/02-pruning",
            "notebooks/08-compression/03-low-rank-and-sharing",
        ],
        "run": ["notebooks/08-compression/01-quantization"],
        "homework": "",
    },
    {
        "topic": "Compression II: features, retrieval indexes, the full pipeline",
        "read": [
            "notebooks/08-compression/04-feature-compression",
            "notebooks/08-compression/05-retrieval",
            "notebooks/08-compression/06-pipeline",
        ],
        "run": ["notebooks/08-compression/05-retrieval"],
        "homework": "Homework 2 due",
    },
    {
        "topic": "Optimisation after training: fusion, online learning, bandits, A/B tests",
        "read": [
            "notebooks/09-optimisation/00-intro",
            "notebooks/09-optimisation/01-model-fusion",
            "notebooks/09-optimisation/02-online-learning",
            "notebooks/09-optimisation/03-bandits",
            "notebooks/09-optimisation/04-evaluation",
            "notebooks/09-optimisation/05-ab-testing",
        ],
        "run": ["notebooks/09-optimisation/03-bandits", "notebooks/09-optimisation/05-ab-testing"],
        "homework": "",
    },
]


def _times() -> dict[str, float]:
    frame = pd.read_csv(TIMES)
    return {nb.removesuffix(".ipynb"): float(s) for nb, s in zip(frame["notebook"], frame["seconds"])}


def _link(page: str) -> str:
    return f"{{doc}}`/{page}`"


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def syllabus_table() -> str:
    times = _times()
    lines = [
        "| Week | Lecture | Read before class | Run in class (measured time) | Homework |",
        "|---:|---|---|---|---|",
    ]
    for week, entry in enumerate(WEEKS, start=1):
        read = "<br>".join(_link(p) for p in entry["read"])
        run = "<br>".join(f"{_link(p)} ({_minutes(times[p])})" for p in entry["run"])
        lines.append(f"| {week} | {entry['topic']} | {read} | {run} | {entry['homework']} |")
    return "\n".join(lines)


def times_table() -> str:
    frame = pd.read_csv(TIMES)
    frame["chapter"] = frame["notebook"].str.extract(r"notebooks/(\d\d)-")[0].astype(int)
    lines = ["| Chapter | Notebooks | Total run time | Longest notebook |", "|---:|---:|---:|---|"]
    for chapter, group in frame.groupby("chapter", sort=True):
        longest = group.loc[group["seconds"].idxmax()]
        lines.append(
            f"| {chapter} | {len(group)} | {_minutes(group['seconds'].sum())} | "
            f"{_link(longest['notebook'].removesuffix('.ipynb'))} ({_minutes(longest['seconds'])}) |"
        )
    total = frame["seconds"].sum()
    lines.append(f"| all | {len(frame)} | {_minutes(total)} | |")
    machine = f"{frame['cpu'].iloc[0]}, measured {frame['date'].max()}, peak load average {frame['load_after'].max():.1f}"
    return "\n".join(lines) + f"\n\nMachine: {machine}."


BLOCKS = {"syllabus": syllabus_table, "run-times": times_table}


def render(text: str | None = None) -> str:
    """The course-plan page with every generated block refreshed."""
    text = PAGE.read_text() if text is None else text
    for name, make in BLOCKS.items():
        pattern = re.compile(rf"(<!-- BEGIN GENERATED: {name} -->\n)(?:.*?\n)?(<!-- END GENERATED: {name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"{PAGE.name} has no generated block {name!r}")
        text = pattern.sub(lambda m: m.group(1) + make() + "\n" + m.group(2), text)
    return text


if __name__ == "__main__":
    PAGE.write_text(render())
    print(f"wrote {PAGE.relative_to(ROOT)}")
