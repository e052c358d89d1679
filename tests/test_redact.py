"""Issue 14 #5: no secret in any URL recsearch shows, logs or stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _scale_support import mlflow_store
from _scale_support import mlflow_template  # noqa: F401 - fixture
from _scale_support import postgres_url  # noqa: F401 - fixture
from _scale_support import standin_cli_args
from recsearch import cli
from recsearch import redact as rd
from recsearch import runner
from recsearch.study.tracking import make_tracker

SECRET = "PLANTEDs3cret"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://me:pw@db:5432/rs", "postgresql+psycopg://me:***@db:5432/rs"),
        ("postgresql://me@db/rs", "postgresql://me@db/rs"),  # a user name alone is no secret
        ("https://tok@mlflow.example.com", "https://***@mlflow.example.com"),
        ("sqlite:////s.db?password=pw&timeout=5", "sqlite:////s.db?password=***&timeout=5"),
        ("http://h:5000/?api_key=k&Token=t&x=1", "http://h:5000/?api_key=***&Token=***&x=1"),
        ("sqlite:////abs/s.db", "sqlite:////abs/s.db"),
        ("journal:/data/j.log", "journal:/data/j.log"),
        ("/data/j.log", "/data/j.log"),
    ],
)
def test_redact_masks_user_info_and_password_like_parameters(url: str, shown: str) -> None:
    assert rd.redact(url) == shown
    assert rd.redact(shown) == shown


def test_redact_text_masks_every_url_and_libpq_pair() -> None:
    text = (f"connection to 'postgresql://u:{SECRET}@h:1/db?sslpassword={SECRET}' failed: "
            f"host=h password={SECRET} dbname=db")  # fmt: skip
    out = rd.redact_text(text)
    assert SECRET not in out
    assert "'postgresql://u:***@h:1/db?sslpassword=***' failed" in out
    assert "password=*** dbname=db" in out


def test_a_redacted_url_resolves_to_the_real_one_or_loses_its_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = f"postgresql://me:{SECRET}@db/rs"
    monkeypatch.setattr(rd, "_KNOWN", {})
    shown = rd.redact(real)
    monkeypatch.delenv("RECSEARCH_STORAGE", raising=False)
    assert rd.usable_url(shown, env="RECSEARCH_STORAGE") == "postgresql://me@db/rs"  # .pgpass
    monkeypatch.setenv("RECSEARCH_STORAGE", real)
    assert rd.usable_url(shown, env="RECSEARCH_STORAGE") == real
    monkeypatch.setenv("RECSEARCH_STORAGE", "postgresql://other:x@elsewhere/rs")
    assert rd.usable_url(shown, env="RECSEARCH_STORAGE") == "postgresql://me@db/rs"
    assert rd.remember(real) == shown
    assert rd.usable_url(shown, env="RECSEARCH_STORAGE") == real  # given to this process
    assert rd.secret_env(shown, None) == {"RECSEARCH_STORAGE": real}


def test_stored_settings_hold_the_redacted_tracking_uri_and_workers_use_theirs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = f"http://u:{SECRET}@127.0.0.1:5000"
    settings = runner.StudySettings("synthetic", "hpo", "random", 1, tracking_uri=real)
    stored = runner.StudySettings.from_dict(settings.to_dict())
    assert stored.tracking_uri == "http://u:***@127.0.0.1:5000"
    monkeypatch.setattr(rd, "_KNOWN", {})  # a worker on another machine
    monkeypatch.setenv("MLFLOW_TRACKING_URI", real)
    monkeypatch.setattr("recsearch.study.reach.check_tracking", lambda uri: None)  # no server
    tracker = make_tracker(stored, None)
    assert tracker is not None and tracker.tracking_uri == real


def test_a_planted_password_appears_in_no_output_journal_or_mlflow_store(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    mlflow_template: Path,  # noqa: F811
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECSEARCH_TEST_TRIAL_S", "0.0")
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    tracking = mlflow_store(mlflow_template, tmp_path) + f"?password={SECRET}"
    shown: list[str] = []

    def main(*args: str) -> int:
        code = cli.main(list(args))
        shown.extend(capsys.readouterr())
        return code

    assert main("run", *standin_cli_args(), "--trials", "2", "--storage", "journal:j.log",
                "--study", "s", "--tracking-uri", tracking, "--no-progress") == 0  # fmt: skip
    sqlite = f"sqlite:///{tmp_path / 's.db'}?password={SECRET}"
    assert main("create", *standin_cli_args(), "--trials", "2", "--storage", sqlite,
                "--study", "t", "--tracking-uri", tracking) == 0  # fmt: skip
    assert main("best", "--study", "t", "--storage", sqlite.replace(SECRET, "***")) == 0
    bad = f"postgresql+psycopg://u:{SECRET}@127.0.0.1:1/db?password={SECRET}"
    assert main("worker", "--study", "s", "--storage", bad) == cli.EXIT_ERROR
    out = "\n".join(shown)
    assert "password=***" in out and "the password is not shown" in out
    assert SECRET not in out
    for store in ("j.log", "s.db", "mlflow.db"):
        assert SECRET.encode() not in (tmp_path / store).read_bytes(), store
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking)
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
    assert len(runs) >= 3  # the study's run and its trials
    for r in runs:
        assert SECRET not in repr(r.data.params) + repr(r.data.tags)


def test_postgres_password_is_never_shown_and_workers_find_it_themselves(
    postgres_url: str, tmp_path: Path  # noqa: F811
) -> None:
    """The issue's case: the `more workers:` hint printed the PostgreSQL password in full."""
    import subprocess
    from urllib.parse import urlsplit

    from _scale_support import fresh_database
    from _scale_support import recsearch_cmd
    from _scale_support import subprocess_env

    url = fresh_database(postgres_url, "redact_test")
    password = urlsplit(url).password
    assert password
    env = subprocess_env(RECSEARCH_TEST_TRIAL_S="0.0")
    env.pop("RECSEARCH_STORAGE", None)
    ran = subprocess.run(recsearch_cmd("run", *standin_cli_args(), "--trials", "3", "--workers",
                                       "2", "--storage", url, "--study", "pg", "--tracking-uri",
                                       "none", "--no-progress"),
                         env=env, capture_output=True, text=True, cwd=tmp_path,
                         timeout=300)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "3 complete" in ran.stdout
    assert password not in ran.stdout + ran.stderr
    shown = rd.redact(url)
    assert f"--storage '{shown}'" in ran.stdout and "the password is not shown" in ran.stdout
    # another machine: the redacted URL plus the password in ~/.pgpass (here PGPASSFILE)
    parts = urlsplit(url)
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"{parts.hostname}:{parts.port}:*:{parts.username}:{password}\n")
    pgpass.chmod(0o600)
    best = subprocess.run(recsearch_cmd("best", "--study", "pg", "--storage", shown, "--json"),
                          env={**env, "PGPASSFILE": str(pgpass)}, capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)  # fmt: skip
    assert best.returncode == 0, best.stderr
    assert password not in best.stdout + best.stderr


def test_loader_option_secrets_are_masked_in_settings_and_resolved_by_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from recsearch.errors import InvalidParameterError
    from recsearch.study.settings import make_settings

    url = f"https://{SECRET}@data.example.com/clicks.csv"
    options = {"path": url, "api_key": SECRET, "n_rows": 300}
    settings = make_settings(dataset="synthetic", space="hpo", strategy="random", n_trials=1,
                             dataset_options=options, tracking_uri=None)
    stored = json.dumps(settings.to_dict())
    assert SECRET not in stored
    assert settings.dataset_options == {
        "path": "https://***@data.example.com/clicks.csv", "api_key": "***", "n_rows": 300
    }
    assert rd.usable_options(settings.dataset_options) == options  # this process was given them
    monkeypatch.setattr(rd, "_KNOWN", {})  # a worker on another machine
    monkeypatch.setattr(rd, "_KNOWN_OPTIONS", {})
    with pytest.raises(InvalidParameterError, match="RECSEARCH_OPTION_API_KEY"):
        rd.usable_options(settings.dataset_options)
    monkeypatch.setenv("RECSEARCH_OPTION_API_KEY", SECRET)
    monkeypatch.setenv("RECSEARCH_OPTION_PATH", url)
    assert rd.usable_options(settings.dataset_options) == options
