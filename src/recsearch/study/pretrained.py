"""The source model of a fine-tuning space (``autoft``): produce it, load it safely, check it.

``recsearch pretrain`` trains a space's base model (the ``autoft`` preset's: DeepFM) from
scratch on a data set (usually a source domain, ``--dataset-option domain=source``) and saves
its ``state_dict`` with ``torch.save``, beside a JSON record of the schema it was trained on
(``<out>.schema.json``). ``--pretrained PATH|URI`` then names the source model on **each
process's own command line** (``run``, ``create``, ``worker``, ``compare``, ``retrain``), like
``--dataset-path``:

- a local file: a ``state_dict`` saved with ``torch.save`` (read with ``weights_only=True``:
  tensors only, never an arbitrary pickle), or a ``.safetensors`` file when the ``safetensors``
  package is installed;
- an MLflow model URI (``models:/name/version``, ``models:/name@alias``, ``runs:/id/path``): the
  artifacts are downloaded and only the weights file of a recsearch model
  (``artifacts/weights.pt``, :mod:`recsearch.objectives.deploy`) is read, again with
  ``weights_only=True``; the pyfunc model itself is never unpickled.

A study stores only the model's :func:`fingerprint` (``StudySettings.pretrained``), never a
path to load from, so a worker loads only what its own command line names, and one given a
different model (or none) is refused. A model whose tables do not fit the data set is refused
naming them (and the fields whose vocabularies differ, when the schema record is known).

Example:
    >>> source = load("source.pt")  # doctest: +SKIP
    >>> source.fingerprint  # doctest: +SKIP
    'b4f0c2...'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from recsearch.errors import InvalidParameterError
from recsearch.redact import redact

if TYPE_CHECKING:
    from ConfigSpace import ConfigurationSpace

    from recsearch.data.schema import Dataset
    from recsearch.study.settings import StudySettings

__all__ = [
    "Pretrained",
    "add_pretrained_argument",
    "check_pretrained",
    "fingerprint",
    "load",
    "pretrain",
]

FINETUNE_SECTION = "ft"
"""The space section of a fine-tuning space (the ``autoft`` preset's ``ft.*`` parameters)."""
SCHEMA_SUFFIX = ".schema.json"
"""The schema record ``recsearch pretrain`` writes beside its state file."""
_URI_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/")
_HOW = ("give it with --pretrained PATH|URI (a state dict saved by `recsearch pretrain`, or an "
        "MLflow model URI models:/NAME/VERSION or runs:/RUN_ID/model)")  # fmt: skip


@dataclass(frozen=True)
class Pretrained:
    """A loaded source model.

    Attributes:
        ref: What the command line named (a path or a URI, shown redacted in messages).
        state: The ``state_dict`` (tensors on the CPU).
        fingerprint: :func:`fingerprint` of ``state``.
        schema: The schema record it was trained on (:func:`recsearch.study.settings.
            schema_record`), when known (``{}`` otherwise).
    """

    ref: str
    state: Mapping[str, Any] = field(repr=False)
    fingerprint: str
    schema: Mapping[str, Any] = field(default_factory=dict, repr=False)


def fingerprint(state: Mapping[str, Any]) -> str:
    """sha256 of every tensor's name, dtype, shape and values (16 hex digits).

    Example:
        >>> import torch
        >>> a = fingerprint({"w": torch.zeros(2)})
        >>> a == fingerprint({"w": torch.zeros(2)}), a == fingerprint({"w": torch.ones(2)})
        (True, False)
    """
    import torch

    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(json.dumps([name, str(t.dtype), list(t.shape)]).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def _read_state(path: Path) -> dict[str, Any]:
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise InvalidParameterError(
                f"{path}: a .safetensors file needs the 'safetensors' package (pip install "
                "safetensors), or save the state with torch.save(model.state_dict(), PATH)"
            ) from None
        try:
            return dict(load_file(str(path), device="cpu"))
        except Exception as exc:  # noqa: BLE001 - a broken file is the same user error
            raise InvalidParameterError(f"{path}: not a safetensors file ({exc})") from None
    from recsearch.objectives.model import read_state

    return read_state(path)


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidParameterError(f"{path}: not a JSON schema record ({exc})") from None
    return dict(data) if isinstance(data, Mapping) else {}


def _from_mlflow(uri: str) -> tuple[dict[str, Any], dict[str, Any]]:
    import mlflow

    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except Exception as exc:  # noqa: BLE001 - any MLflow failure: name the URI, say why
        raise InvalidParameterError(
            f"--pretrained {redact(uri)}: MLflow could not download it ({type(exc).__name__}: "
            f"{exc})"
        ) from None
    weights = local / "artifacts" / "weights.pt"
    if not weights.is_file():
        found = sorted(p.name for p in local.rglob("*.pt"))
        raise InvalidParameterError(
            f"--pretrained {redact(uri)}: not a recsearch model (no artifacts/weights.pt in "
            f"it{'; .pt files: ' + ', '.join(found) if found else ''}); log it with "
            "recsearch.objectives.deploy.log_model or give a state dict file"
        )
    record = _read_json(local / "artifacts" / "schema.json")
    schema = {}
    if record.get("fields"):
        schema = {"label": record.get("label"),
                  "fields": [[f["name"], f["kind"], int(f["vocab_size"])]
                             for f in record["fields"]]}  # fmt: skip
    return _read_state(weights), schema


def load(ref: str | Path | Pretrained) -> Pretrained:
    """Load the source model a command line names (module docstring), safely.

    Raises:
        InvalidParameterError: The file is missing or holds something other than tensors, the
            URI cannot be downloaded or is not a recsearch model.
    """
    if isinstance(ref, Pretrained):
        return ref
    text = str(ref)
    if text.startswith(_URI_SCHEMES):
        state, schema = _from_mlflow(text)
    else:
        path = Path(text).expanduser().resolve()
        if not path.is_file():
            raise InvalidParameterError(f"--pretrained {path}: no such file; {_HOW}")
        text = str(path)
        state = _read_state(path)
        record = _read_json(path.with_name(path.name + SCHEMA_SUFFIX))
        schema = dict(record.get("schema") or {})
    state = {k: v.detach().cpu() for k, v in state.items()}
    return Pretrained(text, state, fingerprint(state), schema)


def fine_tunes(space: ConfigurationSpace) -> bool:
    """Whether ``space`` fine-tunes a pre-trained model (it has an ``ft`` section)."""
    from recsearch.spaces.decode import sections

    return FINETUNE_SECTION in sections(space)


def check_pretrained(
    settings: StudySettings,
    given: Pretrained | None,
    dataset: Dataset,
    space: ConfigurationSpace,
) -> None:
    """Refuse a missing, different or ill-fitting source model, naming what is wrong.

    Raises:
        InvalidParameterError: The space needs a source model and none was given, one was given
            for a space that trains from scratch, or its tables do not fit the data set (named).
        StudyMismatchError: The study was made with another source model (or with none).
    """
    from recsearch.study.settings import StudyMismatchError

    recorded = settings.pretrained
    if given is None:
        if recorded:
            raise InvalidParameterError(
                f"study on space {settings.space!r} fine-tunes a pre-trained model "
                f"(fingerprint {recorded}); this process was given none: {_HOW}"
            )
        if fine_tunes(space):
            raise InvalidParameterError(
                f"space {settings.space!r} fine-tunes a pre-trained source model, and none was "
                f"given: {_HOW}"
            )
        return
    if not fine_tunes(space):
        raise InvalidParameterError(
            f"--pretrained {redact(given.ref)}: space {settings.space!r} trains from scratch; "
            "only a fine-tuning space (autoft) starts from a pre-trained model"
        )
    if recorded and recorded != given.fingerprint:
        raise StudyMismatchError(
            f"--pretrained {redact(given.ref)} (fingerprint {given.fingerprint}) is not the "
            f"model the study was created with (fingerprint {recorded}); give every worker the "
            "same source model"
        )
    _check_fits(given, dataset, space)


def _check_fits(given: Pretrained, dataset: Dataset, space: ConfigurationSpace) -> None:
    from recsearch.objectives.model import CTRModel
    from recsearch.spaces import decode
    from recsearch.study.settings import schema_record

    spec = decode(space.get_default_configuration(), dataset.schema).replace(finetune=None)
    own = CTRModel(spec, dataset.schema).state_dict()
    state = given.state
    wrong = [
        f"{k} {tuple(state[k].shape)} in the model vs {tuple(v.shape)} for the data set"
        for k, v in own.items() if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]  # fmt: skip
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if not (wrong or missing or extra):
        return
    parts = [f"tables {'; '.join(wrong[:3])}"] if wrong else []
    if missing:
        parts.append(f"tables it lacks: {', '.join(missing[:4])}")
    if extra:
        parts.append(f"tables this model has none of: {', '.join(extra[:4])}")
    fields = _field_changes(given.schema, schema_record(dataset.schema))
    if fields:
        parts.append(f"fields that differ from the schema it was trained on: {fields}")
    raise InvalidParameterError(
        f"--pretrained {redact(given.ref)} does not fit data set {dataset.name!r} (the "
        f"{spec.name} base model on its schema): " + " | ".join(parts)
    )


def _field_changes(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> str:
    """``name (N values, here M)`` for each field whose kind or size changed (short)."""
    if not recorded:
        return ""
    old = {f[0]: f for f in recorded.get("fields", [])}
    new = {f[0]: f for f in current.get("fields", [])}
    out = [f"{n} (absent here)" for n in old if n not in new]
    out += [f"{n} (new here)" for n in new if n not in old]
    out += [f"{n} ({old[n][2]} values, here {new[n][2]})" for n in old
            if n in new and list(old[n]) != list(new[n])]  # fmt: skip
    return ", ".join(out[:8]) + (f" and {len(out) - 8} more" if len(out) > 8 else "")


def pretrain(
    dataset: Dataset,
    out: str | Path,
    *,
    space: str = "autoft",
    seed: int = 0,
    budget_epochs: float = 20.0,
    patience: int = 3,
    device: str = "auto",
) -> tuple[Pretrained, Any]:
    """Train ``space``'s base model from scratch on ``dataset`` and save its state to ``out``.

    The training is the retrain stage's (:func:`recsearch.objectives.final.train_final`: up to
    ``budget_epochs``, early stopping on validation AUC, the best weights kept). ``out`` gets the
    ``state_dict`` (``torch.save``) and ``<out>.schema.json`` the schema record and the spec.

    Returns:
        The saved model (as :func:`load` reads it) and the
        :class:`~recsearch.objectives.final.FinalResult`.

    Raises:
        InvalidParameterError: The space does not fine-tune, or bad budget values.
    """
    import torch

    from recsearch import spaces
    from recsearch.objectives.final import train_final
    from recsearch.study.settings import schema_record

    cs = spaces.preset(space, dataset.schema)
    if not fine_tunes(cs):
        raise InvalidParameterError(
            f"recsearch pretrain trains the base of a fine-tuning space (autoft); {space!r} "
            "trains from scratch"
        )
    spec = spaces.decode(cs.get_default_configuration(), dataset.schema).replace(finetune=None)
    final = train_final(spec, dataset, seed=seed, budget_epochs=budget_epochs, patience=patience,
                        device=device, keep_model=True)  # fmt: skip
    assert final.result.model is not None
    state = {k: v.detach().cpu().clone() for k, v in final.result.model.state_dict().items()}
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    record = {"schema": schema_record(dataset.schema), "spec": spec.to_dict(),
              "dataset": dataset.name, "fingerprint": fingerprint(state)}  # fmt: skip
    path.with_name(path.name + SCHEMA_SUFFIX).write_text(json.dumps(record, indent=1))
    return load(path), final


# ---------------------------------------------------------------------------------------------
# Command line (``recsearch pretrain``; cli.py calls these)


def add_pretrained_argument(p: Any) -> None:
    """``--pretrained PATH|URI``: this process's source model (never read from a study)."""
    p.add_argument("--pretrained", default=None, metavar="PATH|URI",
                   help="source model of a fine-tuning space (autoft): a state dict file "
                   "(`recsearch pretrain --out`) or an MLflow model URI; give it to every "
                   "worker, the study keeps only its fingerprint")  # fmt: skip


def add_arguments(p: Any) -> None:
    """The options of ``recsearch pretrain`` (the data set options are cli.py's)."""
    p.add_argument("--out", required=True, help="the state dict file to write (e.g. source.pt)")
    p.add_argument("--space", default="autoft", help="the fine-tuning space whose base is trained")
    p.add_argument("--budget-epochs", type=float, default=20.0,
                   help="up to this many epochs, early stopping on valid AUC")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")


def run_from_args(args: Any, dataset_options: Mapping[str, Any]) -> int:
    """Run ``recsearch pretrain``; prints the scores and the next command."""
    from recsearch import data

    dataset = data.load(args.dataset, **dict(dataset_options))
    saved, final = pretrain(dataset, args.out, space=args.space, seed=args.seed,
                            budget_epochs=args.budget_epochs, device=args.device)  # fmt: skip
    r = final.result
    print(f"pretrained the {args.space} base on {dataset.name} ({len(dataset.train)} training "
          f"rows): valid AUC {r.valid_auc:.4f}, test AUC {r.test_auc:.4f}, best epoch "
          f"{r.best_step:g}")  # fmt: skip
    print(f"saved {saved.ref} (fingerprint {saved.fingerprint}) and its schema record")
    target = (f"--dataset {args.dataset} --dataset-option domain=target"
              if dataset_options.get("domain") == "source" else "--dataset TARGET")  # fmt: skip
    print(f"next: recsearch run {target} --space {args.space} --strategy tpe --pretrained "
          f"{saved.ref}")  # fmt: skip
    return 0
