"""The budgeted trainer: a spec and a data set in, validation metrics (and test, on request) out.

:func:`train` is the loop; its pieces live beside it:

- :mod:`recsearch.objectives.recipe`: :class:`Budget` and the :class:`Recipe` that turn a budget
  into a plan (batch size, learning rate, rows, evaluation points, minimum steps);
- :mod:`recsearch.objectives.batching`: the splits on the device (once) and the stream of
  training batches (one permutation an epoch, batches sliced from it: no per-batch host copy);
- :mod:`recsearch.objectives.evaluation`: validation metrics, the best state by the monitored
  (search) metric and early stopping.

The ``report`` callback sees each evaluation and may raise (``optuna.TrialPruned``) to stop
training. The test split is never read unless ``evaluate_test=True`` (the retrain stage): a
search must not see it.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Literal

import torch
import torch.nn.functional as F

from recsearch.errors import InvalidParameterError
from recsearch.errors import MemoryCapError
from recsearch.errors import NonFiniteLossError
from recsearch.objectives import evaluation as _evaluation
from recsearch.objectives._plan import model_plan
from recsearch.objectives.batching import stream
from recsearch.objectives.batching import take
from recsearch.objectives.batching import to_device
from recsearch.objectives.cost import Cost
from recsearch.objectives.cost import measure_latency
from recsearch.objectives.cost import nonzero_embedding_params
from recsearch.objectives.cost import parameter_count
from recsearch.objectives.cost import training_bytes
from recsearch.objectives.evaluation import Monitor
from recsearch.objectives.evaluation import Monitored
from recsearch.objectives.evaluation import StepRecord
from recsearch.objectives.model import CTRModel
from recsearch.objectives.model import build_model
from recsearch.objectives.recipe import Budget
from recsearch.objectives.recipe import Plan
from recsearch.objectives.recipe import Recipe
from recsearch.objectives.recipe import default_lr
from recsearch.objectives.recipe import plan as make_plan

if TYPE_CHECKING:
    from recsearch.data.schema import Dataset
    from recsearch.data.schema import Split
    from recsearch.objectives.batching import Tensors
    from recsearch.objectives.embeddings import Batch
    from recsearch.spec import LossSpec
    from recsearch.spec import ModelSpec
    from recsearch.spec import TrainingSpec

__all__ = [
    "Budget",
    "Recipe",
    "StepRecord",
    "TrainResult",
    "batch_of",
    "check_memory",
    "make_optimizer",
    "mixture_loss",
    "resolve_device",
    "train",
]

Report = Callable[[float, float, float], None]
"""``report(step, valid_auc, valid_logloss)``; ``step`` is the number of epochs trained so far."""

DEFAULT_MEMORY_FRACTION = 0.5
"""Default memory cap: this fraction of the memory available on the device."""
LATENCY_ROWS = 1000


@dataclass(frozen=True)
class TrainResult:
    """What one training run produced.

    Attributes:
        valid_auc: Validation AUC at the best evaluation (by the monitored metric).
        valid_logloss: Validation logloss at the best evaluation.
        test_auc: Test AUC with the best weights; NaN unless ``evaluate_test``.
        test_logloss: Test logloss with the best weights; NaN unless ``evaluate_test``.
        history: Every evaluation in order.
        epochs_run: Epochs actually trained (fractional; early stopping shortens it and the
            recipe's minimum steps may lengthen it).
        cost: Size and latency of the model (latency NaN when not measured).
        best_step: ``step`` of the best evaluation.
        train_seconds: Wall time of the training steps (evaluations excluded).
        samples_per_second: Training rows per second of ``train_seconds``.
        device: Device the model ran on.
        plan: The resolved recipe (batch size, learning rate, rows).
        build_seconds: Wall time to build the model and its optimizer and move the splits.
        first_step_seconds: Wall time of the first optimizer step (warm-up of the kernels).
        tested: Whether the test split was evaluated.
        model: The trained model with the best weights (only when ``keep_model``).

    Example:
        >>> result = train(baseline("fm"), dataset, 1.0)  # doctest: +SKIP
        >>> result.valid_auc > 0.5  # doctest: +SKIP
        True
    """

    valid_auc: float
    valid_logloss: float
    test_auc: float
    test_logloss: float
    history: tuple[StepRecord, ...]
    epochs_run: float
    cost: Cost
    best_step: float
    train_seconds: float
    samples_per_second: float
    device: str
    plan: Plan | None = None
    build_seconds: float = math.nan
    first_step_seconds: float = math.nan
    tested: bool = False
    model: CTRModel | None = field(default=None, repr=False, compare=False)

    def metrics(self) -> dict[str, float]:
        """The final metrics under the user-attribute names of :mod:`recsearch.hooks`.

        The test ones only when the test split was evaluated.
        """
        out = {"valid_auc": self.valid_auc, "valid_logloss": self.valid_logloss}
        if self.tested:
            out.update(test_auc=self.test_auc, test_logloss=self.test_logloss)
        return out


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` means CUDA when available, else the CPU.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidParameterError(f"device={str(device)!r} was asked for but CUDA is absent.")
    return dev


def available_memory(device: torch.device) -> int:
    """Bytes free on ``device`` (``MemAvailable`` of /proc/meminfo for the CPU)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover
        return 1 << 62


def check_memory(
    spec: ModelSpec, schema: Dataset | object, cap: int | None, device: torch.device
) -> int:
    """Refuse a spec whose embedding tables would need more than ``cap`` bytes to train.

    Args:
        spec: The spec.
        schema: The data schema.
        cap: Bytes allowed; ``None``: ``DEFAULT_MEMORY_FRACTION`` of the free memory.
        device: Where the model would live.

    Returns:
        The estimated bytes.

    Raises:
        MemoryCapError: Over the cap; the message names the largest fields.
    """
    need = training_bytes(spec, schema)  # type: ignore[arg-type]
    limit = int(DEFAULT_MEMORY_FRACTION * available_memory(device)) if cap is None else int(cap)
    if need > limit:
        plan = model_plan(spec, schema)  # type: ignore[arg-type]
        biggest = sorted(plan.embedding.fields, key=lambda f: -f.vocab * f.width)[:5]
        sizes = ", ".join(f"{f.name}: {f.vocab:,} x {list(f.dims)}" for f in biggest)
        raise MemoryCapError(
            f"Spec {spec.name!r} needs about {need / 2**20:,.1f} MiB for its embedding tables "
            f"(weights, gradients, {spec.training.optimizer} state) but the memory cap is "
            f"{limit / 2**20:,.1f} MiB. Largest fields (vocab x dims): {sizes}."
        )
    return need


def mixture_loss(logit: torch.Tensor, label: torch.Tensor, spec: LossSpec) -> torch.Tensor:
    """The weighted loss mixture of ``spec`` (BCE, focal, hinge, squared error on p).

    Example:
        >>> from recsearch.spec import LossSpec
        >>> float(mixture_loss(torch.zeros(2), torch.tensor([0.0, 1.0]), LossSpec())) > 0
        True
    """
    if spec.active == ("bce",):
        return spec.bce * F.binary_cross_entropy_with_logits(logit, label)
    total = logit.new_zeros(())
    bce = F.binary_cross_entropy_with_logits(logit, label, reduction="none")
    if spec.bce > 0:
        total = total + spec.bce * bce.mean()
    if spec.focal > 0:
        pt = torch.exp(-bce)
        total = total + spec.focal * ((1.0 - pt).pow(spec.focal_gamma) * bce).mean()
    if spec.hinge > 0:
        total = total + spec.hinge * torch.relu(1.0 - (2.0 * label - 1.0) * logit).mean()
    if spec.mse > 0:
        total = total + spec.mse * (torch.sigmoid(logit) - label).pow(2).mean()
    return total


def make_optimizer(
    model: CTRModel, training: TrainingSpec, device: torch.device, *, lr: float | None = None
) -> torch.optim.Optimizer:
    """The spec's optimizer with separate weight decay for embeddings and dense weights.

    ``lr`` replaces the spec's learning rate; when both are ``None`` the optimizer's base rate
    (:data:`recsearch.objectives.recipe.BASE_LR`) is used.
    """
    if lr is None:
        lr = training.lr if training.lr is not None else default_lr(training.optimizer, 1 << 62)
    emb = model.embedding_parameters()
    emb_ids = {id(p) for p in emb}
    dense = [p for p in model.parameters() if id(p) not in emb_ids]
    groups = [
        {"params": emb, "weight_decay": training.embedding_weight_decay},
        {"params": dense, "weight_decay": training.dense_weight_decay},
    ]
    groups = [g for g in groups if g["params"]]
    if training.optimizer == "adam":
        return torch.optim.Adam(groups, lr=lr, fused=True)
    if training.optimizer == "adagrad":
        return torch.optim.Adagrad(groups, lr=lr, fused=device.type == "cpu" or None)
    return torch.optim.SGD(groups, lr=lr, momentum=training.momentum, fused=True)


def _clip(params: list[torch.nn.Parameter], max_norm: float, sync: bool) -> None:
    """Clip the gradient norm to ``max_norm``.

    Where a host sync is free (CPU), the gradients are rescaled only when the norm exceeds the
    bound: rescaling by 1 would cost a pass over every embedding gradient each step.
    """
    if not sync:
        torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
        return
    grads = [p.grad for p in params if p.grad is not None]
    norm = torch.nn.utils.get_total_norm(grads, foreach=True)
    if float(norm) > max_norm:
        torch.nn.utils.clip_grads_with_norm_(params, max_norm, norm, foreach=True)


def _as_budget(budget: Budget | float | None) -> Budget:
    if budget is None:
        return Budget()
    if isinstance(budget, int | float) and not isinstance(budget, bool):
        return Budget(epochs=float(budget))
    if isinstance(budget, Budget):
        return budget
    raise InvalidParameterError(
        f"The 'budget' parameter of train must be a Budget, a number of epochs or None. "
        f"Got {budget!r} instead."
    )


def _precision(training: TrainingSpec, device: torch.device) -> torch.dtype | None:
    if training.mixed_precision == "off":
        return None
    if training.mixed_precision == "fp16" and device.type != "cuda":
        raise InvalidParameterError(
            "mixed_precision='fp16' needs a CUDA device (it trains with a gradient scaler); "
            "use 'bf16' on the CPU."
        )
    return torch.bfloat16 if training.mixed_precision == "bf16" else torch.float16


class _Steps:
    """The optimizer step of one trial: forward, loss, backward, clip, update, loss tally."""

    def __init__(
        self, model: CTRModel, spec: ModelSpec, lr: float, device: torch.device
    ) -> None:
        self.model = model
        self.spec = spec
        self.opt = make_optimizer(model, spec.training, device, lr=lr)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.clip = spec.training.grad_clip
        self.sync = device.type == "cpu"  # NOTE: a host sync is free on the CPU only
        self.dtype = _precision(spec.training, device)
        self.device = device
        use_scaler = self.dtype == torch.float16
        self.scaler = torch.amp.GradScaler(device.type) if use_scaler else None
        self.loss_sum = torch.zeros((), device=device)
        self.count = 0
        self.non_finite = torch.zeros((), dtype=torch.bool, device=device)

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def __call__(self, batch: Tensors, done: int, n: int) -> None:
        with self.autocast():
            logit = self.model(batch)["logit"]
        label = batch["label"]
        assert isinstance(label, torch.Tensor)
        loss = mixture_loss(logit.float(), label, self.spec.loss)
        self.opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.opt)
        else:
            loss.backward()
        if self.sync:
            value = float(loss.detach())
            if not math.isfinite(value):
                raise NonFiniteLossError(
                    f"Spec {self.spec.name!r}: the training loss became {value} after "
                    f"{done:,} rows ({done / n:.3f} epochs); the trial failed."
                )
        elif self.scaler is None:
            self.non_finite |= ~torch.isfinite(loss.detach())
        if self.clip > 0:
            _clip(self.params, self.clip, self.sync)
        if self.scaler is not None:
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            self.opt.step()
        self.loss_sum += loss.detach()
        self.count += 1

    def mean_loss(self, done: int, n: int) -> float:
        """The mean training loss since the last call; raises if a loss was not finite."""
        if not self.sync and bool(self.non_finite):
            raise NonFiniteLossError(
                f"Spec {self.spec.name!r}: the training loss became non-finite before "
                f"{done:,} rows ({done / n:.3f} epochs); the trial failed."
            )
        value = float(self.loss_sum) / max(self.count, 1)
        self.loss_sum.zero_()
        self.count = 0
        return value


def train(
    spec: ModelSpec,
    dataset: Dataset,
    budget: Budget | float | None = None,
    *,
    device: Literal["auto", "cpu", "cuda"] | str = "auto",
    seed: int = 0,
    report: Report | None = None,
    memory_cap: int | None = None,
    measure: bool = True,
    monitor: Monitored = "auc",
    evaluate_test: bool = False,
    keep_model: bool = False,
    pretrained: Mapping[str, torch.Tensor] | None = None,
    embedding_masks: Sequence[torch.Tensor] | None = None,
) -> TrainResult:
    """Train ``spec`` on ``dataset`` within ``budget`` and return its metrics and costs.

    Args:
        spec: The model spec.
        dataset: Train, valid and test splits.
        budget: A :class:`Budget`, a number of epochs, or ``None`` for ``spec.training.epochs``;
            its :class:`Recipe` sets the minimum steps (see :mod:`recsearch.objectives.recipe`).
        device: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``.
        seed: Seeds initialisation, dropout and shuffling; on the CPU a seed gives identical
            metrics run after run.
        report: Called as ``report(step, valid_auc, valid_logloss)`` after each evaluation;
            whatever it raises propagates (``optuna.TrialPruned`` stops training).
        memory_cap: Bytes the embedding tables may use while training; ``None``: half the free
            memory of the device.
        measure: Measure inference latency on 1,000 validation rows.
        monitor: The validation metric that picks the best evaluation and stops early (the
            search metric).
        evaluate_test: Score the test split with the best weights (the retrain stage only).
        keep_model: Return the trained model (best weights) in ``TrainResult.model`` (the
            retrain stage deploys it).
        pretrained: Start from this state of the same spec (AutoFT; ``spec.finetune`` says
            what stays frozen).
        embedding_masks: Train only these entries of the embedding tables (PEP's retrain with
            the found mask, :func:`recsearch.objectives.pep.retrain_with_mask`).

    Returns:
        The metrics at the best evaluation, the history, the cost and the resolved plan.

    Raises:
        NonFiniteLossError: The training loss (or the validation logits) became NaN or infinite.
        MemoryCapError: The embedding tables would not fit under the cap; nothing was allocated.
        InvalidParameterError: Bad budget or device, or a spec that does not fit the schema.

    Example:
        >>> budget = Budget(epochs=2, eval_every=0.5, recipe=Recipe(min_steps=0))
        >>> result = train(baseline("deepfm"), dataset, budget)  # doctest: +SKIP
        >>> [r.step for r in result.history]  # doctest: +SKIP
        [0.5, 1.0, 1.5, 2.0]
    """
    budget = _as_budget(budget)
    if monitor not in ("auc", "logloss"):
        raise InvalidParameterError(
            f"The 'monitor' parameter of train must be a str among ('auc', 'logloss'). "
            f"Got {monitor!r} instead."
        )
    dev = resolve_device(device)
    check_memory(spec, dataset.schema, memory_cap, dev)
    n = len(dataset.train)
    if n == 0:
        raise InvalidParameterError(f"Dataset {dataset.name!r} has no training rows.")
    plan = make_plan(budget, spec.training, n)
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = build_model(spec, dataset.schema, pretrained=pretrained,
                        embedding_masks=embedding_masks).to(dev)  # fmt: skip
    model.train()
    step_fn = _Steps(model, spec, plan.lr, dev)
    train_data = to_device(dataset.train, dev)
    valid_data = to_device(dataset.valid, dev)
    n_valid = len(dataset.valid)
    build_seconds = time.perf_counter() - start
    best = Monitor(monitor, spec.training.patience)
    history: list[StepRecord] = []
    batches = stream(
        train_data, n, batch_size=plan.batch_size, total=plan.total_rows,
        eval_rows=plan.eval_rows, generator=torch.Generator().manual_seed(seed),
        drop_single=spec.head.batch_norm,
    )
    train_seconds, first_step, done = 0.0, math.nan, 0
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        item = next(batches, None)
        if item is None:
            break
        if item.batch is not None:
            step_fn(item.batch, done, n)
        done = item.rows
        if math.isnan(first_step):
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            first_step = time.perf_counter() - t0
        train_seconds += time.perf_counter() - t0
        if not item.evaluate:
            continue
        train_loss = step_fn.mean_loss(done, n)
        v_auc, v_loss = _evaluation.evaluate(model, valid_data, n_valid, step_fn.dtype)
        if n_valid and not math.isfinite(v_loss):
            raise NonFiniteLossError(
                f"Spec {spec.name!r}: the validation logloss became {v_loss} after "
                f"{done / n:.3f} epochs; the trial failed."
            )
        step = done / n
        history.append(StepRecord(step, done, train_loss, v_auc, v_loss,
                                  time.perf_counter() - start))
        best.update(model, step, v_auc, v_loss)
        if report is not None:
            report(step, v_auc, v_loss)
        if best.stop:
            break

    best.restore(model)
    t_auc = t_loss = math.nan
    if evaluate_test:
        t_auc, t_loss = _evaluation.evaluate(
            model, to_device(dataset.test, dev), len(dataset.test), step_fn.dtype
        )
    latency = math.nan
    if measure and n_valid:
        latency = measure_latency(model, take(valid_data, slice(0, LATENCY_ROWS)))
    cost = Cost(
        parameter_count(model), model.plan.embedding_bytes, model.plan.flops, latency,
        nonzero_embedding_params(model),
    )
    return TrainResult(
        valid_auc=best.best_auc,
        valid_logloss=best.best_logloss,
        test_auc=t_auc,
        test_logloss=t_loss,
        history=tuple(history),
        epochs_run=done / n,
        cost=cost,
        best_step=best.best_step,
        train_seconds=train_seconds,
        samples_per_second=done / train_seconds if train_seconds > 0 else math.nan,
        device=str(dev),
        plan=plan,
        build_seconds=build_seconds,
        first_step_seconds=first_step,
        tested=evaluate_test,
        model=model.eval() if keep_model else None,
    )

def batch_of(split: Split, device: str | torch.device = "cpu") -> Batch:
    """A whole split as a model batch (for inspection and tests).

    Example:
        >>> model(batch_of(dataset.valid))["logit"].shape  # doctest: +SKIP
        torch.Size([1000])
    """
    data = to_device(split, torch.device(device))
    data.pop("label")
    return data
