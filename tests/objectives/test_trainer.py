from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from recsearch.data.schema import Dataset
from recsearch.data.schema import Split
from recsearch.errors import InvalidParameterError
from recsearch.errors import MemoryCapError
from recsearch.errors import NonFiniteLossError
from recsearch.objectives import Budget
from recsearch.objectives import Recipe
from recsearch.objectives import auc
from recsearch.objectives import build_model
from recsearch.objectives import evaluation as evaluation_module
from recsearch.objectives import logloss
from recsearch.objectives import train
from recsearch.objectives import trainer as trainer_module
from recsearch.objectives.trainer import make_optimizer
from recsearch.objectives.trainer import mixture_loss
from recsearch.spec import BASELINES
from recsearch.spec import LossSpec
from recsearch.spec import TrainingSpec
from recsearch.spec import baseline

FAST = TrainingSpec(batch_size=64, lr=0.01)
NO_MIN = Recipe(min_steps=0)
"""The recipe without its minimum steps: budgets train exactly what they name."""


@pytest.mark.parametrize("name", list(BASELINES))
def test_every_baseline_learns_planted_signal_in_one_epoch(
    make_dataset, make_sequence_dataset, name
) -> None:
    ds = make_sequence_dataset(3000) if name == "din" else make_dataset(3000)
    budget = Budget(epochs=1.0, recipe=NO_MIN)
    result = train(baseline(name, ds.schema, training=FAST), ds, budget, device="cpu",
                   evaluate_test=True)
    assert result.valid_auc > 0.6, result
    assert result.test_auc > 0.6, result
    assert result.epochs_run == 1.0
    assert math.isfinite(result.cost.latency_ms_per_1000) and result.cost.latency_ms_per_1000 > 0


def test_two_seeded_runs_are_identical(make_dataset) -> None:
    ds = make_dataset(1500)
    spec = baseline("deepfm", ds.schema, training=FAST)
    spec = spec.replace(head=spec.head.__class__(widths=(32, 16), dropout=0.2))
    a = train(spec, ds, Budget(epochs=1.0, eval_every=0.5), device="cpu", seed=3)
    b = train(spec, ds, Budget(epochs=1.0, eval_every=0.5), device="cpu", seed=3)
    c = train(spec, ds, Budget(epochs=1.0, eval_every=0.5), device="cpu", seed=4)
    assert a.metrics() == b.metrics()
    assert [(r.valid_auc, r.train_loss) for r in a.history] == [
        (r.valid_auc, r.train_loss) for r in b.history
    ]
    assert a.metrics() != c.metrics()


def test_report_sees_every_fraction_and_may_stop_training(make_dataset) -> None:
    ds = make_dataset(1000)
    seen: list[tuple[float, float, float]] = []
    result = train(
        baseline("fm", ds.schema, training=FAST),
        ds,
        Budget(epochs=1.0, eval_every=0.25, recipe=NO_MIN),
        device="cpu",
        report=lambda step, a, loss: seen.append((step, a, loss)),
    )
    assert [s for s, _, _ in seen] == [0.25, 0.5, 0.75, 1.0]
    assert [(r.step, r.valid_auc, r.valid_logloss) for r in result.history] == seen

    class Pruned(Exception):
        pass

    def prune(step: float, a: float, loss: float) -> None:
        if step >= 0.5:
            raise Pruned

    with pytest.raises(Pruned):
        train(baseline("fm", ds.schema, training=FAST), ds, Budget(eval_every=0.25), report=prune)


def test_budget_in_rows_and_fractional_epochs(make_dataset) -> None:
    ds = make_dataset(1000)  # 800 training rows
    spec = baseline("lr", ds.schema, training=FAST)
    assert train(spec, ds, Budget(rows=200, recipe=NO_MIN), device="cpu").epochs_run == 0.25
    r = train(spec, ds, Budget(epochs=1.5, recipe=NO_MIN), device="cpu")
    assert r.epochs_run == 1.5 and [h.step for h in r.history] == [1.0, 1.5]
    with pytest.raises(InvalidParameterError, match="budget"):
        train(spec, ds, "lots")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="eval_every"):
        Budget(eval_every=0)


def test_early_stopping_and_best_weights(make_dataset, monkeypatch) -> None:
    ds = make_dataset(1000)
    losses = iter([0.5, 0.4, 0.45, 0.46, 0.47])
    real = evaluation_module.evaluate
    weights = []

    def fake(model, data, rows, dtype=None):
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]).clone())
        a, _ = real(model, data, rows, dtype)
        return a, next(losses)

    monkeypatch.setattr(evaluation_module, "evaluate", fake)
    spec = baseline("fm", ds.schema, training=TrainingSpec(batch_size=64, lr=0.01, patience=2))
    result = train(spec, ds, Budget(epochs=3.0, eval_every=0.5, recipe=NO_MIN), device="cpu",
                   monitor="logloss", evaluate_test=True)
    # losses 0.5, 0.4 (best), 0.45, 0.46 -> two bad evaluations -> stop after 2 epochs
    assert [h.valid_logloss for h in result.history] == [0.5, 0.4, 0.45, 0.46]
    assert result.epochs_run == 2.0
    assert result.best_step == 1.0
    assert result.valid_logloss == 0.4
    # the test split is scored with the weights of the best evaluation, not the last ones
    assert len(weights) == 5
    assert torch.equal(weights[4], weights[1])
    assert not torch.equal(weights[4], weights[3])


def test_nan_loss_raises_the_typed_error(make_dataset) -> None:
    ds = make_dataset(600)
    numeric = ds.train.numeric.copy()
    numeric[5:, 0] = np.nan
    bad_train = Split(ds.train.categorical, numeric, ds.train.multi_hot, ds.train.label)
    bad = Dataset("bad", ds.schema, bad_train, ds.valid, ds.test)
    with pytest.raises(NonFiniteLossError, match="deepfm"):
        train(baseline("deepfm", ds.schema, training=FAST), bad, 1.0, device="cpu")
    assert issubclass(NonFiniteLossError, ArithmeticError)


def test_memory_cap_refuses_before_allocating(make_dataset, monkeypatch) -> None:
    ds = make_dataset(300)

    def no_build(*args, **kwargs):
        raise AssertionError("the model was built before the memory check")

    monkeypatch.setattr(trainer_module, "build_model", no_build)
    with pytest.raises(MemoryCapError, match=r"c0: 12 x \[16\]"):
        train(baseline("deepfm", ds.schema), ds, 1.0, memory_cap=10_000)
    assert issubclass(MemoryCapError, MemoryError)


def test_default_memory_cap_refuses_a_huge_vocabulary(make_dataset) -> None:
    from recsearch.data.schema import Field
    from recsearch.data.schema import Schema

    ds = make_dataset(300)
    fields = list(ds.schema.fields)
    fields[0] = Field("c0", "categorical", 10**12)
    huge = Dataset("huge", Schema("label", tuple(fields)), ds.train, ds.valid, ds.test)
    with pytest.raises(MemoryCapError, match="c0"):
        train(baseline("fm"), huge, 1.0, device="cpu")


def test_loss_mixture_matches_its_formulas() -> None:
    logit = torch.tensor([-2.0, -0.5, 0.3, 1.7])
    y = torch.tensor([0.0, 1.0, 0.0, 1.0])
    p = torch.sigmoid(logit)
    bce = -(y * p.log() + (1 - y) * (1 - p).log())
    pt = torch.where(y == 1, p, 1 - p)
    focal = ((1 - pt) ** 2 * bce).mean()
    hinge = torch.relu(1 - (2 * y - 1) * logit).mean()
    mse = ((p - y) ** 2).mean()
    spec = LossSpec(bce=0.5, focal=1.0, hinge=0.25, mse=2.0, focal_gamma=2.0)
    expected = 0.5 * bce.mean() + focal + 0.25 * hinge + 2.0 * mse
    assert torch.allclose(mixture_loss(logit, y, spec), expected, atol=1e-6)
    assert torch.allclose(mixture_loss(logit, y, LossSpec()), bce.mean(), atol=1e-6)


@pytest.mark.parametrize("loss", [LossSpec(bce=0, focal=1), LossSpec(bce=0, hinge=1),
                                  LossSpec(bce=0, mse=1)])
@pytest.mark.parametrize("optimizer", ["adam", "adagrad", "sgd"])
def test_losses_and_optimizers_train(make_dataset, loss, optimizer) -> None:
    ds = make_dataset(1500)
    lr = {"adam": 0.01, "adagrad": 0.1, "sgd": 0.1}[optimizer]
    spec = baseline("fm", ds.schema, loss=loss,
                    training=TrainingSpec(optimizer=optimizer, lr=lr, batch_size=32))
    result = train(spec, ds, Budget(epochs=2.0, recipe=NO_MIN), device="cpu", measure=False)
    assert result.valid_auc > 0.6


def test_weight_decay_groups(make_dataset) -> None:
    ds = make_dataset(200)
    spec = baseline("deepfm", ds.schema)
    model = build_model(spec, ds.schema)
    opt = make_optimizer(
        model,
        TrainingSpec(embedding_weight_decay=1e-4, dense_weight_decay=1e-6),
        torch.device("cpu"),
    )
    emb, dense = opt.param_groups
    assert emb["weight_decay"] == 1e-4 and dense["weight_decay"] == 1e-6
    assert sum(p.numel() for p in emb["params"]) == spec_embedding_rows(model)
    assert len(emb["params"]) + len(dense["params"]) == len(list(model.parameters()))


def spec_embedding_rows(model) -> int:
    tables = sum(t.weight.numel() for t in model.embeddings.tables)
    return tables + model.linear.weight.weight.numel()


@pytest.mark.parametrize("clip", [1e-3, 0.0])
def test_gradient_clipping_bounds_the_update(make_dataset, monkeypatch, clip) -> None:
    ds = make_dataset(300)
    built = []

    def capture(spec, schema, **kwargs):
        model = build_model(spec, schema, **kwargs)
        built.append((model, [p.detach().clone() for p in model.parameters()]))
        return model

    monkeypatch.setattr(trainer_module, "build_model", capture)
    # one plain SGD step: the update is exactly lr times the (clipped) gradient
    training = TrainingSpec(optimizer="sgd", momentum=0.0, lr=1.0, batch_size=32, grad_clip=clip)
    train(baseline("deepfm", ds.schema, training=training), ds, Budget(steps=1), measure=False)
    model, before = built[0]
    pairs = zip(model.parameters(), before, strict=True)
    change = torch.cat([(p.detach() - b).flatten() for p, b in pairs])
    if clip:
        assert 0 < float(change.norm()) <= clip * 1.001
    else:
        assert float(change.norm()) > 1e-2


def test_auc_and_logloss_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(500), 2)  # many ties
    labels = (rng.random(500) < scores).astype(np.float32)
    assert auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert math.isnan(auc(scores, np.ones(500)))
    logits = torch.from_numpy(rng.standard_normal(500))
    p = torch.sigmoid(logits).numpy()
    expected = -np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))
    assert logloss(logits, torch.from_numpy(labels)) == pytest.approx(expected, rel=1e-9)


def test_static_cost_is_torch_free() -> None:
    code = (
        "import sys; from recsearch.objectives.cost import static_cost;"
        "from recsearch.spec import baseline; from recsearch.data.schema import Field, Schema;"
        "s = Schema('y', (Field('a', 'categorical', 10), Field('b', 'categorical', 5)));"
        "print(static_cost(baseline('fm'), s).params, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str((1 + 15) * 16 + 15 + 1), "False"], out.stderr


def test_device_auto_is_cpu_without_cuda() -> None:
    from recsearch.objectives import resolve_device

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(InvalidParameterError, match="CUDA"):
            resolve_device("cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_trains_on_cuda(make_dataset) -> None:
    ds = make_dataset(3000)
    result = train(baseline("deepfm", ds.schema, training=FAST), ds, 1.0, device="cuda")
    assert result.device.startswith("cuda")
    assert result.valid_auc > 0.6
