"""The ``recsearch`` command line: run, create, worker, compare, best, spaces, strategies.

Every command prints an example with ``--help``. Bad input (unknown data set, space or strategy,
an unreachable or mistyped storage URL, an unknown study) ends with one line on stderr and a
non-zero exit status, never a traceback (``RECSEARCH_DEBUG=1`` shows it).

Exit status: 0 done, 1 error, 2 bad usage, 130 (SIGINT) or 143 (SIGTERM) interrupted; the same
command again resumes an interrupted run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from recsearch._cli_parser import EXIT_USAGE
from recsearch._cli_parser import build_parser
from recsearch._console import ProgressBar as _ProgressBar
from recsearch._console import print_best as _print_best
from recsearch._console import print_failures as _print_failures
from recsearch._console import print_summary as _print_summary
from recsearch._console import shown_storage as _shown_storage
from recsearch.redact import redact
from recsearch.redact import redact_text

EXIT_ERROR = 1

def _dataset_options(args: argparse.Namespace) -> dict[str, Any]:
    options = dict(args.dataset_option or [])
    if getattr(args, "dataset_path", None):
        options["path"] = os.path.abspath(args.dataset_path)
    return options


def _tracking(value: str | None) -> str | None:
    if value is None or value.lower() == "none":
        return None
    return value


def _recipe(args: argparse.Namespace) -> dict[str, Any] | None:
    return {"fidelity": args.fidelity} if args.fidelity != "epochs" else None


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
        "recipe": _recipe(args),
        "base_first": not args.no_base_first,
        "pretrained": args.pretrained,
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
    _print_summary(result, url, args.pretrained)
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


def _cmd_fidelity(args: argparse.Namespace) -> int:
    from recsearch.study import fidelity

    return fidelity.run_from_args(args, _dataset_options(args))


def _cmd_pretrain(args: argparse.Namespace) -> int:
    from recsearch.study import pretrained

    return pretrained.run_from_args(args, _dataset_options(args))


def _cmd_create(args: argparse.Namespace) -> int:
    from recsearch import runner

    study, settings = runner.create_study(
        study_name=args.study, storage=args.storage, **_create_kwargs(args)
    )
    url = args.storage or f"journal:{runner.DEFAULT_JOURNAL}"
    print(f"study {study.study_name}: {settings.n_trials} trials of {settings.strategy} on "
          f"{settings.space} / {settings.dataset}")  # fmt: skip
    source = f" --pretrained {args.pretrained}" if args.pretrained else ""
    print(f"start workers: recsearch worker --study {study.study_name} --storage "
          f"{_shown_storage(url)}{source}")
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
        pretrained=args.pretrained,
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
        pretrained=args.pretrained,
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
        base_first=not args.no_base_first,
        recipe=_recipe(args),
        pretrained=args.pretrained,
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
        "pretrain": _cmd_pretrain,
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


if __name__ == "__main__":
    raise SystemExit(main())
