"""Data-layer benchmark: first and cached load of a generated 1,000,000-row Criteo file.

Each load runs in a fresh subprocess so its peak RSS (``ru_maxrss`` of the child) is honest.
The reference measured in the same run is a bare ``pyarrow.csv.read_csv`` of the same file
(parse only, no preprocessing); the figures are printed as seconds and as ratios to it.
Targets (issue 2): first load < 60 s, cached load < 3 s, peak RSS < 3 GB on 2 cores.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROWS = 1_000_000
# Distinct values per categorical field, shaped like Criteo's (a few huge, many small).
CARDINALITIES = (
    1400, 550, 350_000, 120_000, 300, 24, 12_000, 600, 3, 40_000, 5000, 300_000, 3100,
    27, 11_000, 250_000, 10, 4500, 2000, 4, 280_000, 17, 15, 60_000, 90, 45_000,
)  # fmt: skip
TARGETS = {"first_load_s": 60.0, "cached_load_s": 3.0, "peak_rss_mb": 3072.0}

_CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
{body}
print(json.dumps({{"seconds": time.perf_counter() - t0,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
_LOAD = """
from recsearch.data import criteo
ds = criteo(sys.argv[1])
assert len(ds) == int(sys.argv[2]), len(ds)
"""
_PARSE = """
import pyarrow.csv as pacsv
t = pacsv.read_csv(sys.argv[1], parse_options=pacsv.ParseOptions(delimiter="\\t"),
                   read_options=pacsv.ReadOptions(autogenerate_column_names=True))
assert t.num_rows == int(sys.argv[2])
"""


def generate(path: Path, rows: int = ROWS, *, seed: int = 0) -> None:
    """Write a Criteo-format TSV (label, 13 ints, 26 hex categories; ~10% missing)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    chunk = 250_000
    tmp = path.with_suffix(".partial")
    with tmp.open("wb") as fh:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            cols: dict[str, pa.Array] = {"label": pa.array(rng.integers(0, 2, n))}
            for j in range(13):
                values = (rng.pareto(1.2, n) * 5).astype(np.int64) - 1
                cols[f"I{j + 1}"] = pa.array(values, mask=rng.random(n) < 0.15)
            for j, card in enumerate(CARDINALITIES):
                ids = (card * rng.random(n) ** 3).astype(np.int64)
                dictionary = pa.array(
                    [format((k * 2654435761 + j) % 2**32, "08x") for k in range(card)]
                )
                arr = pa.DictionaryArray.from_arrays(
                    pa.array(ids, mask=rng.random(n) < 0.05), dictionary
                )
                cols[f"C{j + 1}"] = arr.cast(pa.string())
            table = pa.table(cols)
            pacsv.write_csv(
                table,
                fh,
                write_options=pacsv.WriteOptions(
                    include_header=False, delimiter="\t", quoting_style="none"
                ),
            )
    tmp.rename(path)


def _child(body: str, path: Path, rows: int, home: Path) -> dict[str, float]:
    env = {**os.environ, "RECSEARCH_HOME": str(home), "OMP_NUM_THREADS": "2"}
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _CHILD.format(body=body), str(path), str(rows)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result


def main(rows: int = ROWS, workdir: str | Path | None = None) -> dict[str, object]:
    """Generate (or reuse) the file, then time parse, first load and cached load."""
    base = Path(workdir) if workdir else Path(tempfile.gettempdir()) / "recsearch-bench-data"
    base.mkdir(parents=True, exist_ok=True)
    path = base / f"criteo-{rows}.txt"
    generated_s = None
    if not path.exists():
        start = time.perf_counter()
        generate(path, rows)
        generated_s = time.perf_counter() - start
    home = base / "home"
    shutil.rmtree(home, ignore_errors=True)
    parse = _child(_PARSE, path, rows, home)
    first = _child(_LOAD, path, rows, home)
    cached = _child(_LOAD, path, rows, home)
    shutil.rmtree(home, ignore_errors=True)
    result: dict[str, object] = {
        "rows": rows,
        "file_mb": round(path.stat().st_size / 2**20, 1),
        "generate_s": None if generated_s is None else round(generated_s, 1),
        "reference_parse_s": round(parse["seconds"], 2),
        "first_load_s": round(first["seconds"], 2),
        "cached_load_s": round(cached["seconds"], 2),
        "first_load_wall_s": round(first["wall_s"], 2),
        "cached_load_wall_s": round(cached["wall_s"], 2),
        "first_peak_rss_mb": round(first["maxrss_mb"]),
        "cached_peak_rss_mb": round(cached["maxrss_mb"]),
        "peak_rss_mb": round(max(first["maxrss_mb"], cached["maxrss_mb"])),
        "first_vs_parse": round(first["seconds"] / parse["seconds"], 2),
        "cached_vs_parse": round(cached["seconds"] / parse["seconds"], 2),
    }
    result["meets_targets"] = {k: float(result[k]) < v for k, v in TARGETS.items()}  # type: ignore[arg-type]
    for key, value in result.items():
        print(f"{key:>22}: {value}", flush=True)
    return result


if __name__ == "__main__":
    main()
