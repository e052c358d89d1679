"""Local runs: create or resume a study, then run it in this process or in N worker processes.

With more than one worker, ``N`` ``recsearch worker`` processes share the storage, each with
``cores // N`` torch threads and ``OMP_WAIT_POLICY=PASSIVE``; with a CUDA device, workers take the
visible GPUs round robin (``--workers-per-gpu K`` starts ``K`` per GPU).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import optuna

from recsearch.errors import InvalidParameterError
from recsearch.redact import redact
from recsearch.redact import secret_env
from recsearch.study.callables import allow_env
from recsearch.study.components import Overrides
from recsearch.study.components import resolve
from recsearch.study.settings import StudySettings
from recsearch.study.settings import make_settings
from recsearch.study.studies import StudyCounts
from recsearch.study.studies import base_hook
from recsearch.study.studies import create_in
from recsearch.study.studies import failure_summary
from recsearch.study.studies import prepare
from recsearch.study.studies import study_counts
from recsearch.study.tracking import call_tracker
from recsearch.study.tracking import start_tracking
from recsearch.study.worker import Interrupted
from recsearch.study.worker import run_worker
from recsearch.study.worker import signals_raise

__all__ = ["RunResult", "check_device", "run", "worker_command", "worker_devices"]

_POLL_S = 0.5


@dataclass
class RunResult:
    """What :func:`run` did.

    Attributes:
        study: The study (loaded without a sampler).
        settings: Its settings.
        counts: Trials by state at the end.
        failures: :func:`~recsearch.study.studies.failure_summary`.
        interrupted: The signal that stopped the run, if any.
        worker_errors: One line per worker process that exited with an error.
    """

    study: optuna.Study
    settings: StudySettings
    counts: StudyCounts
    failures: list[tuple[str, int]]
    interrupted: int | None = None
    worker_errors: list[str] = field(default_factory=list)


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def check_device(device: str | None) -> int:
    """Refuse a CUDA device that is absent (one line); returns the number of visible GPUs.

    ``None`` and ``cpu`` import nothing and return 0.

    Example:
        >>> check_device("cpu")
        0
    """
    if device is None or device == "cpu":
        return 0
    if device != "auto" and device != "cuda" and not device.startswith("cuda:"):
        raise InvalidParameterError(
            f"The 'device' parameter must be auto, cpu, cuda or cuda:N. Got {device!r} instead."
        )
    import torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device.startswith("cuda") and n == 0:
        raise InvalidParameterError(f"device {device!r} was asked for but CUDA is absent")
    if device.startswith("cuda:"):
        index = device.split(":", 1)[1]
        if not index.isdigit() or int(index) >= n:
            raise InvalidParameterError(
                f"device {device!r}: this machine has {n} CUDA device(s) (cuda:0 .. cuda:{n - 1})"
            )
    return n


def worker_devices(device: str | None, workers: int, gpus: int) -> list[str | None]:
    """The device of each local worker: the visible GPUs round robin for ``cuda`` / ``auto``.

    Example:
        >>> worker_devices("cuda", 3, 2)
        ['cuda:0', 'cuda:1', 'cuda:0']
        >>> worker_devices(None, 2, 0)
        [None, None]
    """
    if device in ("cuda", "auto") and gpus > 0:
        return [f"cuda:{i % gpus}" for i in range(workers)]
    return [device] * workers


def worker_command(
    *,
    study_name: str,
    storage_url: str,
    worker_index: int,
    threads: int,
    heartbeat_interval: int,
    tracking_uri: str | None = None,
    device: str | None = None,
    max_failures: int | None = None,
    pretrained: str | None = None,
) -> list[str]:
    """The ``recsearch worker`` command line :func:`run` starts for one local worker."""
    cmd = [
        sys.executable, "-m", "recsearch", "worker",
        "--study", study_name,
        "--storage", storage_url,
        "--worker-index", str(worker_index),
        "--threads", str(threads),
        "--heartbeat", str(heartbeat_interval),
        "--no-finalize", "--quiet",
    ]  # fmt: skip
    if tracking_uri is not None:
        cmd += ["--tracking-uri", tracking_uri]
    if device is not None:
        cmd += ["--device", device]
    if max_failures is not None:
        cmd += ["--max-failures", str(max_failures)]
    if pretrained is not None:
        cmd += ["--pretrained", pretrained]
    return cmd


def cap_workers(workers: int, study: optuna.Study, settings: StudySettings) -> int:
    """At most one worker per trial left (issue 14 #8); a warning above the core count."""
    counts = study_counts(study)
    left = counts.waiting if settings.queue_only else settings.n_trials - counts.done
    capped = max(1, min(workers, left))
    if capped < workers:
        print(f"recsearch: {workers} workers asked for, {left} trials left: starting {capped}",
              file=sys.stderr)  # fmt: skip
    if capped > cores():
        print(f"recsearch: {capped} workers on {cores()} cores: they compete for the CPU, each "
              "trial runs slower (use --workers <= the core count)", file=sys.stderr)  # fmt: skip
    return capped


def run(
    *,
    workers: int = 1,
    study_name: str | None = None,
    storage: str | None = None,
    tracking_uri: str | None = "default",
    heartbeat_interval: int = 10,
    progress: Callable[[optuna.Study, StudyCounts], None] | None = None,
    device: str | None = None,
    workers_per_gpu: int | None = None,
    max_failures: int | None = None,
    pretrained: Any = None,
    **create_kwargs: Any,
) -> RunResult:
    """Create or resume a study, then run it with ``workers`` local processes.

    With one worker the trials run in this process; with more, ``workers`` ``recsearch worker``
    processes share the storage, each with ``cores // workers`` torch threads and
    ``OMP_WAIT_POLICY=PASSIVE``. SIGINT/SIGTERM stop the run (the workers get SIGINT); running
    the same call again resumes.

    Args:
        workers: Number of worker processes.
        study_name: See :func:`~recsearch.study.studies.create_study`.
        storage: Storage URL; ``None`` is the local journal file (see :mod:`recsearch.storage`).
        tracking_uri: See :func:`~recsearch.study.studies.create_study`.
        heartbeat_interval: See :func:`recsearch.storage.open_storage`.
        progress: Called with the study and its counts after each trial (or every poll).
        device: The objective's device (``auto``, ``cpu``, ``cuda``, ``cuda:N``); ``None`` leaves
            the objective's default. Workers take the visible GPUs round robin.
        workers_per_gpu: With CUDA, start this many workers per visible GPU (instead of
            ``workers``).
        max_failures: See :func:`~recsearch.study.worker.run_worker`.
        pretrained: A fine-tuning space's source model (see
            :func:`~recsearch.study.studies.create_study`); each local worker is given the same
            path or URI on its command line.
        **create_kwargs: The remaining arguments of :func:`~recsearch.study.studies.create_study`.

    Returns:
        A :class:`RunResult`.

    Example:
        >>> run(dataset="synthetic", space="autofis", strategy="tpe", n_trials=5)  # doctest: +SKIP
    """
    from recsearch.storage import open_storage

    if workers < 1:
        raise InvalidParameterError(f"The 'workers' parameter must be >= 1. Got {workers!r}.")
    if workers_per_gpu is not None and workers_per_gpu < 1:
        raise InvalidParameterError(
            f"The 'workers_per_gpu' parameter must be >= 1. Got {workers_per_gpu!r}."
        )
    gpus = check_device(device if workers_per_gpu is None else (device or "auto"))
    if workers_per_gpu is not None and gpus:
        workers = workers_per_gpu * gpus
    devices = worker_devices(device, workers, gpus)
    base_first = bool(create_kwargs.pop("base_first", True))
    settings = make_settings(tracking_uri=tracking_uri, **create_kwargs)
    source = None
    if pretrained is not None:
        from recsearch.study.pretrained import load

        source = load(pretrained)
    # NOTE: one process resolves once: these components run the trials when workers == 1.
    settings, components = prepare(settings, track=True, device=devices[0],
                                   overrides=Overrides(pretrained=source))  # fmt: skip
    store = open_storage(storage, heartbeat_interval=heartbeat_interval)
    hook = base_hook(settings, components.space) if base_first else None
    study, recorded = create_in(store, study_name, settings, components.directions,
                                on_create=hook)  # fmt: skip
    if (redact(recorded.tracking_uri or ""), recorded.experiment) != (
        redact(settings.tracking_uri or ""), settings.experiment
    ):
        # NOTE: an existing study keeps its own tracking; only the tracker's hooks change.
        over = Overrides(dataset=components.dataset, space=components.space, pretrained=source)
        components = resolve(recorded, device=devices[0], overrides=over)
    settings = recorded
    components = dataclasses.replace(components, settings=settings)
    name = study.study_name
    workers = cap_workers(workers, study, settings)
    if workers == 1:
        result = run_worker(
            study_name=name,
            storage=store,
            worker_index=0,
            heartbeat_interval=heartbeat_interval,
            on_trial=(lambda st, ft: progress(st, study_counts(st))) if progress else None,
            components=components,
            max_failures=max_failures,
        )
        return RunResult(study, settings, result.counts, result.failures, result.interrupted)
    # NOTE: the parent creates the MLflow store and the parent run once, before the workers
    # start; N processes initialising a fresh SQLite MLflow store at once can hang.
    tracker = components.tracker
    start_tracking(tracker, study, settings=settings, storage=store, strategy=components.strategy)
    threads = max(1, cores() // workers)
    url = str(store.recsearch_url)
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": str(threads),
           **secret_env(url, settings.tracking_uri), **allow_env()}  # fmt: skip
    # NOTE: stderr goes to files, not pipes: a chatty worker must never block on a full pipe.
    logs = [tempfile.TemporaryFile(mode="w+") for _ in range(workers)]
    procs = [
        subprocess.Popen(
            worker_command(
                study_name=name,
                storage_url=redact(url),
                worker_index=i,
                threads=threads,
                heartbeat_interval=heartbeat_interval,
                device=devices[i],
                max_failures=max_failures,
                pretrained=None if source is None else source.ref,
            ),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=logs[i],
            # NOTE: own process group: Ctrl-C reaches the workers once, forwarded by us.
            process_group=0,
        )
        for i in range(workers)
    ]
    interrupted = _wait(procs, study, progress)
    errors = []
    for i, p in enumerate(procs):
        logs[i].seek(0)
        err = logs[i].read().strip()
        logs[i].close()
        if p.returncode not in (0, 130, 143) and interrupted is None:
            last = err.splitlines()[-1] if err else f"exit status {p.returncode}"
            errors.append(f"worker {i}: {last}")
    counts = study_counts(study)
    if progress is not None:
        progress(study, counts)
    if interrupted is None and counts.done >= settings.n_trials and tracker is not None:
        call_tracker(tracker.end_study, study)
    return RunResult(study, settings, counts, failure_summary(study), interrupted, errors)


def _wait(
    procs: list[subprocess.Popen[bytes]],
    study: optuna.Study,
    progress: Callable[[optuna.Study, StudyCounts], None] | None,
) -> int | None:
    """Wait for the workers; on SIGINT/SIGTERM forward SIGINT and return the signal."""
    with signals_raise():
        try:
            while any(p.poll() is None for p in procs):
                if progress is not None:
                    progress(study, study_counts(study))
                time.sleep(_POLL_S)
        except Interrupted as exc:
            stop_processes(procs)
            return exc.signum
    return None


def stop_processes(procs: list[subprocess.Popen[Any]], *, timeout: float = 30.0) -> None:
    """Send SIGINT to the running processes, wait up to ``timeout`` s, then kill what is left."""
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGINT)
    deadline = time.monotonic() + timeout
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        if p.poll() is None:
            p.kill()
            p.wait()
