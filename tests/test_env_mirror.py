"""environment.yml must mirror pyproject.toml (conda/Binder users get the same packages)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in ("deep", "test", "book"):
        wanted |= {_name(r) for r in project["optional-dependencies"][extra]}
    env = (ROOT / "environment.yml").read_text()
    listed = {_name(m) for m in re.findall(r"^\s+-\s+([A-Za-z][\w.\-]*[^\n]*)$", env, flags=re.M)}
    missing = wanted - listed
    assert not missing, f"environment.yml lacks {sorted(missing)}"


def test_torch_pinned_to_cpu_build_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    torch = [r for r in project["optional-dependencies"]["deep"] if _name(r) == "torch"]
    assert torch == ["torch==2.13.0"], "CI relies on the local CPU build of torch 2.13.0"
    assert "torch==2.13.0" in (ROOT / "environment.yml").read_text()
