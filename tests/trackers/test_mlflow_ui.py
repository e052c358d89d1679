"""The MLflow UI shows a tracked study: `mlflow server` on the SQLite store, headless Chromium.

The setup runs scripts/chromium.sh, which installs Debian's ``chromium`` when it is missing. The
MLflow UI is a JavaScript app, so the page is rendered with ``--dump-dom`` after a virtual time
budget. The REST API checks structure and metrics in full; the DOM checks that the parent run,
every child run and a child's metrics are on screen. A screenshot is kept in test-artifacts/.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest

from recsearch.trackers import MLflowTracker

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SERVER_START_TIMEOUT = 180.0


@pytest.fixture(scope="module")
def chromium() -> str:
    if os.environ.get("RECSEARCH_SKIP_UI") == "1":
        pytest.skip("RECSEARCH_SKIP_UI=1")
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "chromium.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert out.returncode == 0, f"scripts/chromium.sh failed:\n{out.stderr}"
    return out.stdout.strip().splitlines()[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("ui")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    tracker = MLflowTracker(uri, experiment="ui-test")
    study = optuna.create_study(
        study_name="ui-study", direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1)
    )
    tracker.start_study(study, tags={"strategy": "random", "space": "hpo"})

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("train.lr", 1e-4, 1e-1, log=True)
        tracker.trial_started(trial, {"train.lr": lr})
        auc = 0.6
        for step in range(1, 4):
            auc = 0.6 + 0.02 * step + 0.01 * trial.number
            tracker.step_reported(trial, step, {"valid_auc": auc, "valid_logloss": 0.7 - auc / 10})
        trial.set_user_attr("valid_auc", auc)
        return auc

    study.optimize(objective, n_trials=3, callbacks=[tracker])
    tracker.end_study(study)
    return {"root": root, "uri": uri, "experiment_id": tracker.experiment_id, "study": study}


@pytest.fixture(scope="module")
def server(store: dict[str, Any]) -> Iterator[str]:
    port = _free_port()
    log = open(store["root"] / "server.log", "w")  # noqa: SIM115
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            store["uri"],
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=store["root"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise AssertionError(
                    f"mlflow server exited: {(store['root'] / 'server.log').read_text()}"
                )
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("mlflow server did not answer /health in time")
            time.sleep(0.5)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # NOTE: the group this fixture started
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _api(url: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(
        f"{url}/api/2.0/mlflow/{path}",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def _render(chromium: str, url: str, profile: Path, *, screenshot: Path | None = None) -> str:
    args = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=25000",
        "--window-size=1600,1000",
    ]
    if screenshot is not None:
        args.append(f"--screenshot={screenshot}")
    out = subprocess.run(
        [*args, "--dump-dom", url], capture_output=True, text=True, timeout=240, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_rest_api_serves_parent_and_children_with_metrics(
    server: str, store: dict[str, Any]
) -> None:
    runs = _api(server, "runs/search", {"experiment_ids": [store["experiment_id"]]})["runs"]
    names = {r["info"]["run_name"]: r for r in runs}
    assert set(names) == {"ui-study", "ui-study-trial-0", "ui-study-trial-1", "ui-study-trial-2"}
    parent_id = names["ui-study"]["info"]["run_id"]
    for number in range(3):
        child = names[f"ui-study-trial-{number}"]
        tags = {t["key"]: t["value"] for t in child["data"]["tags"]}
        assert tags["mlflow.parentRunId"] == parent_id
        metrics = {m["key"]: m["value"] for m in child["data"]["metrics"]}
        assert metrics["valid_auc"] == pytest.approx(0.66 + 0.01 * number)
        assert child["info"]["status"] == "FINISHED"


def test_ui_shows_parent_children_and_metrics(
    chromium: str, server: str, store: dict[str, Any], tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "mlflow_ui_experiment.png"
    exp = store["experiment_id"]
    # NOTE: sorting by name flattens the nested runs, so every child row is rendered.
    page = f"{server}/#/experiments/{exp}/runs?orderByKey=attributes.run_name&orderByAsc=true"
    dom = _render(chromium, page, tmp_path / "profile1", screenshot=shot)
    for name in ("ui-study", "ui-study-trial-0", "ui-study-trial-1", "ui-study-trial-2"):
        assert f">{name}<" in dom, f"run {name} is not on the experiment page"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    study = store["study"]
    child = study.trials[2].system_attrs["mlflow_run_id"]
    run_page = f"{server}/#/experiments/{exp}/runs/{urllib.parse.quote(child)}"
    run_shot = ARTIFACTS / "mlflow_ui_trial_run.png"
    dom = _render(chromium, run_page, tmp_path / "profile2", screenshot=run_shot)
    assert "ui-study-trial-2" in dom
    assert "valid_auc" in dom and "valid_logloss" in dom
    assert f"{study.trials[2].value:.2f}" in dom  # the final valid_auc value
