"""`make demo`: a real search on MovieLens-100K with SQLite storage and MLflow tracking.

It prints the data set's schema, runs a short AutoFIS search (which field pairs should interact)
with TPE through the ``recsearch run`` command, and ends with where to look: the best
configuration, the study in ``demo/recsearch.db`` and the MLflow runs in ``demo/mlflow.db``.
Running it again resumes the same study (nothing is trained twice). Options:
``RECSEARCH_DEMO_TRIALS`` (default 20) and ``RECSEARCH_DEMO_STRATEGY`` (default ``tpe``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from recsearch import cli
from recsearch import data


def main() -> int:
    """Run the demo; returns the exit status."""
    out = Path(os.environ.get("RECSEARCH_DEMO_DIR", "demo")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    trials = os.environ.get("RECSEARCH_DEMO_TRIALS", "20")
    strategy = os.environ.get("RECSEARCH_DEMO_STRATEGY", "tpe")
    print("Loading MovieLens-100K (first time: fetched into the cache folder) ...", flush=True)
    ds = data.load("movielens-100k")
    print(ds.summary(), flush=True)
    storage = f"sqlite:///{out / 'recsearch.db'}"
    tracking = f"sqlite:///{out / 'mlflow.db'}"
    print(f"\nSearching the 'autofis' space with '{strategy}' for {trials} trials ...", flush=True)
    return cli.main(
        [
            "run",
            "--dataset", "movielens-100k",
            "--space", "autofis",
            "--strategy", strategy,
            "--trials", trials,
            "--budget-epochs", "3",
            "--storage", storage,
            "--study", f"demo-autofis-{strategy}",
            "--tracking-uri", tracking,
            "--experiment", "recsearch-demo",
            "--seed", "0",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
