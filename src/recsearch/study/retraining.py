"""The retrain stage: a search's top-k and the baselines, at the full budget, scored on test.

``retrain(study=NAME, ...)`` (exported as ``recsearch.retrain``; ``recsearch retrain`` on the
command line):

1. takes the search study's top-k **distinct** configurations (distinct decoded specs; only
   COMPLETE trials at the search's full fidelity, never a one-shot supernet trial; for a
   ``--cost`` study the Pareto front, best metric first), the preset's **base** (its default
   configuration) and the named **baselines** (their default training recipe);
2. records one cell per (model, seed) as an enqueued trial of a queue-only **retrain study** on
   the same storage (kind ``retrain``, params ``{"cell": i}``), so an interrupted retrain resumes
   with only the missing cells and ``recsearch worker`` processes elsewhere can share it; each
   cell is an MLflow child run under the retrain study's parent run;
3. trains each cell with :func:`recsearch.objectives.final.train_final` (up to
   ``budget_epochs``, early stopping on the search's validation metric, test scored with the best
   weights; a PEP model is then retrained with its found mask, PEP's lottery-ticket step);
4. builds the report (:mod:`recsearch.report.retrain_report`; the winner by retrained **valid**
   score), writes it (Markdown, CSV, JSON, PNG) and logs it to the parent run; with tracking on,
   logs the winner as a deployable model that scores raw rows, and registers it under
   ``register_as`` with the alias ``champion``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import optuna
from optuna.trial import TrialState

from recsearch._internals import storage_of
from recsearch.errors import DataError
from recsearch.errors import InvalidParameterError
from recsearch.hooks import USER_ATTR_EPOCHS
from recsearch.hooks import USER_ATTR_FAILURE
from recsearch.hooks import USER_ATTR_FIDELITY
from recsearch.hooks import USER_ATTR_SPEC
from recsearch.report.retrain_report import Candidate
from recsearch.report.retrain_report import CellOutcome
from recsearch.report.retrain_report import RetrainReport
from recsearch.report.retrain_report import build_report

if TYPE_CHECKING:
    from ConfigSpace import ConfigurationSpace
    from optuna.trial import FrozenTrial

    from recsearch.data.schema import Dataset
    from recsearch.study.settings import StudySettings

__all__ = ["CELL_PARAM", "RetrainObjective", "retrain", "select_candidates"]

CELL_PARAM = "cell"
"""The one parameter of a retrain trial: the index of its (model, seed) cell."""
SEARCH_TRIAL_ATTR = "recsearch:search_trial"
"""User attribute of a one-shot supernet trial (never ranked)."""
_DEFAULT_BASELINES = ("deepfm", "dcnv2")


class RetrainObjective:
    """Trains the (model, seed) cell a retrain trial names (the ``retrain`` kind's objective).

    Args:
        dataset: The search's data set.
        space: The search's space (unused: the cells carry their specs).
        metric: The search metric (early stopping, the trial's value).
        budget: The full epoch budget.
        seed: Unused (each cell has its seed).
        hooks: Trackers told of each trial.
        settings: The retrain study's settings; ``kind_options`` holds ``models``, ``cells``
            and ``patience``.
        device: The device to train on.
        pretrained: The source state of a fine-tuning search (``autoft``): cells whose spec
            fine-tunes start from it, the baselines train from scratch.

    Example:
        >>> objective = RetrainObjective(ds, space, settings=settings)  # doctest: +SKIP
    """

    def __init__(
        self,
        dataset: Dataset,
        space: ConfigurationSpace,
        *,
        metric: str = "auc",
        budget: float = 20.0,
        seed: int = 0,
        hooks: Sequence[Any] = (),
        settings: StudySettings | None = None,
        device: str = "auto",
        pretrained: Mapping[str, Any] | None = None,
    ) -> None:
        self.dataset = dataset
        self.space = space
        self.metric = metric
        self.budget = budget
        self.seed = seed
        self.hooks = hooks
        self.settings = settings
        self.device = device
        self.pretrained = pretrained

    def _hook(self, method: str, *args: Any) -> None:
        for hook in self.hooks:
            try:
                getattr(hook, method)(*args)
            except Exception:  # noqa: BLE001 - a tracking outage never fails a trial
                pass

    def __call__(self, trial: optuna.Trial) -> float:
        """Train the trial's cell; returns its retrained validation metric."""
        from recsearch.objectives.final import train_final
        from recsearch.spec import ModelSpec

        if self.settings is None:
            raise InvalidParameterError("RetrainObjective needs the retrain study's settings.")
        opts = self.settings.kind_options
        cells, models = opts["cells"], {m["name"]: m for m in opts["models"]}
        index = trial.suggest_int(CELL_PARAM, 0, len(cells) - 1)
        cell = cells[index]
        model = models[cell["model"]]
        trial.set_user_attr("retrain.model", cell["model"])
        trial.set_user_attr("retrain.seed", int(cell["seed"]))
        self._hook("trial_started", trial, {"model": cell["model"], "seed": int(cell["seed"])})
        try:
            final = train_final(
                ModelSpec.from_dict(model["spec"]), self.dataset, seed=int(cell["seed"]),
                budget_epochs=float(self.budget), metric=self.metric,  # type: ignore[arg-type]
                patience=int(opts.get("patience", 3)), device=self.device,
                pretrained=self.pretrained, mask_retrain=True,
            )  # fmt: skip
        except Exception as exc:
            trial.set_user_attr(USER_ATTR_FAILURE, f"{type(exc).__name__}: {exc}")
            self._hook("trial_ended", trial, {}, f"{type(exc).__name__}: {exc}")
            raise
        metrics = final.metrics()
        for name, value in metrics.items():
            trial.set_user_attr(name, float(value))
        trial.set_user_attr(USER_ATTR_EPOCHS, float(metrics["epochs"]))
        trial.set_user_attr("retrain.recipe", final.recipe)
        self._hook("trial_ended", trial, dict(metrics), None)
        value = float(metrics[f"valid_{self.metric}"])
        if not math.isfinite(value):
            raise ValueError(f"the retrained valid {self.metric} is {value}")
        return value


# ---------------------------------------------------------------------------------------------
# Choosing what to retrain


def _spec_of(trial: FrozenTrial, space: ConfigurationSpace, dataset: Dataset) -> dict[str, Any]:
    raw = trial.user_attrs.get(USER_ATTR_SPEC)
    if isinstance(raw, str):
        return dict(json.loads(raw))
    from recsearch.spaces import configuration_from_trial
    from recsearch.spaces import decode

    return decode(configuration_from_trial(trial, space), dataset.schema).to_dict()


def _key(spec: Mapping[str, Any]) -> str:
    return json.dumps({k: v for k, v in spec.items() if k != "name"}, sort_keys=True)


def _full_fidelity(trial: FrozenTrial) -> bool:
    fidelity = trial.user_attrs.get(USER_ATTR_FIDELITY)
    return (fidelity is None or float(fidelity) >= 1.0) and not trial.user_attrs.get(
        SEARCH_TRIAL_ATTR
    )


def select_candidates(
    study: optuna.Study,
    *,
    space: ConfigurationSpace,
    dataset: Dataset,
    top_k: int,
    baselines: Sequence[str],
    recipe: str,
    base: bool = True,
) -> tuple[list[Candidate], list[str], dict[str, Any] | None]:
    """The found configurations, the base and the baselines to retrain, and notes.

    Returns:
        ``(candidates, notes, base_params)``.

    Raises:
        InvalidParameterError: No complete full-fidelity trial, a bad ``top_k`` or an unknown
            baseline name (the names are listed).
    """
    from recsearch.spaces import decode
    from recsearch.spaces.presets import base_params as preset_base
    from recsearch.spec import baseline

    if top_k < 1:
        raise InvalidParameterError(f"The 'top_k' parameter must be >= 1. Got {top_k!r}.")
    specs = {name: baseline(name).to_dict() for name in baselines}  # unknown: lists the names
    multi = len(study.directions) > 1
    pool = study.best_trials if multi else study.get_trials(deepcopy=False)
    complete = [t for t in pool if t.state == TrialState.COMPLETE and _full_fidelity(t)]
    if not complete:
        raise InvalidParameterError(
            f"study {study.study_name!r} has no COMPLETE trial at its full fidelity to retrain; "
            "run the search first"
        )
    sign = -1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    complete.sort(key=lambda t: (sign * t.values[0], t.number))
    found: list[tuple[FrozenTrial, dict[str, Any]]] = []
    seen: set[str] = set()
    for t in complete:
        spec = _spec_of(t, space, dataset)
        if _key(spec) not in seen:
            seen.add(_key(spec))
            found.append((t, spec))
    notes = []
    if multi:
        notes.append(f"a --cost study: the retrained set is the Pareto front's top-{top_k} "
                     f"({len(found)} distinct on the front), best metric first")  # fmt: skip
    if top_k > len(found):
        notes.append(f"--top-k {top_k} is above the {len(found)} distinct complete trial(s): "
                     "all of them are retrained")  # fmt: skip
    cands = [
        Candidate(f"found-{i + 1}", "found", spec, recipe, dict(t.params), float(t.values[0]),
                  t.number)
        for i, (t, spec) in enumerate(found[:top_k])
    ]  # fmt: skip
    from recsearch.oneshot.study import provenance

    for c, (t, _) in zip(cands, found, strict=False):
        where = provenance(study, t)
        if where:
            notes.append(f"{c.name} (search trial {t.number}) is {where}")
    base_params: dict[str, Any] | None = None
    if base:
        default = space.get_default_configuration()
        base_params = preset_base(space)
        base_spec = decode(default, dataset.schema).to_dict()
        same = [c.name for c in cands if _key(c.spec) == _key(base_spec)]
        if same:
            notes.append(f"the preset's base is {same[0]} (the search kept it in its top-k)")
        else:
            cands.append(Candidate("base", "base", base_spec, recipe, base_params))
    baseline_recipe = recipe + " (the baseline's default training)"
    cands += [Candidate(n, "baseline", s, baseline_recipe) for n, s in specs.items()]
    blind = [c.name for c in cands if not c.spec.get("behaviour")]
    if dataset.schema.sequence and blind:
        fields = ", ".join(f.name for f in dataset.schema.sequence)
        notes.append(f"no history: {', '.join(blind)} encode(s) no sequence field ({fields}); "
                     "the others read the history")  # fmt: skip
    return cands, notes, base_params


# ---------------------------------------------------------------------------------------------
# The stage


def _outcomes(study: optuna.Study, cells: Sequence[Mapping[str, Any]]) -> list[CellOutcome]:
    out = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        index = t.params.get(CELL_PARAM)
        if index is None or not 0 <= int(index) < len(cells):
            continue
        cell = cells[int(index)]
        metrics = {k: float(v) for k, v in t.user_attrs.items()
                   if isinstance(v, int | float) and not isinstance(v, bool)}  # fmt: skip
        out.append(CellOutcome(cell["model"], int(cell["seed"]), metrics))
    return out


def retrain(
    *,
    study: str,
    storage: str | None = None,
    top_k: int = 5,
    seeds: int = 3,
    budget_epochs: float = 20.0,
    baselines: Sequence[str] = _DEFAULT_BASELINES,
    register_as: str | None = None,
    tracking_uri: str | None = "study",
    out: str | Path = "reports",
    patience: int = 3,
    base: bool = True,
    device: str | None = None,
    retrain_study: str | None = None,
    dataset_options: Mapping[str, Any] | None = None,
    progress: Callable[[optuna.Study, Any], None] | None = None,
    pretrained: Any = None,
) -> RetrainReport:
    """Retrain a search's top-k with seeds beside the baselines and report (module docstring).

    Args:
        study: The search study.
        storage: Its storage URL (``None``: the local journal file).
        top_k: Distinct configurations to retrain (fewer when the study has fewer; said so).
        seeds: Seeds per model (the same for every model: a paired comparison).
        budget_epochs: The full budget of the recipe.
        baselines: Names of :data:`recsearch.spec.BASELINES`.
        register_as: Register the winner in the MLflow Model Registry under this name (needs
            tracking).
        tracking_uri: ``"study"`` uses the search's MLflow URI, ``None`` turns tracking off.
        out: Folder the report files go to (``<out>/<retrain study>/``).
        patience: Evaluations (one per epoch) without improvement before a cell stops.
        base: Retrain the preset's base as well.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` (``None``: the objective's default).
        retrain_study: Name of the retrain study (default ``retrain-<study>-<hash of the
            models, seeds and budget>``: the same retrain resumes, another gets its own study).
        dataset_options: Loader options overriding the recorded ones (a data file elsewhere).
        progress: Called after each cell this process trains.
        pretrained: The source model of a fine-tuning search (path, MLflow model URI or
            :class:`~recsearch.study.pretrained.Pretrained`); it must be the search's.

    Returns:
        The :class:`~recsearch.report.retrain_report.RetrainReport` (also written to ``out``).

    Raises:
        InvalidParameterError: No complete trial, an unknown baseline, bad counts, or
            ``register_as`` with tracking off.
        StudyMismatchError: The data set's schema differs from the study's (the difference is
            named), or the retrain study exists with other cells.
        KeyboardInterrupt: Interrupted; rerunning trains only the missing cells.

    Example:
        >>> report = recsearch.retrain(study="demo", storage="sqlite:///demo.db")  # doctest: +SKIP
        >>> print(report.to_markdown())  # doctest: +SKIP
    """
    from recsearch.objectives.final import recipe_words
    from recsearch.study.components import Overrides
    from recsearch.study.components import resolve
    from recsearch.study.pretrained import load
    from recsearch.study.settings import schema_fingerprint
    from recsearch.study.studies import check_schema
    from recsearch.study.studies import create_study
    from recsearch.study.studies import enqueue_missing
    from recsearch.study.studies import load_study
    from recsearch.study.worker import Interrupted
    from recsearch.study.worker import run_worker

    if seeds < 1 or not budget_epochs > 0:
        raise InvalidParameterError(
            f"retrain needs seeds >= 1 and budget_epochs > 0. Got seeds={seeds!r}, "
            f"budget_epochs={budget_epochs!r}."
        )
    source, recorded = load_study(study_name=study, storage=storage)
    uri = recorded.tracking_uri if tracking_uri == "study" else tracking_uri
    if uri is not None and uri.lower() == "none":
        uri = None
    if register_as and uri is None:
        raise InvalidParameterError(
            "--register-as needs MLflow tracking, and tracking is off for this retrain "
            "(the study has no tracking URI, or --tracking-uri none); give --tracking-uri"
        )
    settings = recorded
    if dataset_options:
        settings = dataclasses.replace(
            recorded, dataset_options={**recorded.dataset_options, **dataset_options}
        )
    model_source = None if pretrained is None else load(pretrained)
    comps = resolve(settings, track=False, overrides=Overrides(pretrained=model_source))
    schema = comps.dataset.schema
    check_schema(study, recorded, schema_fingerprint(schema), schema)
    recipe = recipe_words(budget_epochs, recorded.metric, patience)
    cands, notes, base_params = select_candidates(
        source, space=comps.space, dataset=comps.dataset, top_k=top_k,
        baselines=[b for b in baselines if b], recipe=recipe, base=base,
    )  # fmt: skip
    seed_list = [recorded.seed + s for s in range(int(seeds))]
    cells = [{"model": c.name, "seed": s} for c in cands for s in seed_list]
    models = [{"name": c.name, "kind": c.kind, "spec": dict(c.spec)} for c in cands]
    options = {"source_study": study, "models": models, "cells": cells,
               "patience": int(patience)}  # fmt: skip
    # NOTE: the same retrain (same models, seeds, budget) resumes; another one gets its own study.
    digest = hashlib.sha256(
        json.dumps([options, float(budget_epochs)], sort_keys=True, default=str).encode()
    ).hexdigest()[:8]
    name = retrain_study or f"retrain-{study}-{digest}"
    rstudy, _ = create_study(
        study_name=name, storage=storage, dataset=settings.dataset,
        dataset_options=dict(settings.dataset_options), space=settings.space,
        strategy="random", n_trials=len(cells), budget_epochs=float(budget_epochs),
        seed=recorded.seed, metric=recorded.metric, kind="retrain",
        kind_options=options,
        tracking_uri=uri, experiment=recorded.experiment, pretrained=model_source,
    )  # fmt: skip
    enqueue_missing(rstudy, [{CELL_PARAM: i} for i in range(len(cells))])
    result = run_worker(
        study_name=name, storage=storage, tracking_uri=uri or "none", device=device,
        dataset_options=dataset_options, on_trial=progress, pretrained=model_source,
    )  # fmt: skip
    if result.interrupted is not None:
        raise Interrupted(result.interrupted)
    rstudy = optuna.load_study(study_name=name, storage=storage_of(rstudy))
    outcomes = _outcomes(rstudy, cells)
    missing = len(cells) - len(outcomes)
    if missing:
        notes.append(f"{missing} of {len(cells)} cells did not complete (see `recsearch best "
                     f"--study {name}` for the failures); their models show fewer "
                     "seeds")  # fmt: skip
    report = build_report(cands, outcomes, study=study, metric=recorded.metric,
                          base_params=base_params, notes=notes)  # fmt: skip
    folder = Path(out) / name
    if uri is not None:
        try:
            report = _deploy(report, rstudy, uri, comps.dataset, cands, outcomes, register_as,
                             device, model_source)  # fmt: skip
        except DataError as exc:
            # NOTE: the table stands without a deployable model (e.g. `synthetic` keeps no
            # vocabularies); only a registration that was asked for is an error.
            report = dataclasses.replace(report, registered=f"no deployable model: {exc}")
            if register_as is not None:
                report.write(folder)
                raise
    files = report.write(folder)
    if uri is not None:
        _log_files(rstudy, folder, report)
    return dataclasses.replace(report, files=files)


def _parent_run(rstudy: optuna.Study) -> Any:
    import mlflow

    from recsearch.trackers._mlflow import PARENT_RUN_ATTR

    parent = rstudy.user_attrs.get(PARENT_RUN_ATTR)
    if parent:
        return mlflow.start_run(run_id=parent)
    return mlflow.start_run(run_name=rstudy.study_name)


def _deploy(
    report: RetrainReport,
    rstudy: optuna.Study,
    uri: str,
    dataset: Dataset,
    cands: Sequence[Candidate],
    outcomes: Sequence[CellOutcome],
    register_as: str | None,
    device: str | None,
    source: Any = None,
) -> RetrainReport:
    """Log the winner as a deployable model in the retrain parent run; register it if asked."""
    import mlflow

    from recsearch.objectives.deploy import log_model
    from recsearch.objectives.deploy import register
    from recsearch.objectives.final import train_final
    from recsearch.spec import ModelSpec

    if report.winner is None:
        return report
    cand = next(c for c in cands if c.name == report.winner)
    key = f"valid_{report.metric}"
    mine = [o for o in outcomes if o.model == cand.name]
    pick = max if report.metric == "auc" else min
    seed = pick(mine, key=lambda o: o.metrics.get(key, math.nan)).seed
    spec = ModelSpec.from_dict(dict(cand.spec))
    settings = _settings(rstudy)
    # NOTE: on the CPU a seed gives identical weights run after run, so the deployed model is
    # the winner's best cell trained once more (cells on other machines keep no weights).
    final = train_final(
        spec, dataset, seed=seed, budget_epochs=float(settings.budget_epochs), keep_model=True,
        metric=report.metric,  # type: ignore[arg-type]
        patience=int(settings.kind_options.get("patience", 3)), device=device or "auto",
        pretrained=None if source is None else source.state, mask_retrain=True,
    )  # fmt: skip
    assert final.result.model is not None
    mlflow.set_tracking_uri(uri)
    with _parent_run(rstudy):
        info = log_model(final.result.model, spec, dataset)
    registered = register(info.model_uri, register_as).describe() if register_as else None
    logged = f"deployable model of {cand.name} (seed {seed}): {info.model_uri}"
    return dataclasses.replace(report, registered="\n".join(filter(None, (logged, registered))))


def _log_files(rstudy: optuna.Study, folder: Path, report: RetrainReport) -> None:
    import mlflow

    with _parent_run(rstudy):
        mlflow.log_artifacts(str(folder), "retrain")
        mlflow.log_metrics({"retrain.gain_test_auc": _finite(report.gain),
                            "retrain.spearman": _finite(report.spearman)})  # fmt: skip


def _finite(v: float) -> float:
    return float(v) if math.isfinite(v) else 0.0


def _settings(rstudy: optuna.Study) -> StudySettings:
    from recsearch.study.studies import settings_of

    return settings_of(rstudy, rstudy.study_name)


# ---------------------------------------------------------------------------------------------
# Command line (``recsearch retrain`` and ``recsearch run --retrain-top-k``; cli.py calls these)


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def add_arguments(p: Any, *, prefix: str = "") -> None:
    """The retrain options; ``prefix="retrain-"`` gives ``run``'s ``--retrain-*`` flags."""
    top = "--retrain-top-k" if prefix else "--top-k"
    p.add_argument(top, dest="retrain_top_k", type=int, default=None if prefix else 5, metavar="K",
                   help="distinct configurations to retrain" + (" after the search" if prefix
                                                                else ""))  # fmt: skip
    p.add_argument(f"--{prefix}seeds", dest="retrain_seeds", type=int, default=3, metavar="N",
                   help="seeds per model")
    p.add_argument(f"--{prefix}budget-epochs", dest="retrain_budget_epochs", type=float,
                   default=20.0, metavar="EPOCHS",
                   help="full training budget (early stopping on valid)")
    p.add_argument(f"--{prefix}baselines", dest="retrain_baselines", metavar="NAMES",
                   default=",".join(_DEFAULT_BASELINES), help="comma-separated baseline names")
    p.add_argument("--register-as", default=None, metavar="NAME",
                   help="register the winner in the MLflow Model Registry (alias champion)")
    p.add_argument(f"--{prefix}out", dest="retrain_out", default="reports", metavar="DIR",
                   help="folder of the report files")
    p.add_argument(f"--{prefix}patience", dest="retrain_patience", type=int, default=3,
                   metavar="EPOCHS",
                   help="epochs without improvement on valid before stopping (default 3)")
    if not prefix:
        p.add_argument("--study", required=True, help="the search study")
        p.add_argument("--storage", default=None, help="its Optuna storage URL")
        p.add_argument("--retrain-study", default=None, help="name of the retrain study")
        p.add_argument("--tracking-uri", default="study",
                       help="MLflow URI (default: the search's; 'none' turns tracking off)")
        p.add_argument("--dataset-path", default=None,
                       help="data file on this machine (overrides the recorded path)")
        from recsearch.study.pretrained import add_pretrained_argument

        add_pretrained_argument(p)
        p.add_argument("--no-base", action="store_true", help="do not retrain the base")
        p.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N")


def run_from_args(args: Any, *, study: str | None = None, storage: str | None = None) -> int:
    """Run the retrain an argparse namespace describes, print the report; the exit status."""
    from recsearch.study.worker import Interrupted

    options = {"path": args.dataset_path} if getattr(args, "dataset_path", None) else None
    tracking = getattr(args, "tracking_uri", "study")
    if tracking not in ("study", None) and str(tracking).lower() == "none":
        tracking = None
    print(f"\nretrain: the top-{args.retrain_top_k} of study {study or args.study}, the base and "
          f"{args.retrain_baselines or 'no baseline'}; {args.retrain_seeds} seeds each, up to "
          f"{args.retrain_budget_epochs:g} epochs (early stopping on valid) ...", flush=True)
    try:
        report = retrain(
            study=study or args.study, storage=storage if study else args.storage,
            top_k=args.retrain_top_k, seeds=args.retrain_seeds,
            budget_epochs=args.retrain_budget_epochs,
            baselines=_names(args.retrain_baselines), register_as=args.register_as,
            tracking_uri=tracking if not study else "study", out=args.retrain_out,
            patience=args.retrain_patience, base=not getattr(args, "no_base", False),
            device=getattr(args, "device", None),
            retrain_study=getattr(args, "retrain_study", None), dataset_options=options,
            progress=_print_cell, pretrained=getattr(args, "pretrained", None),
        )  # fmt: skip
    except Interrupted as exc:
        print(f"recsearch: retrain interrupted ({exc}); run the same command again to train "
              "only the missing cells")  # fmt: skip
        return 130
    print_report(report)
    return 0


def _print_cell(study: optuna.Study, trial: FrozenTrial) -> None:
    a = trial.user_attrs
    if "retrain.model" not in a:
        return
    what = (f"valid AUC {a['valid_auc']:.4f}, test AUC {a['test_auc']:.4f}, "
            f"{a.get('epochs', 0):.0f} epochs" if "test_auc" in a
            else a.get(USER_ATTR_FAILURE, str(trial.state)))  # fmt: skip
    print(f"  retrained {a['retrain.model']} seed {a['retrain.seed']}: {what}", flush=True)


def print_report(report: RetrainReport) -> None:
    """The report, where its files are, and how to look at runs and load the model."""
    print(report.to_markdown())
    if report.files:
        print(f"report files: {Path(report.files['markdown']).parent}")
    registered = report.registered or ""
    uris = [w for w in registered.split() if w.startswith("models:/")]
    uri = uris[-1] if uris else None  # NOTE: the registered version when there is one
    if uri is not None:
        print(f"load it:\n  import mlflow, recsearch.data as rd\n"
              f"  mlflow.pyfunc.load_model({uri!r}).predict(raw_rows)  # a DataFrame of raw rows")
