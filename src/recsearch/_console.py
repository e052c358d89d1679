"""What the command line prints: the progress bar, the best trials, a study's summary."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from recsearch.redact import STORAGE_ENV
from recsearch.redact import redact

__all__ = ["ProgressBar", "print_best", "print_failures", "print_summary", "shown_storage"]


class ProgressBar:
    """tqdm bar: trials done of the target, best so far, elapsed and ETA."""

    def __init__(self, total: int, initial: int, *, enabled: bool) -> None:
        self.bar = None
        self.last = initial
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="trial", dynamic_ncols=True,
                            file=sys.stderr)  # fmt: skip

    def __call__(self, study: Any, counts: Any) -> None:
        if self.bar is None:
            return
        done = min(counts.done, self.bar.total)
        if done > self.last:
            self.bar.update(done - self.last)
            self.last = done
        best = _best_text(study)
        postfix = {"best": best} if best else {}
        if counts.failed:
            postfix["failed"] = counts.failed
        if counts.running:
            postfix["running"] = counts.running
        self.bar.set_postfix(postfix, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _best_text(study: Any) -> str:
    try:
        if len(study.directions) > 1:
            return f"{len(study.best_trials)} on front"
        return f"{study.best_value:.4f}"
    except (ValueError, RuntimeError):
        return ""


def print_best(study: Any, settings: Any, *, as_json: bool = False) -> None:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not trials:
        if as_json:
            counts = {s.name.lower(): 0 for s in TrialState}
            for t in study.get_trials(deepcopy=False):
                counts[t.state.name.lower()] += 1
            print(json.dumps({"study": study.study_name, "best": None,
                              "message": "no trial is complete yet", "trials": counts}, indent=2))
        else:
            print(f"study {study.study_name}: no complete trial yet")
        return
    best = study.best_trials if len(study.directions) > 1 else [study.best_trial]
    if as_json:
        out = [
            {"number": t.number, "values": t.values, "params": t.params,
             "user_attrs": {k: v for k, v in t.user_attrs.items() if k != "spec"}}
            for t in best
        ]  # fmt: skip
        print(json.dumps(out if len(out) > 1 else out[0], indent=2, default=str))
        return
    names = [f"valid {settings.metric}" if settings is not None else "value"]
    if settings is not None and settings.cost:
        names.append(f"cost {settings.cost}")
    if len(best) > 1:
        print(f"{len(best)} trials on the Pareto front; the first {min(len(best), 5)}:")
    for t in best[:5]:
        labels = names + ["value"] * len(t.values)
        values = ", ".join(f"{n} {v:.6g}" for n, v in zip(labels, t.values, strict=False))
        print(f"best trial #{t.number}: {values}")
        print("configuration:")
        for key in sorted(t.params):
            print(f"  {key} = {t.params[key]!r}")


def print_summary(result: Any, storage_url: str, pretrained: str | None = None) -> None:
    c = result.counts
    study = result.study
    print(f"study {study.study_name}: {c.complete} complete, {c.pruned} pruned, "
          f"{c.failed} failed (target {result.settings.n_trials})")  # fmt: skip
    print_failures(result.failures)
    print_best(study, result.settings)
    if result.settings.tracking_uri:
        print(f"runs: mlflow ui --backend-store-uri {redact(result.settings.tracking_uri)}")
        print_untracked(study)
    source = ""
    if getattr(result.settings, "pretrained", ""):
        source = f" --pretrained {pretrained or 'SOURCE_MODEL'}"
    print(f"more workers: recsearch worker --study {study.study_name} --storage "
          f"{shown_storage(storage_url)}{source}")


def print_untracked(study: Any) -> None:
    """Name the trials whose MLflow runs missed something while the tracking server was away."""
    from recsearch.study.reach import untracked_trials

    untracked = untracked_trials(study)
    if untracked:
        numbers = ", ".join(f"#{n}" for n in sorted(untracked)[:20])
        more = f" and {len(untracked) - 20} more" if len(untracked) > 20 else ""
        print(f"not tracked in MLflow ({untracked[min(untracked)]}): trials {numbers}{more}; "
              "their results are in the study (recsearch best)")


def shown_storage(url: str) -> str:
    """The storage URL for a hint: redacted, with where the workers take the password from."""
    shown = redact(url)
    if shown == url:
        return url
    return (f"'{shown}'\n  (the password is not shown: pass the real URL, or set "
            f"{STORAGE_ENV}, or keep the password in ~/.pgpass)")


def print_failures(failures: Sequence[tuple[str, int]]) -> None:
    if not failures:
        return
    total = sum(n for _, n in failures)
    print(f"failed trials by cause ({total}):")
    for reason, n in failures:
        print(f"  {n} x {reason}")
