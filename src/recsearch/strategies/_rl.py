"""A REINFORCE controller over a ConfigSpace (Zoph & Le, 2017; the NIS and AutoIAS controllers).

The policy is factorised over the space's hyperparameters: one softmax per hyperparameter over
its choices (categorical and ordinal values; numeric ranges cut into ``bins`` equal bins of the
normalised, log-aware range, a value then drawn uniformly inside the bin). A configuration is
sampled hyperparameter by hyperparameter in the space's topological order; conditions then
deactivate children whose parents do not allow them, and a draw that a forbidden clause excludes
is drawn again. Only the active hyperparameters of a configuration count in its log-probability,
so a child is credited only with the rewards of configurations that used it.

The controller's state is never kept between trials: the policy is rebuilt by replaying the
REINFORCE updates over the study's evaluated trials in trial-number order, so several workers
on one storage and a restarted study agree. Each update is

    advantage = (reward - baseline) / scale
    theta_h  += lr * (advantage * grad log pi(a_h) + entropy_weight * grad H(pi_h))

for every active hyperparameter ``h``, with ``baseline`` an exponential moving average of the
rewards and ``scale`` the moving standard deviation (rewards in AUC units and in cost units then
need the same learning rate). The reward is the metric (its sign turned so that larger is
better) or, with a cost, ``metric - cost_weight * cost`` (the NIS reward), the cost being the
second objective of a two-objective study or a user attribute named by ``cost_attr``. A failed
trial gets the lowest reward seen so far.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from ConfigSpace import CategoricalHyperparameter
from ConfigSpace import ConfigurationSpace
from ConfigSpace import Constant
from ConfigSpace import OrdinalHyperparameter

from recsearch.errors import InvalidParameterError
from recsearch.strategies import _cs
from recsearch.strategies._base import ConfigSpaceSampler
from recsearch.strategies._base import History
from recsearch.strategies._base import Observation

if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import FrozenTrial


class _Policy:
    """Logits per hyperparameter and the map between choices and ConfigSpace vector values."""

    def __init__(self, space: ConfigurationSpace, bins: int) -> None:
        self.hps = list(space.values())
        self.kinds: list[str] = []
        self.sizes: list[int] = []
        for hp in self.hps:
            if isinstance(hp, CategoricalHyperparameter):
                self.kinds.append("choice")
                self.sizes.append(len(hp.choices))
            elif isinstance(hp, OrdinalHyperparameter):
                self.kinds.append("choice")
                self.sizes.append(len(hp.sequence))
            elif isinstance(hp, Constant):
                self.kinds.append("constant")
                self.sizes.append(1)
            elif np.isfinite(hp.size) and hp.size <= bins:
                # NOTE: a small integer range: one choice per value, not bins of its range.
                self.kinds.append("values")
                self.sizes.append(int(hp.size))
            else:
                self.kinds.append("numeric")
                self.sizes.append(bins)
        self.values = {
            i: np.asarray(hp.to_vector(np.arange(hp.lower, hp.upper + 1)), dtype=float)
            for i, hp in enumerate(self.hps)
            if self.kinds[i] == "values"
        }
        self.logits = [np.zeros(k) for k in self.sizes]

    def probabilities(self, i: int) -> np.ndarray:
        z = self.logits[i] - self.logits[i].max()
        p = np.exp(z)
        return p / p.sum()

    def action_of(self, i: int, value: float) -> int:
        """The choice (or bin) index of a vector value of hyperparameter ``i``."""
        if self.kinds[i] == "numeric":
            return int(min(self.sizes[i] - 1, max(0.0, np.floor(value * self.sizes[i]))))
        if self.kinds[i] == "constant":
            return 0
        if self.kinds[i] == "values":
            return int(np.argmin(np.abs(self.values[i] - value)))
        return int(round(value))

    def value_of(self, i: int, action: int, rng: np.random.RandomState) -> float:
        """A vector value of hyperparameter ``i`` for choice (or bin) ``action``."""
        if self.kinds[i] == "constant":
            return 0.0
        if self.kinds[i] == "choice":
            return float(action)
        if self.kinds[i] == "values":
            return float(self.values[i][action])
        hp = self.hps[i]
        u = (action + rng.rand()) / self.sizes[i]
        return float(np.asarray(hp.to_vector(hp.to_value(np.asarray([u]))), dtype=float)[0])

    def sample(self, rng: np.random.RandomState) -> np.ndarray:
        """A full vector (every hyperparameter drawn); conditions are applied by the caller."""
        out = np.empty(len(self.hps))
        for i in range(len(self.hps)):
            p = self.probabilities(i)
            action = int(rng.choice(len(p), p=p)) if len(p) > 1 else 0
            out[i] = self.value_of(i, action, rng)
        return out

    def update(self, vector: np.ndarray, advantage: float, lr: float, entropy: float) -> None:
        """One REINFORCE step (plus the entropy gradient) on the active hyperparameters."""
        for i, v in enumerate(vector.tolist()):
            if v != v or self.sizes[i] < 2:  # NOTE: NaN: inactive, not part of the action
                continue
            p = self.probabilities(i)
            grad = -advantage * p
            grad[self.action_of(i, v)] += advantage
            logp = np.log(np.maximum(p, 1e-12))
            h = -float(np.sum(p * logp))
            grad += entropy * (-p * (logp + h))
            self.logits[i] += lr * grad


class ReinforceSampler(ConfigSpaceSampler):
    """A REINFORCE controller: a factorised softmax policy over the space's hyperparameters.

    See the module docstring for the policy, the update and the reward. The first trials are
    uniformly random (the policy starts uniform); a proposal already in the study is drawn again,
    and after ``tries`` draws a mutation of it (or a random configuration) is taken.

    Args:
        space: The configuration space.
        seed: Seed of the sequence.
        lr: Learning rate of the logits.
        baseline_decay: Decay of the moving-average baseline (and of the moving variance).
        entropy_weight: Weight of the entropy bonus.
        bins: Bins of a numeric hyperparameter's normalised range.
        cost_weight: ``lambda`` of the reward ``metric - lambda * cost`` (0: the metric alone).
        cost_attr: User attribute holding the cost (e.g. ``cost.params``); ``None`` takes the
            second objective of a two-objective study.
        tries: Draws from the policy before a proposal already in the study is replaced.

    Example:
        >>> from ConfigSpace import ConfigurationSpace
        >>> space = ConfigurationSpace({"units": (8, 256), "act": ["relu", "gelu"]})
        >>> sampler = ReinforceSampler(space, seed=0, lr=0.5)
    """

    def __init__(
        self,
        space: ConfigurationSpace,
        *,
        seed: int | None = None,
        lr: float = 0.5,
        baseline_decay: float = 0.8,
        entropy_weight: float = 0.01,
        bins: int = 8,
        cost_weight: float = 0.0,
        cost_attr: str | None = None,
        tries: int = 20,
    ) -> None:
        super().__init__(space, seed=seed)
        bad = []
        if not lr > 0:
            bad.append(f"lr={lr!r} (> 0)")
        if not 0 <= baseline_decay < 1:
            bad.append(f"baseline_decay={baseline_decay!r} (in [0, 1))")
        if not entropy_weight >= 0:
            bad.append(f"entropy_weight={entropy_weight!r} (>= 0)")
        if int(bins) < 2:
            bad.append(f"bins={bins!r} (>= 2)")
        if not cost_weight >= 0:
            bad.append(f"cost_weight={cost_weight!r} (>= 0)")
        if int(tries) < 1:
            bad.append(f"tries={tries!r} (>= 1)")
        if bad:
            raise InvalidParameterError(
                f"ReinforceSampler got invalid option(s): {', '.join(bad)}."
            )
        self._lr = float(lr)
        self._decay = float(baseline_decay)
        self._entropy = float(entropy_weight)
        self._bins = int(bins)
        self._cost_weight = float(cost_weight)
        self._cost_attr = cost_attr
        self._tries = int(tries)

    # ------------------------------------------------------------------ rewards
    def reward(self, observation: Observation) -> float | None:
        """The reward of one evaluated trial (None when it has none)."""
        if observation.losses is None:
            return None
        metric = -float(observation.losses[0])
        if self._cost_weight == 0:
            return metric
        if self._cost_attr is not None:
            cost = observation.user_attrs.get(self._cost_attr)
            if cost is None or not np.isfinite(float(cost)):
                return None
            return metric - self._cost_weight * float(cost)
        if len(observation.losses) < 2:
            return metric
        return metric - self._cost_weight * float(observation.losses[1])

    def policy(self, history: History) -> _Policy:
        """The policy after replaying every finished trial of ``history`` in number order."""
        policy = _Policy(self.space, self._bins)
        baseline: float | None = None
        variance = 0.0
        worst: float | None = None
        for obs in sorted(history.observations, key=lambda o: o.number):
            r = self.reward(obs)
            if r is None:
                if worst is None:
                    continue  # NOTE: a failure before any reward has nothing to be worse than
                r = worst
            worst = r if worst is None else min(worst, r)
            if baseline is None:
                baseline = r
                continue
            advantage = r - baseline
            variance = self._decay * variance + (1 - self._decay) * advantage**2
            scale = np.sqrt(variance) if variance > 0 else 1.0
            policy.update(obs.vector, float(np.clip(advantage / scale, -3, 3)), self._lr,
                          self._entropy)
            baseline = self._decay * baseline + (1 - self._decay) * r
        return policy

    # ------------------------------------------------------------------ sampling
    def sample_configuration(self, study: Study, trial: FrozenTrial) -> np.ndarray:
        """Draw from the replayed policy a valid configuration not yet in the study."""
        history = self.history(study)
        rng = self.rng(trial)
        policy = self.policy(history)
        proposal: np.ndarray | None = None
        for _ in range(self._tries):
            full = policy.sample(rng)
            vector = _cs._apply_conditions(self.space, full[:, None].copy())[:, 0]
            if _cs._forbidden_mask(self.space, vector[:, None])[0]:
                continue
            if _cs.key_of(vector) not in history.seen:
                return vector
            proposal = vector
        if proposal is not None:
            child = _cs.mutate(self.space, proposal, rng)
            if child is not None and _cs.key_of(child) not in history.seen:
                return child
        return self.random_unseen(rng, history.seen)
