"""The retrain report: did the search beat the baselines, by how much, at what cost.

Pure tables from plain records (numpy/scipy in, text out), plus the writer of its files:
Markdown, CSV (one row per model, one per cell), JSON (everything, full parameters included) and
two PNGs (test AUC per model with error bars over seeds; search score against retrained score).

Rules (issue 11): the winner is the found configuration (or the preset's base) with the best
**retrained validation** score, never by test; the best baseline is chosen the same way. The gain
is the winner's mean test AUC minus the best baseline's, with the per-seed differences and a
paired t-test across seeds (``scipy.stats.ttest_rel``; with few seeds the test is weak, and the
report says so). The Spearman correlation between the search-budget score and the retrained
validation score over the found configurations says how far the search's ranking could be
trusted (a hint; the fidelity report is the real check).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from typing import Literal

import numpy as np

__all__ = [
    "Candidate",
    "CellOutcome",
    "ModelRow",
    "RetrainReport",
    "build_report",
    "describe_diff",
]

Kind = Literal["found", "base", "baseline"]
_METRICS = ("valid_auc", "valid_logloss", "test_auc", "test_logloss", "epochs")
_COSTS = ("cost.params", "cost.embedding_bytes", "cost.flops", "cost.latency_ms")
WEAK_SEEDS = 5
"""Below this many seeds the report calls its paired test weak."""


@dataclass(frozen=True)
class Candidate:
    """One model of a retrain.

    Attributes:
        name: ``found-<rank>`` (rank by search score), ``base`` or the baseline's name.
        kind: ``found`` (a configuration of the search), ``base`` (the preset's default) or
            ``baseline`` (a named hand-designed model).
        spec: The decoded model spec (``ModelSpec.to_dict()``).
        recipe: The training recipe in words.
        params: The search parameters (found and base), else ``None``.
        search_score: Score at the search budget (found configurations).
        trial_number: The search trial it came from.

    Example:
        >>> Candidate("deepfm", "baseline", {}, "full").kind
        'baseline'
    """

    name: str
    kind: Kind
    spec: Mapping[str, Any]
    recipe: str
    params: Mapping[str, Any] | None = None
    search_score: float | None = None
    trial_number: int | None = None


@dataclass(frozen=True)
class CellOutcome:
    """The metrics of one (model, seed) cell (``FinalResult.metrics()``)."""

    model: str
    seed: int
    metrics: Mapping[str, float]


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if arr.size == 0:
        return math.nan, math.nan
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


@dataclass(frozen=True)
class ModelRow:
    """A model's aggregate over its seeds.

    Attributes:
        candidate: What was trained.
        seeds: Seeds with a finished cell.
        per_seed: Metric name -> value per seed (``seeds`` order).
        mean: Metric (and cost) name -> mean over seeds.
        sd: Metric name -> sample standard deviation over seeds (0 with one seed).
    """

    candidate: Candidate
    seeds: tuple[int, ...]
    per_seed: Mapping[str, tuple[float, ...]]
    mean: Mapping[str, float]
    sd: Mapping[str, float]

    @property
    def name(self) -> str:
        """The candidate's name."""
        return self.candidate.name


def _row(candidate: Candidate, cells: Sequence[CellOutcome]) -> ModelRow:
    cells = sorted(cells, key=lambda c: c.seed)
    per_seed = {k: tuple(float(c.metrics.get(k, math.nan)) for c in cells)
                for k in (*_METRICS, *_COSTS)}  # fmt: skip
    stats = {k: _mean_sd(v) for k, v in per_seed.items()}
    return ModelRow(
        candidate,
        tuple(c.seed for c in cells),
        per_seed,
        {k: s[0] for k, s in stats.items()},
        {k: s[1] for k, s in stats.items()},
    )


def _words(name: str) -> str:
    return {"inter": "pairs", "group": "group members", "graph": "graph edges"}.get(name, name)


def describe_diff(
    params: Mapping[str, Any] | None, base: Mapping[str, Any] | None, *, limit: int = 8
) -> list[str]:
    """What a configuration changes from the base, one line per change or group of switches.

    Booleans of a section (``inter.a-b``) are grouped ("14 of 45 pairs off: a-b, ..."); any
    other difference reads ``name base -> value`` (``-`` where the parameter is inactive).

    Example:
        >>> base = {"inter.a-b": True, "inter.a-c": True, "emb.a": 16}
        >>> describe_diff({"inter.a-b": False, "inter.a-c": True, "emb.a": 32}, base)
        ['1 of 2 pairs off: a-b', 'emb.a 16 -> 32']
    """
    if params is None or base is None:
        return []
    lines: list[str] = []
    switches: dict[str, list[tuple[str, bool, bool]]] = {}
    names = sorted(set(params) | set(base))
    off = {n for n in names if base.get(n) is True and params.get(n) is False}
    choices: dict[str, list[str]] = {}
    for name in names:
        new, old = params.get(name), base.get(name)
        section, _, local = name.partition(".")
        parent, _, leaf = name.rpartition(".")
        if isinstance(old, bool) and isinstance(new, bool) and "." not in local:
            switches.setdefault(section, []).append((local, old, new))
        elif parent in off and new is None:
            continue  # NOTE: a switched-off pair's function is inactive, not changed
        elif new != old and not (_is_num(new) and _is_num(old) and math.isclose(new, old)):
            if isinstance(new, str) and isinstance(old, str) and parent.count(".") == 1:
                choices.setdefault(f"{_words(section)} with another {leaf}", []).append(
                    f"{parent.partition('.')[2]} {old} -> {new}"
                )
            else:
                lines.append(f"{name} {_fmt(old)} -> {_fmt(new)}")
    for key, changed in choices.items():
        shown = ", ".join(changed[:limit]) + (", ..." if len(changed) > limit else "")
        lines.insert(0, f"{len(changed)} {key}: {shown}")
    head = []
    for section, items in switches.items():
        for turned, was in (("off", True), ("on", False)):
            changed = [local for local, old, new in items if old == was and new != was]
            if changed:
                shown = ", ".join(changed[:limit]) + (", ..." if len(changed) > limit else "")
                head.append(f"{len(changed)} of {len(items)} {_words(section)} {turned}: {shown}")
    return head + lines


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _paired(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    if len(a) < 2:
        return math.nan, math.nan
    from scipy import stats

    diff = np.asarray(a) - np.asarray(b)
    if np.allclose(diff, diff[0]):
        return (math.inf if diff[0] > 0 else -math.inf if diff[0] < 0 else math.nan), math.nan
    res = stats.ttest_rel(a, b)
    return float(res.statistic), float(res.pvalue)


def _spearman(x: Sequence[float], y: Sequence[float]) -> float:
    if len(x) < 3:
        return math.nan
    from scipy import stats

    rho = stats.spearmanr(x, y).statistic
    return float(rho) if rho == rho else math.nan


@dataclass(frozen=True)
class RetrainReport:
    """Everything the retrain stage reports (see the module docstring).

    Attributes:
        study: The search study retrained.
        metric: The search metric (``auc`` or ``logloss``).
        rows: One per model, in candidate order.
        winner: Name of the best found model by retrained validation score.
        best_baseline: Name of the best baseline by retrained validation score (or ``None``).
        gain: Winner's mean test AUC minus the best baseline's.
        gain_logloss: The same difference of mean test logloss (negative: better).
        per_seed_gain: Test AUC differences on the seeds both have.
        t_stat: Paired t statistic of those differences.
        p_value: Its two-sided p-value.
        spearman: Spearman correlation of search score and retrained valid score (found rows).
        diff: The winner's changes from the base (:func:`describe_diff`).
        notes: Lines the user should read (fewer complete trials than asked, ...).
        registered: What was registered, if anything.

    Example:
        >>> report.rows[0].mean["test_auc"]  # doctest: +SKIP
        0.7851
    """

    study: str
    metric: str
    rows: tuple[ModelRow, ...]
    winner: str | None
    best_baseline: str | None
    gain: float
    gain_logloss: float
    per_seed_gain: tuple[float, ...]
    t_stat: float
    p_value: float
    spearman: float
    diff: tuple[str, ...]
    notes: tuple[str, ...] = ()
    registered: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)

    def row(self, name: str) -> ModelRow:
        """The row of model ``name``."""
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    # ------------------------------------------------------------------ tables
    def table(self) -> list[dict[str, Any]]:
        """One flat dict per model (the CSV's rows)."""
        out = []
        for r in self.rows:
            c = r.candidate
            d: dict[str, Any] = {
                "model": c.name, "kind": c.kind, "trial": c.trial_number,
                "search_score": c.search_score, "seeds": len(r.seeds),
            }  # fmt: skip
            for k in _METRICS:
                d[f"{k}_mean"], d[f"{k}_sd"] = r.mean[k], r.sd[k]
            for k in _COSTS:
                d[k.removeprefix("cost.")] = r.mean[k]
            d["recipe"] = c.recipe
            d["winner"] = c.name == self.winner
            out.append(d)
        return out

    def gain_line(self) -> str:
        """The gain of the winner over the best baseline, in words."""
        if self.winner is None or self.best_baseline is None:
            return "gain: no baseline to compare with"
        seeds = len(self.per_seed_gain)
        per = ", ".join(f"{d:+.4f}" for d in self.per_seed_gain)
        weak = f" ({seeds} seeds: a weak test)" if seeds < WEAK_SEEDS else ""
        t = "n/a" if math.isnan(self.t_stat) else f"{self.t_stat:.2f}"
        p = "n/a" if math.isnan(self.p_value) else f"{self.p_value:.3f}"
        return (f"gain of {self.winner} over {self.best_baseline} (the best baseline by valid): "
                f"test AUC {self.gain:+.4f}, test logloss {self.gain_logloss:+.4f}; per seed "
                f"{per}; paired t-test t={t}, p={p}{weak}")  # fmt: skip

    def spearman_line(self) -> str:
        """How far the search's ranking held, in words."""
        k = sum(1 for r in self.rows if r.candidate.kind == "found")
        if math.isnan(self.spearman):
            return f"search ranking: Spearman n/a over {k} found configuration(s) (needs 3)"
        return (f"search ranking: Spearman {self.spearman:+.2f} between the search score and "
                f"the retrained valid {self.metric} over the top-{k} (a hint; `recsearch "
                "fidelity` measures it)")  # fmt: skip

    def to_markdown(self) -> str:
        """The report as Markdown (what is printed at the end of a retrain)."""
        head = ("| model | kind | search | valid AUC | valid logloss | test AUC | test logloss "
                "| params | emb. bytes | FLOPs | ms/1k rows | epochs |")  # fmt: skip
        lines = [f"## Retrain of study `{self.study}` (search metric: valid {self.metric})", "",
                 head, "|" + "---|" * 12]  # fmt: skip
        for r in self.rows:
            c, m, s = r.candidate, r.mean, r.sd
            star = " **(winner)**" if c.name == self.winner else ""
            score = "" if c.search_score is None else f"{c.search_score:.4f}"
            lines.append(
                f"| {c.name}{star} | {c.kind} | {score} "
                f"| {m['valid_auc']:.4f} ± {s['valid_auc']:.4f} "
                f"| {m['valid_logloss']:.4f} ± {s['valid_logloss']:.4f} "
                f"| {m['test_auc']:.4f} ± {s['test_auc']:.4f} "
                f"| {m['test_logloss']:.4f} ± {s['test_logloss']:.4f} "
                f"| {_int(m['cost.params'])} | {_int(m['cost.embedding_bytes'])} "
                f"| {_int(m['cost.flops'])} | {_num(m['cost.latency_ms'])} "
                f"| {m['epochs']:.1f} |"
            )
        recipes = sorted({r.candidate.recipe for r in self.rows})
        lines += ["", "Recipe: " + "; ".join(recipes), ""]
        if self.winner is not None:
            w = self.row(self.winner).candidate
            trial = "" if w.trial_number is None else f" (search trial {w.trial_number})"
            lines.append(f"Winner by retrained valid {self.metric}: {w.name}{trial}")
            lines += [f"- vs base: {d}" for d in self.diff] or ["- the base itself"]
        lines += ["", self.gain_line(), self.spearman_line()]
        lines += [f"note: {n}" for n in self.notes]
        if self.registered:
            lines.append(self.registered)
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready data (full specs and parameters included)."""
        return {
            "study": self.study, "metric": self.metric, "winner": self.winner,
            "best_baseline": self.best_baseline, "gain_test_auc": self.gain,
            "gain_test_logloss": self.gain_logloss, "per_seed_gain": list(self.per_seed_gain),
            "paired_t": {"statistic": self.t_stat, "p_value": self.p_value,
                         "test": "scipy.stats.ttest_rel on per-seed test AUC"},
            "spearman": self.spearman, "diff_from_base": list(self.diff),
            "notes": list(self.notes), "registered": self.registered,
            "models": [{"candidate": asdict(r.candidate), "seeds": list(r.seeds),
                        "per_seed": {k: list(v) for k, v in r.per_seed.items()},
                        "mean": dict(r.mean), "sd": dict(r.sd)} for r in self.rows],
        }  # fmt: skip

    # ------------------------------------------------------------------ files
    def write(self, folder: str | Path) -> dict[str, str]:
        """Write the report's files into ``folder``; returns their paths by kind.

        ``retrain.md``, ``retrain.csv``, ``retrain_cells.csv``, ``retrain.json`` and the PNGs
        ``retrain_test_auc.png`` and ``retrain_search_vs_retrained.png``.
        """
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        files = {"markdown": out / "retrain.md", "csv": out / "retrain.csv",
                 "cells": out / "retrain_cells.csv", "json": out / "retrain.json"}  # fmt: skip
        files["markdown"].write_text(self.to_markdown())
        files["json"].write_text(json.dumps(self.to_dict(), indent=1, default=str))
        table = self.table()
        with files["csv"].open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(table[0]) if table else ["model"])
            writer.writeheader()
            writer.writerows(table)
        with files["cells"].open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["model", "seed", *_METRICS, *_COSTS])
            for r in self.rows:
                for i, seed in enumerate(r.seeds):
                    writer.writerow([r.name, seed,
                                     *(r.per_seed[k][i] for k in (*_METRICS, *_COSTS))])
        files.update(self._plots(out))
        return {k: str(v) for k, v in files.items()}

    def _plots(self, out: Path) -> dict[str, Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        paths = {}
        colors = {"found": "tab:blue", "base": "tab:gray", "baseline": "tab:orange"}
        fig, ax = plt.subplots(figsize=(max(5.0, 0.7 * len(self.rows) + 2), 3.6))
        names = [r.name for r in self.rows]
        ax.bar(names, [r.mean["test_auc"] for r in self.rows],
               yerr=[r.sd["test_auc"] for r in self.rows], capsize=3,
               color=[colors[r.candidate.kind] for r in self.rows])  # fmt: skip
        finite = [r.mean["test_auc"] for r in self.rows if math.isfinite(r.mean["test_auc"])]
        if finite:
            ax.set_ylim(min(finite) - 0.01, max(finite) + 0.01)
        ax.set_ylabel("test AUC (mean ± sd over seeds)")
        ax.set_title(f"retrain of {self.study}")
        ax.tick_params(axis="x", rotation=30)
        fig.tight_layout()
        paths["png_test_auc"] = out / "retrain_test_auc.png"
        fig.savefig(paths["png_test_auc"], dpi=110)
        plt.close(fig)
        found = [r for r in self.rows if r.candidate.search_score is not None]
        fig, ax = plt.subplots(figsize=(4.6, 3.6))
        key = f"valid_{self.metric}"
        ax.errorbar([r.candidate.search_score for r in found], [r.mean[key] for r in found],
                    yerr=[r.sd[key] for r in found], fmt="o")  # fmt: skip
        for r in found:
            ax.annotate(r.name, (r.candidate.search_score, r.mean[key]), fontsize=7)
        ax.set_xlabel(f"search-budget valid {self.metric}")
        ax.set_ylabel(f"retrained valid {self.metric}")
        ax.set_title(f"Spearman {self.spearman:+.2f}" if found else "no found configuration")
        fig.tight_layout()
        paths["png_search_vs_retrained"] = out / "retrain_search_vs_retrained.png"
        fig.savefig(paths["png_search_vs_retrained"], dpi=110)
        plt.close(fig)
        return paths


def _int(v: float) -> str:
    return "-" if not math.isfinite(v) else f"{int(round(v)):,}"


def _num(v: float) -> str:
    return "-" if not math.isfinite(v) else f"{v:.1f}"


def _best(rows: Sequence[ModelRow], metric: str) -> ModelRow | None:
    key = f"valid_{metric}"
    scored = [r for r in rows if math.isfinite(r.mean[key])]
    if not scored:
        return None
    pick = max if metric == "auc" else min
    return pick(scored, key=lambda r: r.mean[key])


def build_report(
    candidates: Sequence[Candidate],
    outcomes: Sequence[CellOutcome],
    *,
    study: str,
    metric: Literal["auc", "logloss"] = "auc",
    base_params: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
) -> RetrainReport:
    """Aggregate the cells into the report (rules in the module docstring).

    Args:
        candidates: Every model retrained, in the order the table shows them.
        outcomes: One per finished (model, seed) cell.
        study: The search study's name.
        metric: The search metric, which picks the winner and the best baseline on valid.
        base_params: The base configuration's params, for the winner's diff.
        notes: Lines to show (e.g. fewer complete trials than ``top_k``).

    Example:
        >>> c = [Candidate("found-1", "found", {}, "r", {}, 0.7),
        ...      Candidate("fm", "baseline", {}, "r")]
        >>> o = [CellOutcome(n, s, {"valid_auc": v, "test_auc": v}) for n, v in
        ...      (("found-1", 0.8), ("fm", 0.7)) for s in (0, 1)]
        >>> build_report(c, o, study="s").gain
        0.10000000000000009
    """
    by_model: dict[str, list[CellOutcome]] = {}
    for o in outcomes:
        by_model.setdefault(o.model, []).append(o)
    rows = tuple(_row(c, by_model.get(c.name, [])) for c in candidates)
    found = [r for r in rows if r.candidate.kind in ("found", "base")]
    baselines = [r for r in rows if r.candidate.kind == "baseline"]
    win, bb = _best(found, metric), _best(baselines, metric)
    gain = gain_ll = t = p = math.nan
    per_seed: tuple[float, ...] = ()
    if win is not None and bb is not None:
        common = sorted(set(win.seeds) & set(bb.seeds))
        a = [win.per_seed["test_auc"][win.seeds.index(s)] for s in common]
        b = [bb.per_seed["test_auc"][bb.seeds.index(s)] for s in common]
        per_seed = tuple(x - y for x, y in zip(a, b, strict=True))
        gain = win.mean["test_auc"] - bb.mean["test_auc"]
        gain_ll = win.mean["test_logloss"] - bb.mean["test_logloss"]
        t, p = _paired(a, b)
    ranked = [r for r in rows if r.candidate.search_score is not None
              and math.isfinite(r.mean[f"valid_{metric}"])]  # fmt: skip
    rho = _spearman([r.candidate.search_score for r in ranked],  # type: ignore[misc]
                    [r.mean[f"valid_{metric}"] for r in ranked])  # fmt: skip
    diff = describe_diff(win.candidate.params, base_params) if win is not None else []
    return RetrainReport(
        study=study, metric=metric, rows=rows, winner=None if win is None else win.name,
        best_baseline=None if bb is None else bb.name, gain=gain, gain_logloss=gain_ll,
        per_seed_gain=per_seed, t_stat=t, p_value=p, spearman=rho, diff=tuple(diff),
        notes=tuple(notes),
    )  # fmt: skip
