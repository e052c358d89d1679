"""What a study is: its settings, their identity and name, and the data set's schema record.

A recsearch study is an ordinary Optuna study whose user attribute ``recsearch``
(:data:`STUDY_ATTR`) holds :class:`StudySettings` as a dict: everything a worker needs to rebuild
the study's components (:mod:`recsearch.study.components`) on any machine.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal
from typing import get_args

from recsearch.errors import InvalidParameterError
from recsearch.errors import RecsearchError
from recsearch.redact import redact_options
from recsearch.redact import remember

if TYPE_CHECKING:
    from recsearch.data.schema import Schema

__all__ = [
    "KINDS",
    "STUDY_ATTR",
    "StudyKind",
    "StudyMismatchError",
    "StudySettings",
    "default_study_name",
    "default_tracking_uri",
    "make_settings",
    "schema_difference",
    "schema_fingerprint",
    "schema_record",
]

STUDY_ATTR = "recsearch"
"""The study user attribute holding :class:`StudySettings` as a dict."""

StudyKind = Literal["search", "retrain", "fidelity"]
"""``search`` samples configurations; the others run enqueued cells only (queue-only)."""
KINDS: tuple[str, ...] = get_args(StudyKind)

MetricName = Literal["auc", "logloss"]
METRICS: tuple[str, ...] = get_args(MetricName)

# NOTE: fields added after studies were stored. Left out of the identity while they hold their
# default, so an old study keeps its name and resumes under the same command.
_LATE_DEFAULTS: dict[str, Any] = {
    "kind": "search", "kind_options": {}, "budget_total": None, "recipe": {}, "pretrained": "",
}
_NOT_IDENTITY = ("tracking_uri", "experiment", "version", "schema_fingerprint", "schema")


class StudyMismatchError(RecsearchError, ValueError):
    """An existing study was created with other settings or another data set schema."""


@dataclass(frozen=True)
class StudySettings:
    """What a worker needs to rebuild a study's objective, stored in the study's user attributes.

    Attributes:
        dataset: A name for :func:`recsearch.data.load`, a file path, or ``module:callable``.
        dataset_options: Keyword options of the loader (``path`` for ``--dataset-path``).
        space: A preset name of :func:`recsearch.spaces.preset` or ``module:callable(schema)``.
        strategy: A name of :func:`recsearch.strategies.create` or ``module:callable``.
        strategy_options: Keyword options of the strategy.
        n_trials: Target number of counted (complete or pruned) trials.
        budget_epochs: Training budget of one trial in epochs.
        seed: Base seed (worker ``i`` seeds its sampler with ``seed + 1000 * i``).
        metric: Validation metric the objective optimises.
        objective: ``ctr`` (the kind's objective in
            :data:`recsearch.study.components.KIND_OBJECTIVES`) or ``module:callable`` with the
            same signature.
        cost: A cost measure as a second objective (multi-objective), or ``None``.
        kind: ``search`` samples new configurations until ``n_trials``; ``retrain`` and
            ``fidelity`` studies are queue-only: workers run the enqueued trials and stop.
        kind_options: Kind-specific JSON (retrain cells, fidelity budgets).
        budget_total: Stop once the finished trials' epoch-equivalents reach it (a comparison
            cell); ``None``: only ``n_trials`` counts.
        recipe: :meth:`recsearch.objectives.recipe.Recipe.to_dict` of the training recipe a
            search's trials use (identity: a resumed study never mixes recipes); ``{}`` in
            studies made before it: the code's default recipe.
        pretrained: :func:`recsearch.study.pretrained.fingerprint` of the source model a
            fine-tuning space (``autoft``) starts from, ``""`` for none. Only the fingerprint: each
            worker loads the model its own ``--pretrained`` names, and a different one is refused.
        schema_fingerprint: :func:`schema_fingerprint` of the data set at creation.
        schema: :func:`schema_record` of the data set at creation (names a mismatch).
        tracking_uri: MLflow tracking URI, or ``None`` for no tracking.
        experiment: MLflow experiment name.
        version: recsearch version that created the study.

    Example:
        >>> s = StudySettings(dataset="synthetic", space="autofis", strategy="tpe", n_trials=20)
        >>> StudySettings.from_dict(s.to_dict()) == s
        True
        >>> StudySettings.from_dict({**s.to_dict(), "kind": None}).kind
        'search'
    """

    dataset: str
    space: str
    strategy: str
    n_trials: int
    dataset_options: Mapping[str, Any] = field(default_factory=dict)
    strategy_options: Mapping[str, Any] = field(default_factory=dict)
    budget_epochs: float = 1.0
    seed: int = 0
    metric: MetricName = "auc"
    objective: str = "ctr"
    cost: str | None = None
    kind: StudyKind = "search"
    kind_options: Mapping[str, Any] = field(default_factory=dict)
    budget_total: float | None = None
    recipe: Mapping[str, Any] = field(default_factory=dict)
    pretrained: str = ""
    schema_fingerprint: str = ""
    schema: Mapping[str, Any] = field(default_factory=dict)
    tracking_uri: str | None = None
    experiment: str = "recsearch"
    version: str = ""

    @property
    def queue_only(self) -> bool:
        """Whether workers run enqueued trials only (every kind but ``search``)."""
        return self.kind != "search"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        out = dataclasses.asdict(self)
        for key in ("dataset_options", "strategy_options", "kind_options", "schema", "recipe"):
            out[key] = dict(getattr(self, key))
        out["tracking_uri"] = remember(self.tracking_uri)  # stored settings hold no secret
        return json.loads(json.dumps(out, default=str))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudySettings:
        """The inverse of :meth:`to_dict`; unknown keys (a newer recsearch) are ignored.

        Keys a study stored before they existed (or stored as ``null``) take their defaults.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in data.items() if k in names}
        for key in ("kind", "kind_options", "schema", "recipe", "pretrained"):
            if kept.get(key) is None:
                kept.pop(key, None)
        return cls(**kept)

    def identity(self) -> dict[str, Any]:
        """The settings that must agree when a study is resumed (not tracking or version)."""
        out = self.to_dict()
        for key in _NOT_IDENTITY:
            out.pop(key)
        for key, default in _LATE_DEFAULTS.items():
            if out[key] == default:
                out.pop(key)
        return out


def is_ref(name: str) -> bool:
    """Whether ``name`` is a ``module:callable`` reference (not a path or a registry name).

    Example:
        >>> is_ref("my_pkg.data:load"), is_ref("C:/data.csv"), is_ref("movielens-100k")
        (True, False, False)
    """
    module, sep, attr = name.partition(":")
    plain = module.replace(".", "").replace("_", "a")
    return bool(sep and module and attr and "/" not in name and plain.isidentifier())


def default_study_name(settings: StudySettings) -> str:
    """A stable name from the settings, so rerunning the same command resumes the same study.

    Example:
        >>> default_study_name(StudySettings("synthetic", "autofis", "tpe", 20))[:22]
        'synthetic-autofis-tpe-'
    """
    digest = hashlib.sha256(
        json.dumps(settings.identity(), sort_keys=True, default=str).encode()
    ).hexdigest()[:8]

    def short(name: str) -> str:
        name = name.rsplit(":", 1)[-1] if is_ref(name) else name
        return Path(name).stem if "/" in name else name

    parts = (short(settings.dataset), short(settings.space), short(settings.strategy))
    kind = "" if settings.kind == "search" else f"{settings.kind}-"
    return kind + "-".join(parts) + f"-s{settings.seed}-{digest}"


def schema_record(schema: Schema) -> dict[str, Any]:
    """The label and each field's name, kind and vocabulary size, as stored in the settings.

    Example:
        >>> from recsearch.data import Field, Schema
        >>> schema_record(Schema("y", (Field("a", "categorical", 3),)))
        {'label': 'y', 'fields': [['a', 'categorical', 3]]}
    """
    return {
        "label": schema.label,
        "fields": [[f.name, f.kind, int(f.vocab_size)] for f in schema.fields],
    }


def schema_fingerprint(schema: Schema) -> str:
    """A short hash of :func:`schema_record`.

    Example:
        >>> from recsearch.data import Field, Schema
        >>> len(schema_fingerprint(Schema("y", (Field("a", "categorical", 3),))))
        16
    """
    record = schema_record(schema)
    payload = [record["label"], [tuple(f) for f in record["fields"]]]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:16]


def schema_difference(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> str:
    """The first differences between two :func:`schema_record` dicts, in words ('' if none).

    Example:
        >>> a = {"label": "y", "fields": [["u", "categorical", 3]]}
        >>> schema_difference(a, {"label": "y", "fields": [["u", "categorical", 4]]})
        'field u: categorical with 3 values (recorded) != categorical with 4 values'
    """
    if not recorded or not current:
        return ""
    out = []
    if recorded.get("label") != current.get("label"):
        out.append(f"label {recorded.get('label')!r} (recorded) != {current.get('label')!r}")
    old = {f[0]: f for f in recorded.get("fields", [])}
    new = {f[0]: f for f in current.get("fields", [])}
    for name in [*old, *(n for n in new if n not in old)]:
        a, b = old.get(name), new.get(name)
        if a is None:
            out.append(f"field {name}: new")
        elif b is None:
            out.append(f"field {name}: missing")
        elif list(a) != list(b):
            out.append(
                f"field {name}: {a[1]} with {a[2]} values (recorded) != {b[1]} with {b[2]} values"
            )
    shown = "; ".join(out[:5])
    return shown + (f"; and {len(out) - 5} more" if len(out) > 5 else "")


def default_tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` when set, else ``sqlite:///<cwd>/mlflow.db``."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{Path('mlflow.db').resolve()}"


def make_settings(**fields: Any) -> StudySettings:
    """Checked :class:`StudySettings` from :func:`recsearch.study.create_study`'s arguments.

    ``tracking_uri="default"`` (the default) becomes :func:`default_tracking_uri`; a data set that
    is a file is recorded by its full path; mappings are copied; the version is recorded.

    Raises:
        InvalidParameterError: A count, budget, metric or kind out of range.
    """
    from recsearch import __version__
    from recsearch.objectives.recipe import Recipe
    from recsearch.study.callables import allow

    values: dict[str, Any] = {"tracking_uri": "default", **fields}
    # NOTE: named by this process's own call, so this process may import them (issue 14 #3)
    allow(*(values.get(k) for k in ("dataset", "space", "strategy", "objective")))
    n_trials, budget_epochs = values["n_trials"], values.get("budget_epochs", 1.0)
    budget_total = values.get("budget_total")
    metric, kind = values.get("metric", "auc"), values.get("kind", "search")
    if n_trials < 1:
        raise InvalidParameterError(f"The 'n_trials' parameter must be >= 1. Got {n_trials!r}.")
    if not 0 < budget_epochs < float("inf"):
        raise InvalidParameterError(
            f"The 'budget_epochs' parameter must be a finite number > 0. Got {budget_epochs!r}."
        )
    if budget_total is not None and not budget_total > 0:
        raise InvalidParameterError(
            f"The 'budget_total' parameter must be None or > 0. Got {budget_total!r}."
        )
    if metric not in METRICS:
        raise InvalidParameterError(
            f"The 'metric' parameter must be among {METRICS}. Got {metric!r} instead."
        )
    if kind not in KINDS:
        raise InvalidParameterError(
            f"The 'kind' parameter must be among {KINDS}. Got {kind!r} instead."
        )
    if values["tracking_uri"] == "default":
        values["tracking_uri"] = default_tracking_uri()
    dataset = values["dataset"]
    if not is_ref(dataset) and Path(dataset).exists():
        values["dataset"] = str(Path(dataset).resolve())  # a file: workers elsewhere need it
    for key in ("dataset_options", "strategy_options", "kind_options"):
        values[key] = json.loads(json.dumps(dict(values.get(key) or {}), default=str))
    # NOTE: settings are stored: secrets in loader options or a dataset URL never are.
    values["dataset_options"] = redact_options(values["dataset_options"])
    values["dataset"] = remember(values["dataset"])
    values.update(
        n_trials=int(n_trials),
        budget_epochs=float(budget_epochs),
        seed=int(values.get("seed", 0)),
        budget_total=None if budget_total is None else float(budget_total),
        recipe=Recipe.from_dict(values.get("recipe") or {}).to_dict() if kind == "search"
        else {},
        version=__version__,
    )
    return StudySettings(**values)
