"""AutoFT's source model on the command line: pretrain, --pretrained, fingerprints, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch

from _scale_support import mlflow_store
from _scale_support import mlflow_template  # noqa: F401 - fixture
from recsearch import cli
from recsearch.data import load
from recsearch.errors import InvalidParameterError
from recsearch.spec import ModelSpec
from recsearch.study.pretrained import fingerprint
from recsearch.study.pretrained import load as load_source
from recsearch.study.settings import STUDY_ATTR

DATA = ["--dataset", "synthetic", "--dataset-option", "n_rows=400",
        "--dataset-option", "max_vocab=12"]  # fmt: skip


@pytest.fixture(autouse=True)
def _in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECSEARCH_DEBUG", raising=False)
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def source_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One source model for the module (trained once: ``recsearch pretrain``'s function)."""
    from recsearch.study.pretrained import pretrain

    path = tmp_path_factory.mktemp("source") / "source.pt"
    pretrain(load("synthetic", n_rows=400, max_vocab=12), path, budget_epochs=1, device="cpu")
    return path


@pytest.fixture
def source(source_file: Path, tmp_path: Path) -> str:
    """``source.pt`` (and its schema record) in the test's folder."""
    import shutil

    for f in source_file.parent.iterdir():
        shutil.copy(f, tmp_path / f.name)
    return "source.pt"


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _pretrain(capsys: pytest.CaptureFixture[str], out: str, *data: str) -> str:
    code, printed, err = _main(capsys, "pretrain", *(data or DATA), "--out", out,
                               "--budget-epochs", "1", "--device", "cpu")  # fmt: skip
    assert code == 0, err
    assert "fingerprint" in printed
    return printed


def _run(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    return _main(capsys, "run", *DATA, "--space", "autoft", "--strategy", "random",
                 "--trials", "2", "--budget-epochs", "0.5", "--storage", "sqlite:///s.db",
                 "--study", "ft", "--tracking-uri", "none", "--no-progress",
                 *extra)  # fmt: skip


def test_pretrain_then_run_autoft_keeps_only_the_fingerprint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _pretrain(capsys, "source.pt")
    state = torch.load(tmp_path / "source.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    record = json.loads((tmp_path / "source.pt.schema.json").read_text())
    assert record["fingerprint"] == fingerprint(state)
    code, out, err = _run(capsys, "--pretrained", "source.pt")
    assert code == 0, err
    assert "recsearch worker --study ft" in out and "--pretrained source.pt" in out
    study = optuna.load_study(study_name="ft", storage="sqlite:///s.db")
    assert sum(t.state.name == "COMPLETE" for t in study.trials) == 2
    stored = json.dumps(study.user_attrs[STUDY_ATTR])
    assert study.user_attrs[STUDY_ATTR]["pretrained"] == fingerprint(state)
    assert "source.pt" not in stored  # NOTE: never a path a worker would load from


def test_autoft_without_pretrained_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys)
    assert code == 1
    assert "--pretrained" in err and "autoft" in err


def test_a_missing_file_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "--pretrained", "nowhere.pt")
    assert code == 1
    assert "nowhere.pt" in err and "no such file" in err


def test_a_file_that_is_not_a_state_dict_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    code, _, err = _run(capsys, "--pretrained", "junk.pt")
    assert code == 1
    assert "junk.pt" in err and "state dict" in err


def test_a_model_of_another_schema_names_tables_and_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = ["--dataset", "synthetic", "--dataset-option", "n_rows=400",
             "--dataset-option", "max_vocab=30"]  # fmt: skip
    _pretrain(capsys, "other.pt", *other)
    code, _, err = _run(capsys, "--pretrained", "other.pt")
    assert code == 1
    assert "does not fit" in err and "embeddings.tables" in err
    assert "values, here" in err  # the schema record names the fields that differ


def test_a_worker_given_another_model_or_none_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, source: str
) -> None:
    assert _run(capsys, "--pretrained", "source.pt")[0] == 0
    state = torch.load(tmp_path / "source.pt", weights_only=True)
    state["bias"] = state["bias"] + 1.0
    torch.save(state, tmp_path / "changed.pt")
    worker = ["worker", "--study", "ft", "--storage", "sqlite:///s.db", "--quiet"]
    code, _, err = _main(capsys, *worker, "--pretrained", "changed.pt")
    assert code == 1
    assert "is not the model the study was created with" in err and "changed.pt" in err
    code, _, err = _main(capsys, *worker)
    assert code == 1 and "--pretrained" in err
    code, _, err = _main(capsys, *worker, "--pretrained", "source.pt")
    assert code == 0, err
    # NOTE: the same command with another model is another study (the fingerprint is identity).
    code, _, err = _run(capsys, "--pretrained", "changed.pt")
    assert code == 1 and "pretrained" in err


def test_run_refuses_a_source_model_for_a_space_that_trains_from_scratch(
    capsys: pytest.CaptureFixture[str], source: str
) -> None:
    code, _, err = _main(capsys, "run", *DATA, "--space", "hpo", "--strategy", "random",
                         "--trials", "1", "--storage", "sqlite:///s.db", "--tracking-uri", "none",
                         "--pretrained", "source.pt")  # fmt: skip
    assert code == 1 and "trains from scratch" in err


def test_retrain_starts_the_found_models_from_the_source(
    capsys: pytest.CaptureFixture[str], source: str
) -> None:
    import recsearch

    assert _run(capsys, "--pretrained", "source.pt")[0] == 0
    opts = {"study": "ft", "storage": "sqlite:///s.db", "top_k": 1, "seeds": 1,
            "budget_epochs": 1.0, "baselines": ("fm",), "tracking_uri": None,
            "patience": 1}  # fmt: skip
    with pytest.raises(InvalidParameterError, match="--pretrained"):
        recsearch.retrain(**opts)
    report = recsearch.retrain(**opts, pretrained="source.pt")
    assert {r.name for r in report.rows} >= {"found-1", "fm"}
    assert all(np.isfinite(r.mean["test_auc"]) for r in report.rows)


def test_a_registered_model_uri_loads_its_weights_only(
    tmp_path: Path, mlflow_template: Path  # noqa: F811
) -> None:
    import mlflow

    from _retrain_support import clicks_dataset
    from recsearch.objectives.deploy import log_model
    from recsearch.objectives.deploy import register
    from recsearch.study.pretrained import pretrain

    ds = clicks_dataset(600)
    saved, final = pretrain(ds, tmp_path / "clicks.pt", budget_epochs=1, device="cpu")
    spec = ModelSpec.from_dict(json.loads((tmp_path / "clicks.pt.schema.json").read_text())["spec"])
    mlflow.set_tracking_uri(mlflow_store(mlflow_template, tmp_path))
    try:
        with mlflow.start_run() as run:
            info = log_model(final.result.model, spec, ds)
            mlflow.log_text("x", "other/MLmodel")
        uri = register(info.model_uri, "source-ctr").uri
        loaded = load_source(uri)
        assert loaded.fingerprint == saved.fingerprint  # the weights.pt artifact, nothing else
        assert loaded.schema["fields"][0][0] == "user"  # from the model's schema.json
        with pytest.raises(InvalidParameterError, match="not a recsearch model"):
            load_source(f"runs:/{run.info.run_id}/other")
    finally:
        mlflow.set_tracking_uri(None)


def test_fingerprint_changes_with_values_and_shapes() -> None:
    a = {"w": torch.zeros(2, 2)}
    assert fingerprint(a) == fingerprint({"w": torch.zeros(2, 2)})
    assert fingerprint(a) != fingerprint({"w": torch.zeros(4)})
    assert fingerprint(a) != fingerprint({"w": torch.eye(2)})
    assert fingerprint(a) != fingerprint({"v": torch.zeros(2, 2)})


def test_domain_option_splits_by_value_and_keeps_a_share_of_the_target() -> None:
    rule = {"field": "c0", "source": [1, 2], "target_fraction": 0.5}
    whole = load("synthetic", n_rows=600, seed=0)
    source = load("synthetic", n_rows=600, seed=0, domain="source", domain_rule=rule)
    target = load("synthetic", n_rows=600, seed=0, domain="target", domain_rule=rule)
    everything = load("synthetic", n_rows=600, seed=0, domain="target",
                      domain_rule={**rule, "target_fraction": 1.0})  # fmt: skip
    assert len(source.train) + len(everything.train) == len(whole.train)
    assert len(target.train) == round(0.5 * len(everything.train))
    assert len(target.valid) == len(everything.valid)  # valid and test are kept whole
    assert not np.isin(target.train.categorical[:, 0], [1, 2]).any()
    assert [f.vocab_size for f in target.schema.fields] == [
        f.vocab_size for f in whole.schema.fields
    ]
    with pytest.raises(InvalidParameterError, match="no documented domain rule"):
        load("synthetic", n_rows=200, domain="target")
    with pytest.raises(InvalidParameterError, match="'source' or 'target'"):
        load("synthetic", n_rows=200, domain="sauce", domain_rule=rule)


def test_domain_rule_values_are_looked_up_in_the_vocabulary() -> None:
    from recsearch.data import domain_split
    from recsearch.data.schema import Dataset

    whole = load("synthetic", n_rows=300, seed=0)
    vocab = [f"v{i}" for i in range(1, whole.schema["c0"].vocab_size)]
    coded = Dataset(whole.name, whole.schema, whole.train, whole.valid, whole.test,
                    info={"encoder": {"vocabularies": {"c0": vocab}}})  # fmt: skip
    by_value, _ = domain_split(coded, "c0", source=["v1", "v2"])
    by_index, _ = domain_split(coded, "c0", source=[1, 2])
    assert len(by_value.train) == len(by_index.train) > 0
    with pytest.raises(InvalidParameterError, match="'zz' is not a value of field 'c0'"):
        domain_split(coded, "c0", source=["zz"])
