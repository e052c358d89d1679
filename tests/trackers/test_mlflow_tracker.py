"""MLflowTracker against a real SQLite MLflow store, read back through MlflowClient."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient

from recsearch.trackers import CHILD_RUN_ATTR
from recsearch.trackers import PARENT_RUN_ATTR
from recsearch.trackers import TRUNCATION_MARKER
from recsearch.trackers import MLflowTracker
from recsearch.trackers import iter_child_runs
from recsearch.trackers import sanitize_key
from recsearch.trackers import truncate_value

LONG = "v" * 7000


class FakeObjective:
    """Stands in for CTRObjective: suggests, reports through the hook, writes the user attrs."""

    def __init__(self, hook: MLflowTracker) -> None:
        self.hook = hook

    def __call__(self, trial: optuna.Trial) -> float:
        params = {
            "model": trial.suggest_categorical("model", ["deepfm", "dcn"]),
            "training.lr": trial.suggest_float("training.lr", 1e-4, 1e-1, log=True),
            "note": LONG,
        }
        self.hook.trial_started(trial, params)
        auc = 0.6
        for step in range(1, 4):
            auc = 0.6 + 0.01 * step + 0.001 * trial.number
            metrics = {"valid_auc": auc, "valid_logloss": 0.7 - 0.01 * step}
            self.hook.step_reported(trial, step, metrics)
            trial.report(auc, step)
            if trial.number == 1 and step == 2:
                self.hook.trial_ended(trial, metrics, "pruned at step 2")
                raise optuna.TrialPruned()
        if trial.number == 2:
            trial.set_user_attr("failure", "NonFiniteLossError: loss became nan")
            self.hook.trial_ended(trial, {}, "NonFiniteLossError: loss became nan")
            raise FloatingPointError("loss became nan")
        trial.set_user_attr("valid_auc", auc)
        trial.set_user_attr("test_auc", auc - 0.01)
        trial.set_user_attr("cost.params", 1234)
        trial.set_user_attr("cost.latency_ms", 0.5)
        trial.set_user_attr("epochs", 3.0)
        trial.set_user_attr("spec", json.dumps({"name": "deepfm", "trial": trial.number}))
        self.hook.trial_ended(trial, {"valid_auc": auc}, None)
        return auc


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    tracker = MLflowTracker(uri, experiment="tracker-test")
    study = optuna.create_study(
        study_name="tiny", direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0)
    )
    parent = tracker.start_study(
        study,
        tags={"strategy": "random", "space": "autofis", "dataset": "synthetic", "seed": 0},
        params={"budget": 4.0, "strategy_options": {"seed": 0, "n_startup": 3}},
    )
    study.optimize(
        FakeObjective(tracker), n_trials=4, callbacks=[tracker], catch=(FloatingPointError,)
    )
    tracker.end_study(study)
    return {"uri": uri, "study": study, "parent": parent, "tracker": tracker, "root": root}


def _client(tracked: dict[str, object]) -> MlflowClient:
    return MlflowClient(tracking_uri=str(tracked["uri"]))


def test_parent_run_is_stored_in_the_study_and_tagged(tracked: dict[str, object]) -> None:
    study = tracked["study"]
    assert isinstance(study, optuna.Study)
    assert study.user_attrs[PARENT_RUN_ATTR] == tracked["parent"]
    run = _client(tracked).get_run(str(tracked["parent"]))
    assert run.info.run_name == "tiny"
    assert run.info.status == "FINISHED"
    tags = run.data.tags
    assert tags["strategy"] == "random" and tags["space"] == "autofis"
    assert tags["dataset"] == "synthetic" and tags["seed"] == "0"
    assert tags["storage"] == "InMemoryStorage"
    assert "recsearch.version" in tags
    assert run.data.params["budget"] == "4.0"
    assert run.data.params["strategy_options.n_startup"] == "3"
    assert run.data.metrics["n_trials.complete"] == 2
    assert run.data.metrics["best_value"] == pytest.approx(study.best_value)


def test_one_nested_child_per_trial_in_the_parent_experiment(tracked: dict[str, object]) -> None:
    client = _client(tracked)
    parent = client.get_run(str(tracked["parent"]))
    children = iter_child_runs(client, parent.info.run_id)
    assert len(children) == 4
    assert {c.info.experiment_id for c in children} == {parent.info.experiment_id}
    study = tracked["study"]
    assert isinstance(study, optuna.Study)
    by_number = {int(c.data.tags["optuna.trial_number"]): c for c in children}
    for t in study.trials:
        assert by_number[t.number].info.run_id == t.system_attrs[CHILD_RUN_ATTR]
        assert by_number[t.number].data.params["model"] == t.params["model"]
        assert float(by_number[t.number].data.params["training.lr"]) == pytest.approx(
            t.params["training.lr"]
        )


def test_status_mapping(tracked: dict[str, object]) -> None:
    client = _client(tracked)
    children = iter_child_runs(client, str(tracked["parent"]))
    by_number = {int(c.data.tags["optuna.trial_number"]): c for c in children}
    assert by_number[0].info.status == "FINISHED" and "pruned" not in by_number[0].data.tags
    assert by_number[1].info.status == "FINISHED"
    assert by_number[1].data.tags["pruned"] == "true"
    assert by_number[2].info.status == "FAILED"
    assert "NonFiniteLossError" in by_number[2].data.tags["failure"]
    assert by_number[3].info.status == "FINISHED"


def test_step_metrics_final_metrics_and_costs(tracked: dict[str, object]) -> None:
    client = _client(tracked)
    children = iter_child_runs(client, str(tracked["parent"]))
    by_number = {int(c.data.tags["optuna.trial_number"]): c for c in children}
    history = client.get_metric_history(by_number[0].info.run_id, "valid_logloss")
    assert [(m.step, round(m.value, 6)) for m in history] == [(1, 0.69), (2, 0.68), (3, 0.67)]
    pruned = client.get_metric_history(by_number[1].info.run_id, "valid_auc")
    assert sorted({m.step for m in pruned}) == [1, 2]  # pruned after its second step
    metrics = by_number[3].data.metrics
    assert metrics["valid_auc"] == pytest.approx(0.633)
    assert metrics["test_auc"] == pytest.approx(0.623)
    assert metrics["cost.params"] == 1234 and metrics["cost.latency_ms"] == 0.5
    assert metrics["epochs"] == 3.0
    assert metrics["value"] == pytest.approx(0.633)


def test_long_param_is_truncated_not_rejected(tracked: dict[str, object]) -> None:
    client = _client(tracked)
    child = iter_child_runs(client, str(tracked["parent"]))[0]
    note = child.data.params["note"]
    assert note.endswith(TRUNCATION_MARKER) and len(note) == 6000


def test_parent_artifacts(tracked: dict[str, object], tmp_path: Path) -> None:
    client = _client(tracked)
    parent = str(tracked["parent"])
    names = {a.path for a in client.list_artifacts(parent)}
    assert {"best_config.json", "spec.json", "trials.csv", "optimization_history.png"} <= names
    local = Path(client.download_artifacts(parent, "best_config.json", str(tmp_path)))
    best = json.loads(local.read_text())
    study = tracked["study"]
    assert isinstance(study, optuna.Study)
    assert best["number"] == study.best_trial.number
    assert best["params"]["model"] == study.best_trial.params["model"]
    spec_file = Path(client.download_artifacts(parent, "spec.json", str(tmp_path)))
    spec = json.loads(spec_file.read_text())
    assert spec["trial"] == study.best_trial.number
    png = Path(client.download_artifacts(parent, "optimization_history.png", str(tmp_path)))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # artifacts live next to the SQLite store, not in the working directory
    assert (Path(str(tracked["root"])) / "mlartifacts").is_dir()


def test_callback_alone_logs_intermediate_values_and_killed_runs(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    tracker = MLflowTracker(uri, experiment="plain")
    study = optuna.create_study(study_name="plain")

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.report(x, 0)
        trial.report(x / 2, 1)
        return x

    study.optimize(objective, n_trials=2, callbacks=[tracker])
    # a trial whose worker died: started through the hook, then failed by the heartbeat
    trial = study.ask()
    tracker.trial_started(trial, {"x": 0.5})
    study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
    tracker.stale_trial_callback()(study, study.trials[-1])
    tracker.end_study(study)
    client = MlflowClient(tracking_uri=uri)
    parent = study.user_attrs[PARENT_RUN_ATTR]
    runs = {int(r.data.tags["optuna.trial_number"]): r for r in iter_child_runs(client, parent)}
    assert len(runs) == 3
    hist = client.get_metric_history(runs[0].info.run_id, "intermediate_value")
    assert [m.step for m in sorted(hist, key=lambda m: m.step)] == [0, 1]
    assert runs[2].info.status == "KILLED"
    assert runs[0].info.status == "FINISHED"


def test_a_run_whose_id_never_reached_the_trial_is_killed_not_doubled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    study = optuna.create_study(study_name="orphan")
    dying = MLflowTracker(uri, experiment="orphan")
    trial = study.ask()
    storage = study._storage
    real = storage.set_trial_system_attr

    def killed_before_recording(trial_id, key, value):  # type: ignore[no-untyped-def]
        if key == CHILD_RUN_ATTR:
            raise SystemExit("worker killed")  # the run exists; the trial never learns its id
        return real(trial_id, key, value)

    monkeypatch.setattr(storage, "set_trial_system_attr", killed_before_recording)
    with pytest.raises(SystemExit):
        dying.trial_started(trial, {"x": 0.5})
    monkeypatch.setattr(storage, "set_trial_system_attr", real)
    storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
    other = MLflowTracker(uri, experiment="orphan")  # another worker fails the stale trial
    other.stale_trial_callback()(study, study.trials[-1])
    client = MlflowClient(tracking_uri=uri)
    runs = iter_child_runs(client, study.user_attrs[PARENT_RUN_ATTR])
    assert [r.info.status for r in runs] == ["KILLED"]


def test_a_second_tracker_reuses_the_parent_from_the_study(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    study = optuna.create_study(study_name="shared")
    first = MLflowTracker(uri, experiment="shared").parent_run_id(study)
    second = MLflowTracker(uri, experiment="shared").parent_run_id(study)
    assert first is not None and first == second


def test_tracking_errors_never_fail_a_trial(tmp_path: Path) -> None:
    class Broken:
        def __getattr__(self, name: str) -> object:
            raise ConnectionError("mlflow is down")

    tracker = MLflowTracker(f"sqlite:///{tmp_path / 'm.db'}")
    tracker._client = Broken()  # type: ignore[assignment]
    study = optuna.create_study()
    tracker.start_study(study, tags={"strategy": "random"})
    hook_objective = FakeObjective(tracker)
    study.optimize(hook_objective, n_trials=1, callbacks=[tracker])
    assert study.trials[0].state == optuna.trial.TrialState.COMPLETE
    assert tracker.end_study(study) is None


def test_key_and_value_helpers() -> None:
    assert sanitize_key("dcn:num_cross_layers") == "dcn_num_cross_layers"
    assert sanitize_key("/a//../b") == "a/b"
    assert len(sanitize_key("k" * 400)) == 250
    assert truncate_value("abc", limit=10) == "abc"
    cut = truncate_value("x" * 50, limit=20)
    assert len(cut) == 20 and cut.endswith(TRUNCATION_MARKER)
    assert truncate_value({"a": [1, 2]}) == '{"a": [1, 2]}'


def test_default_tracking_uri_is_sqlite_in_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert MLflowTracker().resolved_tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://example:5000")
    assert MLflowTracker().resolved_tracking_uri == "http://example:5000"
    assert MLflowTracker("sqlite:///x.db").resolved_tracking_uri == "sqlite:///x.db"


def _worker(journal: str, uri: str, experiment: str, n_trials: int) -> None:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(journal))
    study = optuna.load_study(study_name="shared", storage=storage)
    tracker = MLflowTracker(uri, experiment=experiment)

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        tracker.trial_started(trial, {"x": x})
        tracker.step_reported(trial, 1, {"valid_auc": x})
        return x

    study.optimize(objective, n_trials=n_trials, callbacks=[tracker])


def test_worker_processes_nest_under_one_parent_in_its_experiment(tmp_path: Path) -> None:
    import multiprocessing

    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    journal = str(tmp_path / "journal.log")
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    MLflowTracker(uri, experiment="w0").experiment_id  # NOTE: create the store up front
    storage = JournalStorage(JournalFileBackend(journal))
    study = optuna.create_study(study_name="shared", storage=storage, direction="maximize")
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_worker, args=(journal, uri, f"w{i}", 3)) for i in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    study = optuna.load_study(study_name="shared", storage=storage)
    parent = study.user_attrs[PARENT_RUN_ATTR]
    client = MlflowClient(tracking_uri=uri)
    parent_exp = client.get_run(parent).info.experiment_id
    children = iter_child_runs(client, parent)
    assert len(children) == 6
    assert {c.info.experiment_id for c in children} == {parent_exp}
    assert {c.info.run_id for c in children} == {
        t.system_attrs[CHILD_RUN_ATTR] for t in study.trials
    }
    # at most one live parent run for the study across both experiments
    live = [
        r
        for e in ("w0", "w1")
        if (exp := client.get_experiment_by_name(e)) is not None
        for r in client.search_runs([exp.experiment_id], "tags.`recsearch.role` = 'study'")
    ]
    assert [r.info.run_id for r in live] == [parent]


def test_best_model_option_logs_an_mlflow_pytorch_model(tmp_path: Path) -> None:
    import torch

    torch.set_num_threads(1)
    seen: list[int] = []

    def build(trial: optuna.trial.FrozenTrial) -> torch.nn.Module:
        seen.append(trial.number)
        return torch.nn.Linear(2, 1)

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    tracker = MLflowTracker(uri, experiment="model", best_model=build)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=3, callbacks=[tracker])
    parent = tracker.end_study(study)
    assert parent is not None and seen == [study.best_trial.number]
    client = MlflowClient(tracking_uri=uri)
    names = {a.path for a in client.list_artifacts(parent, "best_model")}
    assert "best_model/MLmodel" in names
    assert client.get_run(parent).data.tags["best_model.trial"] == str(study.best_trial.number)


@pytest.mark.parametrize("interval", [0.0, 3600.0])
def test_step_metrics_are_live_or_batched(tmp_path: Path, interval: float) -> None:
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    tracker = MLflowTracker(uri, experiment="live", flush_interval=interval)
    client = MlflowClient(tracking_uri=uri)
    seen_during: list[int] = []

    def objective(trial: optuna.Trial) -> float:
        tracker.trial_started(trial, {"x": 1})
        tracker.step_reported(trial, 1, {"valid_auc": 0.6})
        run_id = study._storage.get_trial_system_attrs(trial._trial_id)[CHILD_RUN_ATTR]
        seen_during.append(len(client.get_metric_history(run_id, "valid_auc")))
        return 0.6

    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=1, callbacks=[tracker])
    run_id = study.trials[0].system_attrs[CHILD_RUN_ATTR]
    assert seen_during == [1 if interval == 0 else 0]
    assert len(client.get_metric_history(run_id, "valid_auc")) == 1  # flushed at the end


def test_end_study_closes_runs_of_exceptions_that_escaped_optimize(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    tracker = MLflowTracker(uri, experiment="escaped")
    study = optuna.create_study()

    def objective(trial: optuna.Trial) -> float:
        tracker.trial_started(trial, {"x": 1})
        tracker.trial_ended(trial, {}, "RuntimeError: out of memory")
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        study.optimize(objective, n_trials=1, callbacks=[tracker])  # no catch: no callback
    run_id = study.trials[0].system_attrs[CHILD_RUN_ATTR]
    client = MlflowClient(tracking_uri=uri)
    assert client.get_run(run_id).info.status == "RUNNING"
    assert client.get_run(run_id).data.tags["failure"] == "RuntimeError: out of memory"
    tracker.end_study(study)
    run = client.get_run(run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["failure"] == "RuntimeError: out of memory"
