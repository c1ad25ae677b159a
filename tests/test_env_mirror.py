"""The pinned environment: requirements.lock covers pyproject.toml, environment.yml mirrors it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"requirements.lock line {line!r} is not an exact pin"
            pins[_name(name)] = version
    return pins


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_lock_pins_every_dependency_of_the_book():
    project = _project()
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in ("deep", "test", "book"):
        wanted |= {_name(r) for r in project["optional-dependencies"][extra]}
    missing = wanted - set(_lock())
    assert not missing, f"requirements.lock lacks {sorted(missing)}: run `make lock`"


def test_lock_pins_the_numerical_stack():
    lock = _lock()
    for name in ("numpy", "scipy", "pandas", "scikit-learn", "torch", "transformers",
                 "sentence-transformers", "numba", "tokenizers"):
        assert name in lock, f"{name} must be pinned: stored outputs depend on its version"


def test_environment_yml_installs_the_lock_with_its_python():
    env = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s+-\s+-r requirements\.lock\s*$", env, flags=re.M)
    assert re.search(r"^\s+-\s+-e \.\s*$", env, flags=re.M)
    header = (ROOT / "requirements.lock").read_text().splitlines()[:3]
    locked = re.search(r"Python (\d+\.\d+)", " ".join(header)).group(1)
    assert re.search(rf"^\s+-\s+python={re.escape(locked)}\s*$", env, flags=re.M), (
        f"environment.yml must ask for python={locked}, the version requirements.lock was made with"
    )


def test_torch_pinned_to_cpu_build_version():
    torch = [r for r in _project()["optional-dependencies"]["deep"] if _name(r) == "torch"]
    assert torch == ["torch==2.13.0"], "CI relies on the local CPU build of torch 2.13.0"
    assert _lock()["torch"] == "2.13.0"


def test_make_and_ci_install_from_the_lock():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet -r requirements.lock" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_repro_env_is_exported_by_make():
    lines = [l for l in (ROOT / "repro.env").read_text().splitlines() if l and not l.startswith("#")]
    assert all(re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S.*", l) for l in lines), lines
    names = {l.split("=", 1)[0] for l in lines}
    assert {"OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES", "ONEDNN_MAX_CPU_ISA"} <= names
    makefile = (ROOT / "Makefile").read_text()
    assert "include repro.env" in makefile and "export $(shell sed" in makefile
