"""Do the seed spaces find a model at least as good as their base? (issue 16 bars)

``fives`` and ``autopi`` on ``synthetic`` data with planted third-order interactions: the base
(DeepFM, decode's default base) and the space's default configuration are trained with the
same budget and seeds as a short TPE search; the search's best (by validation AUC) is
retrained with the same seeds and reported on the test split.

``--pep``: PEP's AUC against sparsity on MovieLens-100K: DeepFM with per-field thresholds at
each initial value, the share of embedding entries left non-zero after training beside the AUC.

``--sequence``: MovieLens-100K with each user's history (temporal split): DeepFM (no history),
the DIN-style baseline, and the ``ameir`` space's best after a short TPE search, retrained.

``--autoft``: MovieLens-100K split into domains by user gender (source: the most frequent,
index 1); DeepFM pre-trained on the source, then on the target: trained from scratch,
fine-tuned entirely, and the ``autoft`` space's best (what to freeze) after a short search.

``--numeric``: on data whose numeric fields have a nonlinear effect, DeepFM with every numeric
field as dense input against the same model with each AutoDis representation (same budget and
seeds).

Run (1 thread, a few minutes)::

    OMP_NUM_THREADS=1 python -m bench.bench_seed_spaces --space fives --trials 12
    OMP_NUM_THREADS=1 python -m bench.bench_seed_spaces --numeric
    OMP_NUM_THREADS=1 python -m bench.bench_seed_spaces --pep --epochs 3 --seeds 2
    OMP_NUM_THREADS=1 python -m bench.bench_seed_spaces --sequence --epochs 1 --trials 6 --seeds 1
    OMP_NUM_THREADS=1 python -m bench.bench_seed_spaces --autoft --epochs 1 --trials 8 --seeds 2
"""

from __future__ import annotations

import argparse
import json
import statistics

import optuna
import torch

from recsearch.data.synthetic import synthetic
from recsearch.objectives.objective import CTRObjective
from recsearch.objectives.trainer import Budget
from recsearch.objectives.trainer import train
from recsearch.spaces import configuration_from_trial
from recsearch.spaces import decode
from recsearch.spaces import preset
from recsearch.spaces import default_base
from recsearch.spaces.decode import DEEPFM_BASE
from recsearch.spec import TrainingSpec

TRAINING = TrainingSpec(batch_size=256, lr=3e-3, patience=0)
"""One training setup for every model (the presets here search structure, not training)."""


def _data(rows: int, seed: int):  # type: ignore[no-untyped-def]
    return synthetic(
        rows, n_categorical=6, n_numeric=0, n_pairs=1, n_triples=2, max_vocab=40,
        noise_fraction=0.0, interaction_scale=2.0, seed=seed,
    )


def _retrain(spec, data, budget, seeds):  # type: ignore[no-untyped-def]
    out = [train(spec, data, budget, device="cpu", seed=s, measure=False) for s in seeds]
    return {
        "valid_auc": round(statistics.mean(r.valid_auc for r in out), 4),
        "test_auc": round(statistics.mean(r.test_auc for r in out), 4),
        "test_auc_each": [round(r.test_auc, 4) for r in out],
        "params": out[0].cost.params,
    }


def _numeric_bench(args: argparse.Namespace) -> None:
    from recsearch.spec import EmbeddingSpec
    from recsearch.spec import NumericEmbedding

    data = synthetic(
        args.rows, n_categorical=4, n_numeric=3, max_vocab=40, noise_fraction=0.0,
        numeric_effect="nonlinear", seed=0,
    )
    oracle = data.info["oracle_auc"]["test"]
    weights = data.info["ground_truth"]["field_weights"]
    print(json.dumps({"data": {"rows": args.rows, "oracle_test_auc": oracle,
                               "field_weights": weights}}))
    budget = Budget(epochs=args.epochs, eval_every=0.5)
    base = DEEPFM_BASE.replace(training=TRAINING)
    names = [f.name for f in data.schema.numeric]
    reps = {
        "dense": (),
        "field": tuple(NumericEmbedding(n, "field") for n in names),
        "bucket_quantile_16": tuple(NumericEmbedding(n, "bucket", buckets=16) for n in names),
        "autodis_h16_t1": tuple(NumericEmbedding(n, "autodis", meta=16) for n in names),
    }
    for name, numeric in reps.items():
        spec = base.replace(embedding=EmbeddingSpec(default_dim=16, numeric=numeric))
        result = _retrain(spec, data, budget, list(range(args.seeds)))
        print(json.dumps({"numeric": name, **result}))


def _pep_bench(args: argparse.Namespace) -> None:
    from recsearch.data import movielens_100k
    from recsearch.spaces.more_builders import PEP_INITS
    from recsearch.spec import EmbeddingSpec
    from recsearch.spec import PruneSpec

    data = movielens_100k(download=False)
    budget = Budget(epochs=args.epochs, eval_every=0.5)
    base = DEEPFM_BASE.replace(training=TRAINING)
    for init in (None, *PEP_INITS, -3.0):
        prune = None if init is None else PruneSpec("field", init=init)
        spec = base.replace(embedding=EmbeddingSpec(default_dim=16, prune=prune))
        out = [train(spec, data, budget, device="cpu", seed=s, measure=False)
               for s in range(args.seeds)]
        total = sum(data.schema[f].vocab_size for f in data.schema.sparse_names) * 16
        nonzero = statistics.mean(r.cost.embedding_nonzero for r in out)
        print(json.dumps({
            "pep_init": init, "test_auc": round(statistics.mean(r.test_auc for r in out), 4),
            "valid_auc": round(statistics.mean(r.valid_auc for r in out), 4),
            "nonzero_share": round(nonzero / total, 4), "nonzero": nonzero,
        }))


def _sequence_bench(args: argparse.Namespace) -> None:
    from recsearch.data import movielens_100k
    from recsearch.spec import baseline

    data = movielens_100k(download=False, history=args.history, split="temporal")
    budget = Budget(epochs=args.epochs, eval_every=0.5)
    seeds = list(range(args.seeds))
    space = preset("ameir", data.schema, seed=0)
    base = default_base(space).replace(training=TRAINING)
    objective = CTRObjective(data, space, budget=budget, device="cpu", seed=0, base=base)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=5)
    )
    study.enqueue_trial({})  # NOTE: the default configuration (DIN-like) is the first trial.
    study.optimize(objective, n_trials=args.trials, catch=(Exception,))
    best = decode(configuration_from_trial(study.best_trial, space), data.schema, base=base)
    models = {
        "deepfm_no_history": DEEPFM_BASE.replace(training=TRAINING),
        "din": baseline("din", data.schema, training=TRAINING),
        "ameir_best": best,
    }
    for name, spec in models.items():
        print(json.dumps({"model": name, **_retrain(spec, data, budget, seeds)}))
    print(json.dumps({"best_params": study.best_trial.params,
                      "best_search_valid_auc": study.best_value,
                      "n_complete": len(study.trials)}))


def _autoft_bench(args: argparse.Namespace) -> None:
    from recsearch.data import domain_split
    from recsearch.data import movielens_100k
    from recsearch.objectives import build_model

    data = movielens_100k(download=False)
    source, target = domain_split(data, "gender", source=(1,))
    budget = Budget(epochs=args.epochs, eval_every=0.5)
    base = DEEPFM_BASE.replace(training=TRAINING)
    torch.manual_seed(0)
    # NOTE: train() keeps the model to itself; pre-train here with the same loop pieces.
    from recsearch.objectives.trainer import _tensors
    from recsearch.objectives.trainer import make_optimizer

    model = build_model(base, data.schema)
    opt = make_optimizer(model, base.training, torch.device("cpu"))
    tr = _tensors(source.train, torch.device("cpu"))
    label = tr.pop("label")
    n = len(source.train)
    gen = torch.Generator().manual_seed(0)
    for _ in range(2):
        order = torch.randperm(n, generator=gen)
        for i in range(0, n, base.training.batch_size):
            idx = order[i : i + base.training.batch_size]
            b = {k: [m[idx] for m in v] if isinstance(v, list) else v[idx] for k, v in tr.items()}
            opt.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(
                model(b)["logit"], label[idx]).backward()
            opt.step()
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    print(json.dumps({"source_rows": n, "target_rows": len(target.train)}))
    space = preset("autoft", data.schema, seed=0)
    objective = CTRObjective(target, space, budget=budget, device="cpu", seed=0, base=base,
                             pretrained=state)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=4)
    )
    study.enqueue_trial({})  # NOTE: fine-tune everything is the first trial.
    study.optimize(objective, n_trials=args.trials, catch=(Exception,))
    best = decode(configuration_from_trial(study.best_trial, space), data.schema, base=base)
    seeds = list(range(args.seeds))
    print(json.dumps({"model": "scratch_on_target", **_retrain(base, target, budget, seeds)}))
    for name, spec in (("finetune_all", decode(space.get_default_configuration(),
                                               data.schema, base=base)), ("autoft_best", best)):
        out = [train(spec, target, budget, device="cpu", seed=s, measure=False, pretrained=state)
               for s in seeds]
        print(json.dumps({"model": name,
                          "valid_auc": round(statistics.mean(r.valid_auc for r in out), 4),
                          "test_auc": round(statistics.mean(r.test_auc for r in out), 4),
                          "frozen": None if spec.finetune is None else
                          [list(spec.finetune.frozen_fields), list(spec.finetune.frozen_parts)]}))


def main() -> None:
    """Run the bench and print one JSON line per model."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--space", default="fives")
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--numeric", action="store_true")
    parser.add_argument("--pep", action="store_true")
    parser.add_argument("--sequence", action="store_true")
    parser.add_argument("--history", type=int, default=10)
    parser.add_argument("--autoft", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.numeric:
        _numeric_bench(args)
        return
    if args.pep:
        _pep_bench(args)
        return
    if args.sequence:
        _sequence_bench(args)
        return
    if args.autoft:
        _autoft_bench(args)
        return
    data = _data(args.rows, 0)
    budget = Budget(epochs=args.epochs, eval_every=0.5)
    seeds = list(range(args.seeds))
    space = preset(args.space, data.schema, seed=0)
    base = default_base(space).replace(training=TRAINING)
    objective = CTRObjective(data, space, budget=budget, device="cpu", seed=0, base=base)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=6)
    )
    study.enqueue_trial({})  # NOTE: the default configuration is the first trial.
    study.optimize(objective, n_trials=args.trials, catch=(Exception,))
    best = decode(configuration_from_trial(study.best_trial, space), data.schema, base=base)
    default = decode(space.get_default_configuration(), data.schema, base=base)
    deepfm = DEEPFM_BASE.replace(training=TRAINING)
    oracle = data.info["oracle_auc"]["test"]
    truth = data.info["ground_truth"]["triples"]
    print(json.dumps({"data": {"rows": args.rows, "oracle_test_auc": oracle, "truth": truth}}))
    models = (("deepfm_base", deepfm), ("space_default", default), ("search_best", best))
    for name, spec in models:
        result = _retrain(spec, data, budget, seeds)
        print(json.dumps({"space": args.space, "model": name, **result}))
    print(json.dumps({"best_params": study.best_trial.params,
                      "best_search_valid_auc": study.best_value}))


if __name__ == "__main__":
    main()
