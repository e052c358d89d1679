"""The ``recsearch`` command line: run, create, worker, compare, best, spaces, strategies.

Every command prints an example with ``--help``. Bad input (unknown data set, space or strategy,
an unreachable or mistyped storage URL, an unknown study) ends with one line on stderr and a
non-zero exit status, never a traceback (``RECSEARCH_DEBUG=1`` shows it).

Exit status: 0 done, 1 error, 2 bad usage, 130 (SIGINT) or 143 (SIGTERM) interrupted; the same
command again resumes an interrupted run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from recsearch._console import ProgressBar as _ProgressBar
from recsearch._console import print_best as _print_best
from recsearch._console import print_failures as _print_failures
from recsearch._console import print_summary as _print_summary
from recsearch._console import shown_storage as _shown_storage
from recsearch.redact import STORAGE_ENV
from recsearch.redact import redact
from recsearch.redact import redact_text

EXIT_ERROR = 1
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

_BEST_EXAMPLE = """\
example:
  recsearch best --study criteo-autoctr --storage sqlite:///studies.db
"""

_RETRAIN_EXAMPLE = """\
example (top-5 of a search, 3 seeds, 20 epochs, beside DeepFM and DCN-V2, test AUC reported):
  recsearch retrain --study ml-aim-tpe --storage sqlite:///studies.db --top-k 5 --seeds 3 \\
      --budget-epochs 20 --baselines deepfm,dcnv2 --register-as movielens-ctr
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
    p.add_argument("--fidelity", choices=("epochs", "rows"), default="epochs",
                   help="hyperband/bohb/smac-hb resource: evaluations of one training (epochs) "
                   "or retraining on growing seeded subsamples, 1/9, 1/3, all (rows)")
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
    p.add_argument("--workers", type=_positive_int, default=1)
    p.add_argument("--out", default="reports/compare", help="report folder")
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow tracking URI ('none': no tracking)")  # fmt: skip
    p.add_argument("--storage", default=None,
                   help="where the comparison's studies live (default: a journal file in --out); "
                   "rerun to resume, `recsearch worker --comparison NAME` to join")  # fmt: skip
    p.add_argument("--name", default=None, help="comparison name (default: from the settings)")
    _add_device(p)

    p = sub.add_parser("best", help="print a study's best trial", epilog=_BEST_EXAMPLE,
                       formatter_class=fmt)  # fmt: skip
    p.add_argument("--study", required=True)
    p.add_argument("--storage", **_storage_required(),
                   help="Optuna storage URL of the study (default: $RECSEARCH_STORAGE)")
    p.add_argument("--json", action="store_true", help="print JSON")

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


def _dataset_options(args: argparse.Namespace) -> dict[str, Any]:
    options = dict(args.dataset_option or [])
    if getattr(args, "dataset_path", None):
        options["path"] = os.path.abspath(args.dataset_path)
    return options


def _tracking(value: str | None) -> str | None:
    if value is None or value.lower() == "none":
        return None
    return value


def _create_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "dataset": args.dataset,
        "dataset_options": _dataset_options(args),
        "space": args.space,
        "strategy": args.strategy,
        "strategy_options": dict(args.strategy_option or []),
        "n_trials": args.trials,
        "budget_epochs": args.budget_epochs,
        "seed": args.seed,
        "metric": args.metric,
        "cost": args.cost,
        "objective": args.objective,
        "tracking_uri": _tracking(args.tracking_uri),
        "experiment": args.experiment,
        "recipe": {"fidelity": args.fidelity} if args.fidelity != "epochs" else None,
        "base_first": not args.no_base_first,
    }


def _cmd_run(args: argparse.Namespace) -> int:
    from recsearch import runner

    storage = args.storage
    bar: _ProgressBar | None = None

    def progress(study: Any, counts: Any) -> None:
        nonlocal bar
        if bar is None:
            bar = _ProgressBar(args.trials, counts.done, enabled=not args.no_progress)
        bar(study, counts)

    start = time.monotonic()
    try:
        result = runner.run(
            workers=args.workers,
            study_name=args.study,
            storage=storage,
            heartbeat_interval=args.heartbeat,
            progress=progress,
            device=args.device,
            workers_per_gpu=args.workers_per_gpu,
            max_failures=args.max_failures,
            **_create_kwargs(args),
        )
    finally:
        if bar is not None:
            bar.close()
    url = storage or f"journal:{runner.DEFAULT_JOURNAL}"
    _print_summary(result, url)
    print(f"elapsed: {time.monotonic() - start:.1f} s")
    for line in result.worker_errors:
        print(f"recsearch: {line}", file=sys.stderr)
    if result.interrupted is not None:
        print("recsearch: interrupted; run the same command again to resume", file=sys.stderr)
        return 128 + result.interrupted
    if result.counts.done < result.settings.n_trials:
        return EXIT_ERROR
    if args.retrain_top_k:
        from recsearch.study import retraining

        return retraining.run_from_args(args, study=result.study.study_name, storage=url)
    return 0


def _cmd_retrain(args: argparse.Namespace) -> int:
    from recsearch.study import retraining

    return retraining.run_from_args(args)


def _cmd_create(args: argparse.Namespace) -> int:
    from recsearch import runner

    study, settings = runner.create_study(
        study_name=args.study, storage=args.storage, **_create_kwargs(args)
    )
    url = args.storage or f"journal:{runner.DEFAULT_JOURNAL}"
    print(f"study {study.study_name}: {settings.n_trials} trials of {settings.strategy} on "
          f"{settings.space} / {settings.dataset}")  # fmt: skip
    print(f"start workers: recsearch worker --study {study.study_name} --storage "
          f"{_shown_storage(url)}")
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    from recsearch import runner

    def on_trial(study: Any, trial: Any) -> None:
        if args.quiet:
            return
        state = trial.state.name.lower()
        extra = ""
        if state == "fail":
            extra = f" ({trial.user_attrs.get('failure', 'no reason recorded')})"
        elif trial.values:
            extra = " " + ", ".join(f"{v:.6g}" for v in trial.values)
        print(f"trial {trial.number}: {state}{extra}", flush=True)

    options = {"path": os.path.abspath(args.dataset_path)} if args.dataset_path else None
    from recsearch.study.callables import allow

    allow(*args.allow_callable)
    if args.comparison is not None:
        return _join_comparison(args, options)
    result = runner.run_worker(
        study_name=args.study,
        storage=args.storage,
        n_trials=args.trials,
        worker_index=args.worker_index,
        threads=args.threads,
        tracking_uri=args.tracking_uri,
        heartbeat_interval=args.heartbeat,
        grace_period=args.grace,
        finalize=not args.no_finalize,
        dataset_options=options,
        on_trial=on_trial,
        device=args.device,
        max_failures=args.max_failures,
    )
    if not args.quiet:
        c = result.counts
        print(f"worker ran {result.ran} trials; study {result.study_name}: {c.complete} "
              f"complete, {c.pruned} pruned, {c.failed} failed")  # fmt: skip
        _print_failures(result.failures)
    if result.interrupted is not None:
        print("recsearch: interrupted; the running trial was marked failed", file=sys.stderr)
        return 128 + result.interrupted
    return 0


def _join_comparison(args: argparse.Namespace, options: dict[str, Any] | None) -> int:
    from recsearch.errors import StorageError
    from recsearch.storage import open_storage
    from recsearch.study.comparison import cell_names
    from recsearch.study.comparison import run_cells
    from recsearch.study.launcher import check_device

    check_device(args.device)
    store = open_storage(args.storage, must_exist=True, heartbeat_interval=args.heartbeat,
                         grace_period=args.grace)  # fmt: skip
    cells = cell_names(store, args.comparison)
    if not cells:
        raise StorageError(f"no comparison named {args.comparison!r} in that storage")
    interrupted = run_cells(
        store, cells, worker_index=args.worker_index, tracking_uri=args.tracking_uri,
        device=args.device, threads=args.threads, dataset_options=options,
    )  # fmt: skip
    if not args.quiet:
        print(f"comparison {args.comparison}: {len(cells)} studies served")
    if interrupted is not None:
        print("recsearch: interrupted; the running trial was marked failed", file=sys.stderr)
        return 128 + interrupted
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    import optuna

    from recsearch.compare import run_comparison

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    names = [s.strip() for s in args.strategies.split(",") if s.strip()]
    if not names:
        raise _usage("--strategies needs at least one name")
    _check_names("strategy", names)
    _check_names("space", [args.space])
    from recsearch.study.worker import Interrupted

    workers = args.workers
    if args.workers_per_gpu is not None:
        from recsearch.study.launcher import check_device

        workers = args.workers_per_gpu * check_device(args.device or "auto") or workers
    try:
        report = _compare(run_comparison, args, names, workers)
    except Interrupted as exc:
        print("recsearch: interrupted; run the same command again to resume", file=sys.stderr)
        return 128 + exc.signum
    print(report.to_markdown())
    print(f"report: {report.out_dir}")
    if report.mlflow_run_id:
        uri = _tracking(args.tracking_uri) or os.environ.get("MLFLOW_TRACKING_URI") or (
            "sqlite:///mlflow.db"
        )
        run_id = report.mlflow_run_id
        print(f"runs: mlflow ui --backend-store-uri {redact(uri)}  (comparison run {run_id})")
    return 0


def _compare(run_comparison: Any, args: argparse.Namespace, names: list[str], workers: int) -> Any:
    return run_comparison(
        dataset=args.dataset,
        dataset_options=_dataset_options(args),
        space=args.space,
        strategies=names,
        seeds=args.seeds,
        budget=args.budget,
        budget_epochs_per_trial=args.budget_epochs,
        metric=args.metric,
        out_dir=args.out,
        workers=workers,
        tracking_uri=_tracking(args.tracking_uri),
        track=(args.tracking_uri or "").lower() != "none",
        storage=args.storage,
        name=args.name,
        device=args.device,
    )


def _cmd_best(args: argparse.Namespace) -> int:
    from recsearch import runner

    study, settings = runner.load_study(study_name=args.study, storage=args.storage)
    if not args.json:
        c = runner.study_counts(study)
        print(f"study {study.study_name}: {c.complete} complete, {c.pruned} pruned, "
              f"{c.failed} failed (target {settings.n_trials})")  # fmt: skip
    _print_best(study, settings, as_json=args.json)
    return 0


def _check_names(kind: str, names: Sequence[str]) -> None:
    from recsearch.errors import InvalidParameterError

    table = _listing(kind)
    for name in names:
        if ":" not in name and name not in table:
            raise InvalidParameterError(
                f"unknown {kind} {name!r}; choose one of: {', '.join(sorted(table))}"
            )


def _listing(kind: str) -> dict[str, str]:
    if kind == "space":
        from recsearch import spaces

        return dict(spaces.available())
    from recsearch import strategies
    from recsearch.oneshot import study as oneshot_study

    return {**strategies.available(), **oneshot_study.listing()}


def _cmd_fidelity(args: argparse.Namespace) -> int:
    from recsearch.study import fidelity

    return fidelity.run_from_args(args, _dataset_options(args))


def _cmd_list(kind: str) -> int:
    table = _listing(kind)
    width = max((len(k) for k in table), default=0)
    for name in sorted(table):
        print(f"{name:<{width}}  {table[name]}")
    return 0


class _UsageError(Exception):
    pass


def _usage(message: str) -> _UsageError:
    return _UsageError(message)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``recsearch`` console script; returns the exit status."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    commands = {
        "run": _cmd_run,
        "create": _cmd_create,
        "worker": _cmd_worker,
        "compare": _cmd_compare,
        "best": _cmd_best,
        "fidelity": _cmd_fidelity,
        "retrain": _cmd_retrain,
        "spaces": lambda a: _cmd_list("space"),
        "strategies": lambda a: _cmd_list("strategy"),
    }
    from recsearch.errors import RecsearchError

    try:
        return commands[args.command](args)
    except _UsageError as exc:
        print(f"recsearch {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("recsearch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # NOTE: output piped into `head`; exit quietly like other command line tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (RecsearchError, FileNotFoundError, PermissionError) as exc:
        if os.environ.get("RECSEARCH_DEBUG"):
            raise
        print(f"recsearch {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the CLI never shows a traceback by default
        if os.environ.get("RECSEARCH_DEBUG"):
            raise
        from recsearch._internals import explain_storage_error

        explained = explain_storage_error(exc, getattr(args, "storage", None))
        if explained is not None:
            print(f"recsearch {args.command}: error: {_one_line(explained)}", file=sys.stderr)
            return EXIT_ERROR
        print(
            f"recsearch {args.command}: unexpected error: {type(exc).__name__}: {_one_line(exc)}"
            " (set RECSEARCH_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_ERROR


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return redact_text(" ".join(lines))[:500] if lines else type(exc).__name__


def _storage_required() -> dict[str, Any]:
    env = os.environ.get(STORAGE_ENV)
    return {"default": env} if env else {"required": True}



if __name__ == "__main__":
    raise SystemExit(main())
