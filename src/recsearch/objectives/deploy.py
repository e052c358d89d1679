"""A trained model as an MLflow model that scores raw rows, and the registry around it.

:class:`CTRPyfuncModel` is a custom ``mlflow.pyfunc.PythonModel`` whose artifacts are the torch
weights (a ``state_dict``, loaded with ``weights_only=True``), the spec and the schema as JSON,
and the data set's :class:`~recsearch.data.vocab.Encoder` (vocabularies and raw-row transform).
Loaded with ``mlflow.pyfunc.load_model``, it takes a pandas DataFrame of **raw** rows (the
loader's input columns; for MovieLens-100K the joined ``u.data``/``u.user``/``u.item``
columns), maps them as the loader did (unseen values to the out-of-vocabulary index) and returns
click probabilities. Loading needs recsearch installed (the class and the model code live here).

Example:
    >>> info = log_model(model, spec, dataset)  # doctest: +SKIP
    >>> mv = register(info.model_uri, "movielens-ctr")  # doctest: +SKIP
    >>> model = mlflow.pyfunc.load_model("models:/movielens-ctr@champion")  # doctest: +SKIP
    >>> model.predict(raw_rows)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import mlflow
import numpy as np
import torch

from recsearch.data.schema import Field
from recsearch.data.schema import Schema
from recsearch.data.vocab import Encoder
from recsearch.data.vocab import check_schema
from recsearch.data.vocab import encoder_of
from recsearch.errors import DataError
from recsearch.errors import InvalidParameterError

if TYPE_CHECKING:
    import pandas as pd

    from recsearch.data.schema import Dataset
    from recsearch.objectives.model import CTRModel
    from recsearch.spec import ModelSpec

__all__ = ["CHAMPION", "CTRPyfuncModel", "Registered", "log_model", "register"]

CHAMPION = "champion"
"""The registry alias the retrain stage gives its winner (MLflow 3 aliases, not stages)."""
_ARTIFACTS = ("weights", "spec", "schema", "encoder")


def schema_to_dict(schema: Schema) -> dict[str, Any]:
    """The schema as JSON: what :func:`build_model` reads of each field.

    Vocabulary sizes, training frequencies, numeric quantiles and history lengths.
    """
    return {
        "label": schema.label,
        "fields": [
            {"name": f.name, "kind": f.kind, "vocab_size": int(f.vocab_size),
             "frequencies": np.asarray(f.frequencies).tolist(),
             "quantiles": np.asarray(f.quantiles).tolist(), "max_len": int(f.max_len)}
            for f in schema.fields
        ],
    }  # fmt: skip


def schema_from_dict(data: dict[str, Any]) -> Schema:
    """The inverse of :func:`schema_to_dict`."""
    return Schema(
        data["label"],
        tuple(
            Field(f["name"], f["kind"], int(f["vocab_size"]),
                  np.asarray(f["frequencies"], dtype=np.int64),
                  np.asarray(f.get("quantiles", ()), dtype=np.float64),
                  int(f.get("max_len", 0)))
            for f in data["fields"]
        ),
    )  # fmt: skip


class CTRPyfuncModel(mlflow.pyfunc.PythonModel):
    """Scores raw rows with a trained recsearch model (module docstring).

    Example:
        >>> loaded = mlflow.pyfunc.load_model("models:/movielens-ctr/1")  # doctest: +SKIP
        >>> loaded.predict(raw_rows)  # doctest: +SKIP
        array([0.61, 0.32], dtype=float32)
    """

    def load_context(self, context: Any) -> None:
        """Rebuild the torch model from the weights, spec and schema artifacts."""
        from recsearch.objectives.model import build_model
        from recsearch.spec import ModelSpec

        arts = context.artifacts
        self._spec = ModelSpec.from_dict(json.loads(Path(arts["spec"]).read_text()))
        self._schema = schema_from_dict(json.loads(Path(arts["schema"]).read_text()))
        self._encoder = Encoder.from_dict(json.loads(Path(arts["encoder"]).read_text()))
        model = build_model(self._spec, self._schema)
        state = torch.load(arts["weights"], map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        self._model = model.eval()

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        """Click probabilities of raw rows (unseen values take the out-of-vocabulary index).

        Raises:
            DataError: Columns the rows need are missing (all of them named).
        """
        del context, params
        import pandas as pd

        if not isinstance(model_input, pd.DataFrame):
            model_input = pd.DataFrame(model_input)
        coded = self._encoder.encode(
            model_input, max_lens={f.name: f.max_len for f in self._schema.sequence}
        )
        batch = {
            "categorical": torch.from_numpy(coded["categorical"]),
            "numeric": torch.from_numpy(coded["numeric"]),
            "multi_hot": [torch.from_numpy(m) for m in coded["multi_hot"]],
            "sequence": [torch.from_numpy(m) for m in coded["sequence"]],
        }
        with torch.inference_mode():
            logit = self._model(batch)["logit"].float()
        return torch.sigmoid(logit).numpy()


def _signature(example: pd.DataFrame, encoder: Encoder, output: np.ndarray) -> Any:
    from mlflow.models.signature import ModelSignature
    from mlflow.models.signature import infer_signature
    from mlflow.types.schema import AnyType
    from mlflow.types.schema import ColSpec
    from mlflow.types.schema import Schema as MlflowSchema

    inferred = infer_signature(example, output)
    # NOTE: a column with alternatives (release_date or release_year, genres or the genre flags)
    # is optional in the signature; the encoder names what is missing. Raw values are looked up
    # as text (196, 196.0 and "196" agree), so every column but a numeric field takes any type.
    needed = {alts[0] for alts in encoder.raw_columns if len(alts) == 1}
    numeric = {name for name, kind in encoder.fields if kind == "numeric"}
    cols = [
        ColSpec(c.type if c.name in numeric else AnyType(), c.name, required=c.name in needed)
        for c in inferred.inputs.inputs
    ]
    have = {c.name for c in cols}
    cols += [ColSpec(AnyType(), name, required=False)
             for alts in encoder.raw_columns if len(alts) > 1 for name in alts
             if name not in have]  # fmt: skip
    return ModelSignature(inputs=MlflowSchema(cols), outputs=inferred.outputs)


def log_model(
    model: CTRModel,
    spec: ModelSpec,
    dataset: Dataset,
    *,
    name: str = "model",
    input_example: pd.DataFrame | None = None,
) -> Any:
    """Log ``model`` as a :class:`CTRPyfuncModel` into the active MLflow run.

    Args:
        model: The trained torch model.
        spec: Its spec.
        dataset: The data set it was trained on; its encoder (vocabularies, transform) travels
            with the model.
        name: Name of the logged model in the run.
        input_example: Raw rows for the signature and example; ``None`` builds a few from the
            vocabularies.

    Returns:
        MLflow's ``ModelInfo`` (``model_uri`` is what :func:`register` takes).

    Raises:
        DataError: The data set's loader kept no vocabularies (e.g. ``synthetic``), or they do
            not belong to its schema.
    """
    encoder = encoder_of(dataset)
    if encoder is None:
        raise DataError(
            f"data set {dataset.name!r} carries no vocabularies (dataset.info['encoder']), so "
            "a deployed model could not map raw rows; load it with from_frame, read_file or "
            "movielens_100k"
        )
    check_schema(encoder, dataset.schema)
    example = encoder.example_rows(5) if input_example is None else input_example
    with tempfile.TemporaryDirectory(prefix="recsearch-model-") as tmp:
        d = Path(tmp)
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()},
                   d / "weights.pt")  # fmt: skip
        (d / "spec.json").write_text(spec.to_json())
        (d / "schema.json").write_text(json.dumps(schema_to_dict(dataset.schema)))
        (d / "encoder.json").write_text(json.dumps(encoder.to_dict()))
        artifacts = {k: str(d / f"{k}.{'pt' if k == 'weights' else 'json'}") for k in _ARTIFACTS}
        scorer = CTRPyfuncModel()
        scorer.load_context(type("Context", (), {"artifacts": artifacts})())
        signature = _signature(example, encoder, scorer.predict(None, example))
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=scorer.__class__(),
            artifacts=artifacts,
            signature=signature,
            input_example=example,
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "pandas", "numpy",
                              f"mlflow=={mlflow.__version__}"],  # fmt: skip
        )


@dataclass(frozen=True)
class Registered:
    """A registered model version.

    Attributes:
        name: Registered model name.
        version: The new version.
        alias: The alias it now holds.
        existed: Whether the name already had versions (this one is a new version).
        uri: ``models:/<name>/<version>``.
    """

    name: str
    version: int
    alias: str
    existed: bool
    uri: str

    def describe(self) -> str:
        """One line for the report: what was registered, and whether the name was taken."""
        taken = (f" (the name was taken: this is a new version of {self.name!r})"
                 if self.existed else "")  # fmt: skip
        return f"registered {self.uri} with alias @{self.alias}{taken}"


def register(model_uri: str, name: str, *, alias: str = CHAMPION) -> Registered:
    """Register ``model_uri`` as a new version of ``name`` and point ``alias`` at it.

    Raises:
        InvalidParameterError: Tracking is off or the name is empty.
    """
    if not name or not name.strip():
        raise InvalidParameterError("The registered model name must not be empty.")
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    try:
        existed = bool(client.search_model_versions(f"name='{name}'"))
    except MlflowException:
        existed = False
    mv = mlflow.register_model(model_uri, name)
    client.set_registered_model_alias(name, alias, mv.version)
    return Registered(name, int(mv.version), alias, existed, f"models:/{name}/{mv.version}")
