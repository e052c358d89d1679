"""Write the example notebooks (without outputs) from the cells below.

Run ``python notebooks/build_notebooks.py`` after editing a cell here; never edit the ``.ipynb``
files by hand. Every notebook reads two environment variables so the test suite can run it in
seconds (tests/test_notebooks.py):

- ``RECSEARCH_NOTEBOOK_SMOKE=1`` shrinks data, trials and budgets;
- ``RECSEARCH_DATASET`` replaces the data set (``synthetic`` needs no download).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell
from nbformat.v4 import new_markdown_cell
from nbformat.v4 import new_notebook

HERE = Path(__file__).resolve().parent

SETTINGS = '''\
import os

SMOKE = os.environ.get("RECSEARCH_NOTEBOOK_SMOKE") == "1"  # tiny budgets for the test suite
DATASET = os.environ.get("RECSEARCH_DATASET", "{default}")
DATASET_OPTIONS = {{}}
if DATASET == "synthetic":  # generated data with planted interactions, no download
    DATASET_OPTIONS = {{"n_rows": 20_000, "seed": 0}}
    if SMOKE:
        DATASET_OPTIONS = {{"n_rows": 1500, "n_categorical": 5, "max_vocab": 40, "seed": 0}}
if SMOKE:
    import torch

    torch.set_num_threads(1)
'''

QUICKSTART = [
    new_markdown_cell(
        "# Quickstart: one search on MovieLens-100K, tracked in MLflow\n\n"
        "A search in recsearch is an ordinary Optuna study:\n\n"
        "- the **space** is a ConfigSpace object (here the `autofis` preset: which field pairs "
        "interact),\n"
        "- the **strategy** is an Optuna sampler and pruner from the registry,\n"
        "- the **objective** (`CTRObjective`) decodes each configuration into a model spec, "
        "trains it and reports validation AUC,\n"
        "- the **tracker** (`MLflowTracker`) logs one parent run for the study and one child run "
        "per trial.\n\n"
        "Set `RECSEARCH_DATASET=synthetic` to use generated data instead of downloading "
        "MovieLens."
    ),
    new_code_cell(SETTINGS.format(default="movielens-100k")),
    new_code_cell(
        "import optuna\n\n"
        "from recsearch.data import load\n"
        "from recsearch.objectives import CTRObjective\n"
        "from recsearch.spaces import available as available_spaces\n"
        "from recsearch.spaces import preset\n"
        "from recsearch.strategies import available as available_strategies\n"
        "from recsearch.strategies import create\n"
        "from recsearch.trackers import MLflowTracker\n\n"
        "data = load(DATASET, **DATASET_OPTIONS)\n"
        "print(data.summary())"
    ),
    new_markdown_cell("## The space and the strategy"),
    new_code_cell(
        "for name, description in available_spaces().items():\n"
        "    print(f\"{name:12s} {description}\")\n\n"
        "space = preset(\"autofis\", data.schema)\n"
        "print(f\"\\nautofis on {data.name}: {len(space)} hyperparameters, \"\n"
        "      f\"e.g. {list(space)[:3]}\")"
    ),
    new_code_cell(
        "print(\", \".join(available_strategies()))\n"
        "strategy = create(\"tpe\", space, seed=0)\n"
        "print(strategy.description)"
    ),
    new_markdown_cell(
        "## Run the study\n\n"
        "`MLflowTracker()` writes to `MLFLOW_TRACKING_URI` or `sqlite:///mlflow.db` in the "
        "working directory. It is both an Optuna callback (run status, final metrics) and the "
        "objective's hook (per-step validation metrics)."
    ),
    new_code_cell(
        "N_TRIALS = 3 if SMOKE else 20\n"
        "EPOCHS = 0.5 if SMOKE else 2.0\n\n"
        "tracker = MLflowTracker(experiment=\"quickstart\")\n"
        "objective = CTRObjective(data, space, metric=\"auc\", budget=EPOCHS, seed=0, "
        "hooks=[tracker])\n"
        "study = optuna.create_study(\n"
        "    study_name=f\"quickstart-{data.name}\",\n"
        "    directions=objective.directions,\n"
        "    sampler=strategy.sampler,\n"
        "    pruner=strategy.pruner,\n"
        ")\n"
        "tracker.start_study(\n"
        "    study,\n"
        "    tags={\"strategy\": strategy.name, \"space\": \"autofis\", \"dataset\": data.name, "
        "\"seed\": 0},\n"
        "    params={\"n_trials\": N_TRIALS, \"budget_epochs\": EPOCHS, "
        "\"strategy_options\": strategy.meta},\n"
        ")\n"
        "study.optimize(objective, n_trials=N_TRIALS, callbacks=[tracker], catch=(Exception,))\n"
        "parent = tracker.end_study(study)"
    ),
    new_markdown_cell(
        "## Results\n\n"
        "A search trial scores the validation split only: the test split is left for the "
        "retrain stage, which retrains the best configurations with fresh seeds."
    ),
    new_code_cell(
        "import json\n\n"
        "best = study.best_trial\n"
        "print(f\"best validation AUC {best.value:.4f} (trial {best.number})\")\n"
        "print(\"interacting pairs:\", sorted(k for k, v in best.params.items() if v in (True, "
        "\"True\")))\n"
        "spec = json.loads(best.user_attrs[\"spec\"])\n"
        "print(\"decoded spec sections:\", sorted(spec))"
    ),
    new_code_cell(
        "columns = [\"number\", \"state\", \"value\", \"user_attrs_epochs\", "
        "\"user_attrs_cost.params\"]\n"
        "table = study.trials_dataframe()\n"
        "table[[c for c in columns if c in table]]"
    ),
    new_code_cell(
        "print(f\"MLflow parent run: {parent}\")\n"
        "print(f\"Open the UI with: mlflow ui --backend-store-uri "
        "{tracker.resolved_tracking_uri}\")"
    ),
]

COMPARE = [
    new_markdown_cell(
        "# Comparing search strategies\n\n"
        "`run_comparison` gives every strategy the same budget, counted in **epoch-equivalents** "
        "(a pruned trial only costs what it trained), runs each strategy on several seeds, and "
        "writes a report folder: the anytime plot, a table (final best, area under the anytime "
        "curve, mean rank) and a Wilcoxon signed-rank test of each strategy against `random`. "
        "The folder is logged to MLflow as the artifacts of a comparison run."
    ),
    new_code_cell(SETTINGS.format(default="synthetic")),
    new_code_cell(
        "from pathlib import Path\n\n"
        "from IPython.display import Image\n"
        "from IPython.display import Markdown\n"
        "from IPython.display import display\n\n"
        "from recsearch.compare import run_comparison\n\n"
        "STRATEGIES = [\"random\", \"tpe\", \"evolution\", \"hyperband\"]\n"
        "SEEDS = 2 if SMOKE else 5\n"
        "BUDGET = 2.0 if SMOKE else 20.0  # epoch-equivalents per strategy and seed\n"
        "PER_TRIAL = 0.5 if SMOKE else 1.0  # epochs one full trial trains\n"
        "OUT = Path(os.environ.get(\"RECSEARCH_REPORTS\", \"reports\")) / \"compare\"\n\n"
        "report = run_comparison(\n"
        "    dataset=DATASET,\n"
        "    dataset_options=DATASET_OPTIONS,\n"
        "    space=\"hpo\",\n"
        "    strategies=STRATEGIES,\n"
        "    seeds=SEEDS,\n"
        "    budget=BUDGET,\n"
        "    budget_epochs_per_trial=PER_TRIAL,\n"
        "    out_dir=OUT,\n"
        "    workers=1,\n"
        "    experiment=\"compare-notebook\",\n"
        ")\n"
        "print(\"report folder:\", report.out_dir)\n"
        "print(\"MLflow comparison run:\", report.mlflow_run_id)"
    ),
    new_markdown_cell("## Anytime performance"),
    new_code_cell("Image(filename=str(report.files[\"anytime\"]))"),
    new_markdown_cell("## Table and tests"),
    new_code_cell("display(Markdown(report.to_markdown()))\nreport.tests"),
    new_markdown_cell(
        "Each run's trials, with the cumulative budget and the best value so far, are in "
        "`trials.csv`:"
    ),
    new_code_cell(
        "import pandas as pd\n\n"
        "trials = pd.read_csv(report.files[\"trials\"])\n"
        "trials.groupby([\"strategy\", \"state\"]).size().unstack(fill_value=0)"
    ),
]

CUSTOM = [
    new_markdown_cell(
        "# A custom space and a custom objective metric\n\n"
        "Presets are compositions of builders. Here we compose our own space (embedding sizes, "
        "interaction functions per field pair, the MLP and a few training knobs) and search it "
        "with an objective that trades AUC against model size."
    ),
    new_code_cell(SETTINGS.format(default="synthetic")),
    new_code_cell(
        "from recsearch.data import load\n"
        "from recsearch.spaces import compose\n"
        "from recsearch.spaces import decode\n"
        "from recsearch.spaces import embedding_dims\n"
        "from recsearch.spaces import interaction_functions\n"
        "from recsearch.spaces import mlp\n"
        "from recsearch.spaces import training\n\n"
        "data = load(DATASET, **DATASET_OPTIONS)\n"
        "space = compose(\n"
        "    emb=embedding_dims(data.schema, candidates=(0, 4, 8, 16)),\n"
        "    inter=interaction_functions(data.schema, functions=(\"inner\", \"hadamard\", "
        "\"max\")),\n"
        "    mlp=mlp(max_depth=2),\n"
        "    train=training(optimizers=(\"adam\", \"adagrad\"), batch_sizes=(256, 512)),\n"
        ")\n"
        "print(f\"{len(space)} hyperparameters, {len(space.conditions)} conditions\")\n"
        "print(sorted(space)[:8])"
    ),
    new_markdown_cell(
        "Every configuration decodes into a frozen, torch-free `ModelSpec` "
        "(hyperparameters the space does not search come from the default base model):"
    ),
    new_code_cell(
        "space.seed(0)\n"
        "config = space.sample_configuration()\n"
        "spec = decode(config, data.schema)\n"
        "print(spec.embedding)\n"
        "inter = spec.interaction  # None when every field was dropped\n"
        "print(inter.pairs[:3] if inter is not None and inter.pairs else \"no pairs\")"
    ),
    new_markdown_cell(
        "## A custom objective metric\n\n"
        "`CTRObjective` records the cost measures of every trial as user attributes "
        "(`cost.params`, `cost.embedding_bytes`, `cost.flops`, `cost.latency_ms`). A thin "
        "wrapper turns them into a size-penalised score: validation AUC minus "
        "`PENALTY * log10(parameters)`. The pruner still sees the plain AUC at each step."
    ),
    new_code_cell(
        "import math\n\n"
        "import optuna\n\n"
        "from recsearch.objectives import CTRObjective\n"
        "from recsearch.strategies import create\n"
        "from recsearch.trackers import MLflowTracker\n\n\n"
        "class SizePenalisedAUC:\n"
        "    \"\"\"Validation AUC minus a penalty per decade of model parameters.\"\"\"\n\n"
        "    def __init__(self, base, *, penalty):\n"
        "        self.base = base\n"
        "        self.penalty = penalty\n\n"
        "    def __call__(self, trial):\n"
        "        auc = self.base(trial)\n"
        "        params = trial.user_attrs[\"cost.params\"]\n"
        "        score = auc - self.penalty * math.log10(max(params, 1.0))\n"
        "        trial.set_user_attr(\"score\", score)\n"
        "        return score\n\n\n"
        "N_TRIALS = 4 if SMOKE else 30\n"
        "tracker = MLflowTracker(experiment=\"custom-space\")\n"
        "base = CTRObjective(data, space, budget=0.5 if SMOKE else 1.0, seed=0, "
        "hooks=[tracker])\n"
        "objective = SizePenalisedAUC(base, penalty=0.01)\n"
        "strategy = create(\"evolution\", space, seed=0)\n"
        "study = optuna.create_study(direction=\"maximize\", sampler=strategy.sampler)\n"
        "tracker.start_study(study, tags={\"strategy\": \"evolution\", \"space\": \"custom\", "
        "\"dataset\": data.name})\n"
        "study.optimize(objective, n_trials=N_TRIALS, callbacks=[tracker], catch=(Exception,))\n"
        "tracker.end_study(study)\n"
        "best = study.best_trial\n"
        "print(f\"best score {best.value:.4f}: AUC {best.user_attrs['valid_auc']:.4f} with \"\n"
        "      f\"{int(best.user_attrs['cost.params']):,} parameters\")"
    ),
    new_code_cell(
        "table = study.trials_dataframe()\n"
        "cols = [\"number\", \"value\", \"user_attrs_valid_auc\", \"user_attrs_cost.params\"]\n"
        "table[[c for c in cols if c in table]].sort_values(\"value\", ascending=False)"
    ),
]

NOTEBOOKS = {
    "01_quickstart.ipynb": QUICKSTART,
    "02_compare_strategies.ipynb": COMPARE,
    "03_custom_space.ipynb": CUSTOM,
}


def build(out_dir: Path = HERE) -> list[Path]:
    """Write every notebook into ``out_dir`` and return their paths."""
    written = []
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(
            cells=cells,
            metadata={
                "kernelspec": {
                    "name": "python3",
                    "display_name": "Python 3",
                    "language": "python",
                },
                "language_info": {"name": "python"},
            },
        )
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{Path(name).stem[:2]}-{i:02d}"  # NOTE: stable ids, clean diffs
        nbformat.validate(nb)
        path = out_dir / name
        nbformat.write(nb, path)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(path)
