"""The argument parser of the ``recsearch`` command line (every command and its ``--help``)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from recsearch.redact import STORAGE_ENV

__all__ = ["EXIT_USAGE", "build_parser"]

EXIT_USAGE = 2

_RUN_EXAMPLE = """\
example:
  recsearch run --dataset movielens-100k --space autofis --strategy smac --trials 50 \\
      --budget-epochs 5 --workers 2
  recsearch run --dataset synthetic --dataset-option n_rows=5000 --space hpo --strategy tpe \\
      --trials 20 --storage postgresql+psycopg://user:pw@db-host:5432/recsearch --study ctr-1

Rerunning the same command resumes the study and runs only the missing trials.
Without --storage the study lives in ./recsearch-journal.log (a journal file: several local
worker processes write it concurrently without SQLite's locking errors).
"""

_CREATE_EXAMPLE = """\
example:
  recsearch create --dataset criteo --dataset-path /data/criteo.tsv --space autoctr \\
      --strategy autoctr --trials 400 --study criteo-autoctr \\
      --storage postgresql+psycopg://user:pw@db-host:5432/recsearch \\
      --tracking-uri http://mlflow-host:5000
  # then, on every machine:
  recsearch worker --study criteo-autoctr \\
      --storage postgresql+psycopg://user:pw@db-host:5432/recsearch
"""

_WORKER_EXAMPLE = """\
example:
  recsearch worker --study criteo-autoctr \\
      --storage postgresql+psycopg://user:pw@db-host:5432/recsearch --threads 8

The worker reads data set, space, strategy, budget and seed from the study (written by
`recsearch create` or `recsearch run`) and runs trials until the study holds its target.
A study never stores a password: the worker takes it from its own --storage/--tracking-uri,
from $RECSEARCH_STORAGE / $MLFLOW_TRACKING_URI, or (PostgreSQL) from ~/.pgpass.
"""

_COMPARE_EXAMPLE = """\
example:
  recsearch compare --dataset movielens-100k --space autofis \\
      --strategies random,tpe,smac,evolution,nbtree,hyperband --seeds 5 --budget 200 \\
      --workers 2 --out reports/autofis
"""

_RETRAIN_EXAMPLE = """\
example (top-5 of a search, 3 seeds, 20 epochs, beside DeepFM and DCN-V2, test AUC reported):
  recsearch retrain --study ml-aim-tpe --storage sqlite:///studies.db --top-k 5 --seeds 3 \\
      --budget-epochs 20 --baselines deepfm,dcnv2 --register-as movielens-ctr
"""

_PRETRAIN_EXAMPLE = """\
example:
  # AutoFT: pre-train on the source domain, then search what to fine-tune on the target
  recsearch pretrain --dataset movielens-100k --dataset-option domain=source --out source.pt
  recsearch run --dataset movielens-100k --dataset-option domain=target --space autoft \\
      --strategy tpe --trials 30 --budget-epochs 3 --pretrained source.pt --retrain-top-k 1
"""

_BEST_EXAMPLE = """\
example:
  recsearch best --study criteo-autoctr --storage sqlite:///studies.db
"""

_SPACES_EXAMPLE = """\
example:
  recsearch spaces
"""

_STRATEGIES_EXAMPLE = """\
example:
  recsearch strategies
"""


class _Parser(argparse.ArgumentParser):
    """argparse with the one-line error style of the rest of the CLI."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def _add_fault_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-failures", type=_count, default=None,
                   help="stop the study after this many consecutive failed trials "
                   "(default: max(10, trials); 0: never)")  # fmt: skip


def _int_at_least(low: int, what: str) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_count = _int_at_least(0, "an integer >= 0")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite positive number, got {text!r}")
    return value


def _device(text: str) -> str:
    if text in ("auto", "cpu", "cuda") or (text.startswith("cuda:") and text[5:].isdigit()):
        return text
    raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda or cuda:N, got {text!r}")


def _add_device(p: argparse.ArgumentParser, *, per_gpu: bool = True) -> None:
    p.add_argument("--device", type=_device, default=None,
                   help="training device: auto, cpu, cuda or cuda:N (default: the objective's, "
                   "auto); workers take the visible GPUs round robin")  # fmt: skip
    if per_gpu:
        p.add_argument("--workers-per-gpu", type=_positive_int, default=None,
                       help="with CUDA: start this many workers per visible GPU "
                       "(instead of --workers)")  # fmt: skip


def _add_dataset(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    p.add_argument(
        "--dataset",
        required=required,
        help="data set: synthetic, movielens-100k, criteo, avazu, a CSV/Parquet path, "
        "or module:callable",
    )
    p.add_argument("--dataset-path", help="file or folder the data set is read from")
    p.add_argument(
        "--dataset-option",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="loader option (repeatable; VALUE parsed as JSON when possible)",
    )


def add_pretrained_argument(p: argparse.ArgumentParser) -> None:
    from recsearch.study.pretrained import add_pretrained_argument as add

    add(p)


def _add_study_options(p: argparse.ArgumentParser) -> None:
    _add_dataset(p)
    p.add_argument("--space", required=True, help="space preset (see `recsearch spaces`)")
    p.add_argument(
        "--strategy", required=True, help="search strategy (see `recsearch strategies`)"
    )
    p.add_argument(
        "--strategy-option", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
        help="strategy option, e.g. max_resource=5 (repeatable)",
    )  # fmt: skip
    p.add_argument("--trials", type=_positive_int, default=50, help="complete+pruned trials")
    p.add_argument("--budget-epochs", type=_positive_float, default=1.0,
                   help="training epochs per trial")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--metric", choices=("auc", "logloss"), default="auc")
    _add_fidelity(p)
    p.add_argument("--cost", default=None,
                   help="a cost measure as second objective (params, embedding_bytes, flops, "
                   "latency_ms)")  # fmt: skip
    p.add_argument("--objective", default="ctr", help=argparse.SUPPRESS)
    p.add_argument("--storage", default=os.environ.get(STORAGE_ENV),
                   help="Optuna storage URL (default: $RECSEARCH_STORAGE, else the journal file "
                   "./recsearch-journal.log)")
    p.add_argument("--study", default=None, help="study name (default: derived from settings)")
    p.add_argument("--tracking-uri", default="default",
                   help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or "
                   "sqlite:///mlflow.db); 'none' turns tracking off")  # fmt: skip
    p.add_argument("--experiment", default="recsearch", help="MLflow experiment")
    p.add_argument("--no-base-first", action="store_true",
                   help="do not evaluate the space's base model (its default) as trial 0")
    add_pretrained_argument(p)


def _add_fidelity(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fidelity", choices=("epochs", "rows"), default="epochs",
                   help="hyperband/bohb/smac-hb resource: evaluations of one training (epochs) "
                   "or successive halving that retrains on seeded subsamples, 1/9, 1/3, all "
                   "(rows)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    from recsearch import __version__

    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="recsearch",
        description="AutoML for deep recommender systems (CTR prediction).",
        epilog=_RUN_EXAMPLE,
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="version", version=f"recsearch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("run", help="create or resume a study and run it", epilog=_RUN_EXAMPLE,
                       formatter_class=fmt)  # fmt: skip
    _add_study_options(p)
    p.add_argument("--workers", type=_positive_int, default=1, help="local worker processes")
    p.add_argument("--heartbeat", type=_positive_int, default=10,
                   help="seconds between trial heartbeats")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_device(p)
    _add_fault_options(p)
    from recsearch.study import retraining

    retraining.add_arguments(p, prefix="retrain-")

    p = sub.add_parser("retrain", help="retrain a study's top-k with seeds beside baselines",
                       epilog=_RETRAIN_EXAMPLE, formatter_class=fmt)  # fmt: skip
    retraining.add_arguments(p)

    p = sub.add_parser("create", help="create a study for `recsearch worker` processes",
                       epilog=_CREATE_EXAMPLE, formatter_class=fmt)  # fmt: skip
    _add_study_options(p)

    p = sub.add_parser("worker", help="join a study and run trials until it is done",
                       epilog=_WORKER_EXAMPLE, formatter_class=fmt)  # fmt: skip
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--study", help="the study to join")
    which.add_argument("--comparison", help="join every study of this `recsearch compare`")
    p.add_argument("--storage", **_storage_required(),
                   help="Optuna storage URL of the study (default: $RECSEARCH_STORAGE)")
    p.add_argument("--trials", type=_positive_int, default=None,
                   help="run at most this many trials in this worker")  # fmt: skip
    p.add_argument("--worker-index", type=int, default=None,
                   help="seeds the sampler with seed + 1000 * index (default: the pid)")
    p.add_argument("--threads", type=_positive_int, default=None, help="torch threads")
    p.add_argument("--heartbeat", type=_positive_int, default=10,
                   help="seconds between trial heartbeats")  # fmt: skip
    p.add_argument("--grace", type=_positive_int, default=None,
                   help="seconds without heartbeat before a trial counts as dead "
                   "(default: 3 x heartbeat)")  # fmt: skip
    p.add_argument("--tracking-uri", default=None,
                   help="override the study's MLflow tracking URI ('none': off)")
    p.add_argument("--dataset-path", default=None,
                   help="where the study's data set lives on this machine")
    add_pretrained_argument(p)
    p.add_argument("--no-finalize", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    _add_device(p, per_gpu=False)
    _add_fault_options(p)
    p.add_argument("--allow-callable", action="append", default=[], metavar="MODULE:CALLABLE",
                   help="let this worker import a module:callable the study names (repeatable; "
                   "or list them in $RECSEARCH_ALLOW_CALLABLES); others are refused")  # fmt: skip

    p = sub.add_parser("compare", help="compare strategies on one space, same budget",
                       epilog=_COMPARE_EXAMPLE, formatter_class=fmt)  # fmt: skip
    _add_dataset(p)
    p.add_argument("--space", required=True)
    p.add_argument("--strategies", required=True, help="comma-separated strategy names")
    p.add_argument("--seeds", type=_positive_int, default=5)
    p.add_argument("--budget", type=_positive_float, default=200.0,
                   help="epoch-equivalents per strategy and seed")  # fmt: skip
    p.add_argument("--budget-epochs", type=_positive_float, default=1.0,
                   help="epochs of one full-fidelity trial")  # fmt: skip
    p.add_argument("--metric", choices=("auc", "logloss"), default="auc")
    _add_fidelity(p)
    p.add_argument("--workers", type=_positive_int, default=1)
    p.add_argument("--out", default="reports/compare", help="report folder")
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow tracking URI ('none': no tracking)")  # fmt: skip
    p.add_argument("--storage", default=None,
                   help="where the comparison's studies live (default: a journal file in --out); "
                   "rerun to resume, `recsearch worker --comparison NAME` to join")  # fmt: skip
    p.add_argument("--name", default=None, help="comparison name (default: from the settings)")
    p.add_argument("--no-base-first", action="store_true",
                   help="do not run the space's base model (its default) as each cell's trial 0")
    add_pretrained_argument(p)
    _add_device(p)

    p = sub.add_parser("best", help="print a study's best trial", epilog=_BEST_EXAMPLE,
                       formatter_class=fmt)  # fmt: skip
    p.add_argument("--study", required=True)
    p.add_argument("--storage", **_storage_required(),
                   help="Optuna storage URL of the study (default: $RECSEARCH_STORAGE)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("pretrain", help="train a fine-tuning space's source model (autoft)",
                       epilog=_PRETRAIN_EXAMPLE, formatter_class=fmt)  # fmt: skip
    _add_dataset(p)
    from recsearch.study import pretrained

    pretrained.add_arguments(p)

    p = sub.add_parser("fidelity", help="rank correlation of low budgets with the full one")
    _add_dataset(p)
    from recsearch.study import fidelity

    fidelity.add_arguments(p)

    sub.add_parser("spaces", help="list the space presets", epilog=_SPACES_EXAMPLE,
                   formatter_class=fmt)  # fmt: skip
    sub.add_parser("strategies", help="list the search strategies", epilog=_STRATEGIES_EXAMPLE,
                   formatter_class=fmt)  # fmt: skip
    return parser


# ---------------------------------------------------------------------------------------------


def _storage_required() -> dict[str, Any]:
    env = os.environ.get(STORAGE_ENV)
    return {"default": env} if env else {"required": True}
