"""Search spaces as ConfigSpace objects, their decoding into model specs, and the Optuna bridge.

- builders (:mod:`recsearch.spaces.builders`, :mod:`recsearch.spaces.more_builders`): one space
  per search dimension, and
  :func:`compose` (hyperparameter names ``<section>.<local name>``, MLflow-safe);
- presets: :func:`preset` and :func:`available`;
- :func:`decode`: a configuration as a :class:`~recsearch.spec.ModelSpec`;
- the Optuna bridge (:mod:`recsearch.spaces.bridge`): :func:`suggest`,
  :func:`configuration_from_trial`, :func:`distributions`, :func:`to_param`, :func:`from_param`.

Never imports torch: strategies import this package.
"""

from __future__ import annotations

from recsearch.spaces.bridge import configuration_from_params
from recsearch.spaces.bridge import configuration_from_trial
from recsearch.spaces.bridge import distribution
from recsearch.spaces.bridge import distributions
from recsearch.spaces.bridge import forbidden_reason
from recsearch.spaces.bridge import from_param
from recsearch.spaces.bridge import ordered_choices
from recsearch.spaces.bridge import params_from_configuration
from recsearch.spaces.bridge import suggest
from recsearch.spaces.bridge import to_param
from recsearch.spaces.builders import blocks
from recsearch.spaces.builders import compose
from recsearch.spaces.builders import embedding_dims
from recsearch.spaces.builders import interaction_functions
from recsearch.spaces.builders import interaction_groups
from recsearch.spaces.builders import interaction_set
from recsearch.spaces.builders import loss_mixture
from recsearch.spaces.builders import mlp
from recsearch.spaces.builders import pair_name
from recsearch.spaces.builders import training
from recsearch.spaces.decode import decode
from recsearch.spaces.decode import default_base
from recsearch.spaces.more_builders import behaviour
from recsearch.spaces.more_builders import finetuning
from recsearch.spaces.more_builders import graph
from recsearch.spaces.more_builders import mlp_fractions
from recsearch.spaces.more_builders import numeric_fields
from recsearch.spaces.more_builders import projection
from recsearch.spaces.more_builders import pruning
from recsearch.spaces.presets import PresetName
from recsearch.spaces.presets import available
from recsearch.spaces.presets import from_json
from recsearch.spaces.presets import preset
from recsearch.spaces.presets import to_json

__all__ = [
    "PresetName",
    "available",
    "behaviour",
    "blocks",
    "compose",
    "configuration_from_params",
    "configuration_from_trial",
    "decode",
    "default_base",
    "distribution",
    "distributions",
    "embedding_dims",
    "finetuning",
    "forbidden_reason",
    "graph",
    "from_json",
    "from_param",
    "interaction_functions",
    "interaction_groups",
    "interaction_set",
    "loss_mixture",
    "mlp",
    "mlp_fractions",
    "numeric_fields",
    "ordered_choices",
    "pair_name",
    "params_from_configuration",
    "preset",
    "projection",
    "pruning",
    "suggest",
    "to_json",
    "to_param",
    "training",
]
