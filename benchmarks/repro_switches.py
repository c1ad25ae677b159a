"""Which environment switches make recbook's numbers the same on another CPU?

Usage (from the project root)::

    RECBOOK_DATA=../shared/data .venv/bin/python benchmarks/repro_switches.py

Stored notebook outputs must reproduce on any x86-64 machine, but the
numerical libraries pick their kernels at run time from the CPU they find
(AVX-512 or AVX2 code paths) and split reductions by the number of threads,
so the last bits of a matrix product, an ``exp`` or a training run can
differ between two machines. This script measures, for each candidate
switch, whether it removes such differences.

It runs a set of *probes* (NumPy and SciPy products and transcendental
functions, a TF-IDF similarity, torch products and a short torch training
run, MiniLM sentence embeddings, a numba SGD loop) twice in fresh
processes:

* machine A: this machine as it is (its own CPU features, 2 threads);
* machine B: the same machine made to behave like another CPU, an AVX2-only
  x86-64 with one core: NumPy's AVX-512 dispatch off
  (``NPY_DISABLE_CPU_FEATURES``), OpenBLAS' Zen kernels, MKL limited to AVX2
  (``MKL_ENABLE_INSTRUCTIONS``), ATen and oneDNN capped at AVX2, numba
  compiling for ``znver2``, and 1 thread.

A probe *agrees* when the bytes of its result are identical on A and B. The
switches of ``repro.env`` are then added one at a time, to both A and B (they
are what ``make`` sets on every machine), and the table shows how many probes
agree after each. A switch that changes no probe's agreement is not worth
keeping. The result is written to ``benchmarks/results/repro_switches.csv``.

On this machine "another CPU" is an emulation: the kernels selected are the
ones an AVX2-only CPU would run, but an Intel CPU running MKL's own code
paths, for instance, is not emulated.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

#: How machine B differs from machine A (variables the switches never set).
EMULATE_OTHER_CPU = {
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Zen",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "NUMBA_CPU_NAME": "znver2",
    "FAISS_SIMD_LEVEL": "AVX2",
    "_THREADS": "1",
}
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of a make-style env file (comments and blanks skipped)."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            out[name.strip()] = value.strip()
    return out


# --------------------------------------------------------------------- probes
def _digest(array) -> str:
    import numpy as np

    a = np.ascontiguousarray(np.asarray(array))
    return hashlib.sha256(a.tobytes()).hexdigest()[:16]


def run_probes() -> dict[str, str]:
    """Compute every probe in this process and return ``{name: digest}``."""
    import numpy as np

    rng = np.random.default_rng(0)
    a64 = rng.standard_normal((600, 300))
    b64 = rng.standard_normal((300, 400))
    out = {}
    out["numpy float64 matmul (OpenBLAS dgemm)"] = _digest(a64 @ b64)
    out["numpy float32 matmul (OpenBLAS sgemm)"] = _digest(a64.astype(np.float32) @ b64.astype(np.float32))
    out["numpy float64 matrix-vector (dgemv)"] = _digest(a64 @ b64[:, 0])
    x = rng.uniform(-5, 5, 100_000)
    out["numpy exp/log/tanh float64"] = _digest(np.concatenate([np.exp(x), np.log1p(np.abs(x)), np.tanh(x)]))
    out["numpy exp float32"] = _digest(np.exp(x.astype(np.float32)))
    out["numpy sum float32"] = _digest(np.array([x.astype(np.float32).sum()]))
    out["numpy linalg.solve"] = _digest(np.linalg.solve(a64[:300] @ a64[:300].T + np.eye(300), b64[:, :5]))

    from sklearn.feature_extraction.text import TfidfVectorizer

    words = np.array(["star", "war", "love", "night", "dark", "man", "city", "blue", "day", "story"])
    docs = [" ".join(rng.choice(words, size=6)) for _ in range(500)]
    tf = TfidfVectorizer().fit_transform(docs)
    out["scikit-learn TF-IDF cosine (sparse)"] = _digest((tf @ tf.T).toarray())

    import torch

    torch.manual_seed(0)
    ta, tb = torch.randn(600, 300), torch.randn(300, 400)
    out["torch float32 matmul (MKL sgemm)"] = _digest((ta @ tb).numpy())
    out["torch softmax + layer_norm"] = _digest(
        torch.nn.functional.layer_norm(torch.softmax(ta, dim=1), (300,)).numpy()
    )
    big = torch.randn(4_000_000)
    out["torch sum of 4M floats (parallel reduction)"] = _digest(big.sum().reshape(1).numpy())
    out["numpy float64 matmul, tall (threaded dgemm)"] = _digest(rng.standard_normal((20_000, 64)) @ b64[:64, :64])
    g = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.GELU(), torch.nn.Linear(64, 1))
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.1, generator=g)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    xs, ys = torch.randn(512, 32, generator=g), torch.randn(512, 1, generator=g)
    for _ in range(200):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(xs), ys)
        loss.backward()
        opt.step()
    out["torch MLP, 200 Adam steps"] = _digest(torch.cat([p.detach().ravel() for p in net.parameters()]).numpy())

    from recbook.content import embed_texts

    titles = [f"{w} {v} {n}" for w, v, n in zip(rng.choice(words, 200), rng.choice(words, 200), range(200))]
    out["MiniLM sentence embeddings (torch)"] = _digest(embed_texts(titles, cache=False))

    from recbook.cf import BiasedMF
    from recbook.datasets import synthetic

    frame = synthetic(n_users=200, n_items=300, n_ratings=6000, seed=0).ratings
    mf = BiasedMF(n_factors=20, n_epochs=5, seed=0).fit(frame)
    from recbook.cf import ImplicitALS

    als = ImplicitALS(n_factors=32, n_epochs=3, seed=0).fit(frame)
    out["numpy/scipy implicit ALS (threadpool-limited BLAS)"] = _digest(als.score_items(frame["user"].unique()[:50]))
    out["numba SGD (BiasedMF, 5 epochs)"] = _digest(mf.qi_)

    from recbook.compress import ItemIndex

    items = rng.standard_normal((6000, 32)).astype(np.float32)
    queries = rng.standard_normal((100, 32)).astype(np.float32)
    index = ItemIndex("ivfpq", m=8, nbits=8, nprobe=8).fit(items)
    scores, ids = index.search(queries, 10)
    out["faiss IVF-PQ (k-means training and search)"] = _digest(np.concatenate([scores.ravel(), ids.ravel().astype(np.float32)]))
    return out


# ------------------------------------------------------------------- driver
def probe_in_subprocess(env_extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in EMULATE_OTHER_CPU and k not in THREAD_VARS}
    env.update({k: v for k, v in env_extra.items() if not k.startswith("_")})
    threads = env_extra.get("_THREADS")
    if threads:
        for var in THREAD_VARS:
            env.setdefault(var, threads)
    code = "import json, sys; sys.path.insert(0, %r); import repro_switches as r; print(json.dumps(r.run_probes()))"
    res = subprocess.run(
        [sys.executable, "-c", code % str(Path(__file__).parent)],
        env=env, capture_output=True, text=True, check=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    switches = read_env_file(ROOT / "repro.env")
    machine_a = {"_THREADS": "2"}
    steps: list[tuple[str, dict[str, str]]] = [("no switch", {})]
    acc: dict[str, str] = {}
    for name, value in switches.items():
        acc = {**acc, name: value}
        steps.append((f"+ {name}={value}", dict(acc)))
    rows = []
    for label, sw in steps:
        a = probe_in_subprocess({**machine_a, **sw})
        b_env = dict(EMULATE_OTHER_CPU)
        b_env.update(sw)  # the switches win over the emulated machine's own choice
        b = probe_in_subprocess(b_env)
        row = {"switches": label}
        row.update({probe: a[probe] == b[probe] for probe in a})
        rows.append(row)
        print(f"{label:<60} {sum(a[p] == b[p] for p in a):>2} of {len(a)} probes agree", flush=True)
    table = pd.DataFrame(rows).set_index("switches")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "repro_switches.csv")
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(table.T.replace({True: "same", False: "DIFFERS"}).to_string())


if __name__ == "__main__":
    main()
