"""`make demo`: search -> retrain -> report on MovieLens-100K, then a deployable model.

1. **Search** the comprehensive ``aim`` space (embedding dims, pair interactions with their
   functions, MLP, optimizer) with TPE at a low budget; trial 0 is the space's base model (a
   DeepFM with an MLP of (128, 64)).
2. **Retrain** the top-2 distinct configurations, the base and the DeepFM baseline with 3 seeds
   each at the full budget (up to 20 epochs, early stopping on valid AUC with patience 2), and
   score them on test.
3. **Report**: the table, the gain of the winner (chosen by retrained valid AUC) over the best
   baseline with a paired t-test, the Spearman of search against retrained scores; the winner is
   registered in MLflow as ``recsearch-demo-movielens`` (alias ``champion``).

Everything lives in ``demo/`` (``recsearch.db``, ``mlflow.db``, ``reports/``); running it again
resumes (nothing is trained twice). Options (environment): ``RECSEARCH_DEMO_TRIALS`` (20),
``RECSEARCH_DEMO_EPOCHS`` (search budget, 2), ``RECSEARCH_DEMO_TOP_K`` (2),
``RECSEARCH_DEMO_SEEDS`` (3), ``RECSEARCH_DEMO_RETRAIN_EPOCHS`` (20),
``RECSEARCH_DEMO_PATIENCE`` (2), ``RECSEARCH_DEMO_BASELINES`` (``deepfm``),
``RECSEARCH_DEMO_STRATEGY`` (``tpe``), ``RECSEARCH_DEMO_DIR`` (``demo``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from recsearch import cli
from recsearch import data

MODEL_NAME = "recsearch-demo-movielens"


def _env(name: str, default: str) -> str:
    return os.environ.get(f"RECSEARCH_DEMO_{name}", default)


def main() -> int:
    """Run the demo; returns the exit status."""
    start = time.monotonic()
    out = Path(_env("DIR", "demo")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    strategy = _env("STRATEGY", "tpe")
    print("Loading MovieLens-100K (first time: fetched into the cache folder) ...", flush=True)
    ds = data.load("movielens-100k")
    print(ds.summary(), flush=True)
    storage = f"sqlite:///{out / 'recsearch.db'}"
    tracking = f"sqlite:///{out / 'mlflow.db'}"
    trials, epochs = _env("TRIALS", "20"), _env("EPOCHS", "2")
    print(f"\n1/3 search: 'aim' with '{strategy}', {trials} trials of {epochs} epochs "
          "(trial 0 = the space's base) ...", flush=True)  # fmt: skip
    status = cli.main(
        [
            "run",
            "--dataset", "movielens-100k",
            "--space", "aim",
            "--strategy", strategy,
            "--trials", trials,
            "--budget-epochs", epochs,
            "--storage", storage,
            "--study", f"demo-aim-{strategy}",
            "--tracking-uri", tracking,
            "--experiment", "recsearch-demo",
            "--seed", "0",
            "--retrain-top-k", _env("TOP_K", "2"),
            "--retrain-seeds", _env("SEEDS", "3"),
            "--retrain-budget-epochs", _env("RETRAIN_EPOCHS", "20"),
            "--retrain-patience", _env("PATIENCE", "2"),
            "--retrain-baselines", _env("BASELINES", "deepfm"),
            "--retrain-out", str(out / "reports"),
            "--register-as", MODEL_NAME,
        ]
    )  # fmt: skip
    if status != 0:
        return status
    print(f"\nruns:  mlflow ui --backend-store-uri {tracking}")
    print("score raw MovieLens rows with the registered winner (two lines of Python):")
    print(f"  import mlflow, recsearch.data as rd; mlflow.set_tracking_uri({tracking!r})")
    print(f"  print(mlflow.pyfunc.load_model('models:/{MODEL_NAME}@champion')"
          ".predict(rd.movielens_100k_rows(5)))")  # fmt: skip
    print(f"\ndemo wall time: {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
