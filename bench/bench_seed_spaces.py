"""Do the seed spaces find a model at least as good as their base? (issue 16 bars)

``fives`` and ``autopi`` on ``synthetic`` data with planted third-order interactions: the base
(DeepFM, decode's default base) and the space's default configuration are trained with the
same budget and seeds as a short TPE search; the search's best (by validation AUC) is
retrained with the same seeds and reported on the test split.

``--pep``: PEP's AUC against sparsity on MovieLens-100K: DeepFM with per-field thresholds at
each initial value, the share of embedding entries left non-zero after training beside the AUC,
and the AUC of the same model retrained from its initial weights with the found mask (PEP's
lottery-ticket step, ``recsearch.objectives.pep.retrain_with_mask``).

``--sequence``: MovieLens-100K with each user's history (temporal split): DeepFM (no history),
the DIN-style baseline, and the ``ameir`` space's best after a short TPE search, retrained.

``--autoft``: MovieLens-100K's documented domains (``recsearch.data.domains``: source = male
users, target = female users with a quarter of their training rows); the autoft base
pre-trained on the source as ``recsearch pretrain`` does, then on the target, each retrained
like the retrain stage (up to ``--final-epochs``, early stopping on valid AUC) with
``--seeds`` seeds: trained from scratch, fine-tuned entirely, and the ``autoft`` space's best
(what to freeze) after a TPE search of ``--trials`` trials of ``--epochs`` epochs; mean, sd and
the paired differences of the test AUC.

``--numeric``: on data whose numeric fields have a nonlinear effect, DeepFM with every numeric
field as dense input against the same model with each AutoDis representation (same budget and
seeds).

Run (1 thread, a few minutes)::

    OMP_NUM_THREADS=1 python -m bench.bench_seed_spaces --space fives --trials 12
    OMP_NUM_THREADS=1 python -m bench.bench_seed_spaces --numeric
    OMP_NUM_THREADS=1 python -m bench.bench_seed_spaces --pep --epochs 3 --seeds 2
    OMP_NUM_THREADS=1 python -m bench.bench_seed_spaces --sequence --epochs 1 --trials 6 --seeds 1
    OMP_NUM_THREADS=1 python -m bench.bench_seed_spaces --autoft --epochs 3 --trials 30 --seeds 5
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile

import optuna
import torch

from recsearch.data.synthetic import synthetic
from recsearch.objectives.objective import CTRObjective
from recsearch.objectives.trainer import Budget
from recsearch.objectives.trainer import train
from recsearch.spaces import configuration_from_trial
from recsearch.spaces import decode
from recsearch.spaces import default_base
from recsearch.spaces import preset
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
    from recsearch.objectives.pep import retrain_with_mask
    from recsearch.spec import EmbeddingSpec
    from recsearch.spec import PruneSpec

    data = movielens_100k(download=False)
    budget = Budget(epochs=args.epochs, eval_every=0.5)
    base = DEEPFM_BASE.replace(training=TRAINING)
    dense = base.replace(embedding=EmbeddingSpec(default_dim=16))
    out = [train(dense, data, budget, device="cpu", seed=s, measure=False, evaluate_test=True)
           for s in range(args.seeds)]
    print(json.dumps({"pep_init": None, "nonzero_share": 1.0,
                      "test_auc": round(statistics.mean(r.test_auc for r in out), 4)}))
    for init in (float(x) for x in args.pep_inits.split(",")):
        spec = base.replace(embedding=EmbeddingSpec(default_dim=16, prune=PruneSpec("field",
                                                                                   init=init)))
        found = [retrain_with_mask(spec, data, budget, seed=s, device="cpu", measure=False,
                                   evaluate_test=True) for s in range(args.seeds)]  # fmt: skip
        print(json.dumps({
            "pep_init": init, "nonzero_share": round(statistics.mean(f.kept / f.total
                                                                     for f in found), 4),
            "test_auc_pep": round(statistics.mean(f.pruned.test_auc for f in found), 4),
            "test_auc_mask_retrained": round(statistics.mean(f.retrained.test_auc
                                                             for f in found), 4),
            "paired_retrained_minus_pep": [round(f.retrained.test_auc - f.pruned.test_auc, 4)
                                           for f in found],
        }))  # fmt: skip


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
    from recsearch.data import load
    from recsearch.objectives.final import train_final
    from recsearch.study.pretrained import pretrain

    rule = json.loads(args.domain_rule) if args.domain_rule else None
    source = load("movielens-100k", domain="source", domain_rule=rule)
    target = load("movielens-100k", domain="target", domain_rule=rule)
    # NOTE: what `recsearch pretrain` does: the autoft base from scratch, up to 20 epochs.
    folder = tempfile.mkdtemp(prefix="bench-autoft-")
    saved, pre = pretrain(source, f"{folder}/source.pt", device="cpu")
    rows = {"source_train": len(source.train), "target_train": len(target.train),
            "target_valid": len(target.valid), "target_test": len(target.test)}
    print(json.dumps({"source": source.name, "target": target.name, "rows": rows,
                      "pretrained_valid_auc": round(pre.result.valid_auc, 4),
                      "pretrained_epochs": pre.result.best_step}))
    space = preset("autoft", target.schema, seed=0)
    base = decode(space.get_default_configuration(), target.schema)
    if args.lr:
        base = base.replace(training=dataclasses.replace(base.training, lr=args.lr))
    objective = CTRObjective(target, space, budget=args.epochs, device="cpu", seed=0, base=base,
                             pretrained=saved.state, latency="never")
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=8)
    )
    study.enqueue_trial({})  # NOTE: fine-tune everything (the base) is the first trial.
    study.optimize(objective, n_trials=args.trials, catch=(Exception,))
    best = decode(configuration_from_trial(study.best_trial, space), target.schema, base=base)
    models = {"scratch": (base.replace(finetune=None), None), "finetune_all": (base, saved.state),
              "autoft_best": (best, saved.state)}
    tests: dict[str, list[float]] = {}
    for name, (spec, state) in models.items():
        out = [train_final(spec, target, seed=s, budget_epochs=args.final_epochs, device="cpu",
                           pretrained=state).result for s in range(args.seeds)]
        tests[name] = [r.test_auc for r in out]
        print(json.dumps({
            "model": name, **_mean_sd("valid_auc", [r.valid_auc for r in out]),
            **_mean_sd("test_auc", tests[name]), "best_epochs": [r.best_step for r in out],
            "frozen": None if spec.finetune is None else
            [list(spec.finetune.frozen_fields), list(spec.finetune.frozen_parts)]}))
    for other in ("scratch", "finetune_all"):
        diff = [a - b for a, b in zip(tests["autoft_best"], tests[other], strict=True)]
        print(json.dumps({"paired": f"autoft_best - {other}", **_mean_sd("test_auc", diff),
                          "each": [round(d, 4) for d in diff]}))
    print(json.dumps({"search_best_valid_auc": round(study.best_value, 4),
                      "search_base_valid_auc": round(study.trials[0].value or 0.0, 4),
                      "trials": len(study.trials)}))


def _mean_sd(key: str, values: list[float]) -> dict[str, float]:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {key: round(statistics.mean(values), 4), f"{key}_sd": round(sd, 4)}


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
    parser.add_argument("--pep-inits", default="-6,-5,-4.5,-4",
                        help="pep: initial thresholds (each trained, then with its mask)")
    parser.add_argument("--sequence", action="store_true")
    parser.add_argument("--history", type=int, default=10)
    parser.add_argument("--autoft", action="store_true")
    parser.add_argument("--final-epochs", type=float, default=20.0)
    parser.add_argument("--lr", type=float, default=None, help="autoft: a fixed learning rate")
    parser.add_argument("--domain-rule", default=None, help="autoft: a JSON domain_rule")
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
