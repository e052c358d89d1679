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

import copy
from dataclasses import dataclass
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
    """Logits of every hyperparameter and the map between choices and vector values.

    One padded row of logits per hyperparameter; sampling and updates are vectorised over them.
    """

    def __init__(self, space: ConfigurationSpace, bins: int) -> None:
        self.hps = list(space.values())
        self.kinds: list[str] = []
        sizes: list[int] = []
        for hp in self.hps:
            if isinstance(hp, CategoricalHyperparameter):
                self.kinds.append("choice")
                sizes.append(len(hp.choices))
            elif isinstance(hp, OrdinalHyperparameter):
                self.kinds.append("choice")
                sizes.append(len(hp.sequence))
            elif isinstance(hp, Constant):
                self.kinds.append("constant")
                sizes.append(1)
            elif np.isfinite(hp.size) and hp.size <= bins:
                # NOTE: a small integer range: one choice per value, not bins of its range.
                self.kinds.append("values")
                sizes.append(int(hp.size))
            else:
                self.kinds.append("numeric")
                sizes.append(bins)
        self.sizes = np.asarray(sizes, dtype=np.int64)
        width = int(self.sizes.max()) if len(sizes) else 1
        self.valid = np.arange(width)[None, :] < self.sizes[:, None]
        self.logits = np.where(self.valid, 0.0, -np.inf)
        self.learn = self.sizes > 1
        self.values = {
            i: np.asarray(hp.to_vector(np.arange(hp.lower, hp.upper + 1)), dtype=float)
            for i, hp in enumerate(self.hps)
            if self.kinds[i] == "values"
        }
        self._choice = np.asarray([k == "choice" for k in self.kinds])
        self._numeric = np.asarray([k == "numeric" for k in self.kinds])
        self._integer = [
            i
            for i, hp in enumerate(self.hps)
            if self.kinds[i] == "numeric" and np.isfinite(hp.size)
        ]

    def copy(self) -> _Policy:
        other = copy.copy(self)
        other.logits = self.logits.copy()
        return other

    def _softmax(self) -> np.ndarray:
        z = self.logits - self.logits.max(axis=1, keepdims=True)
        p = np.where(self.valid, np.exp(z), 0.0)
        return p / p.sum(axis=1, keepdims=True)

    def probabilities(self, i: int) -> np.ndarray:
        """The choice (or bin) probabilities of hyperparameter ``i``."""
        return self._softmax()[i, : self.sizes[i]]

    def actions_of(self, vector: np.ndarray) -> np.ndarray:
        """The choice (or bin) index of every entry of a configuration vector (NaN: -1)."""
        active = np.isfinite(vector)
        filled = np.where(active, vector, 0.0)
        out = np.zeros(len(vector), dtype=np.int64)
        out[self._choice] = np.round(filled[self._choice]).astype(np.int64)
        k = self.sizes[self._numeric]
        out[self._numeric] = np.clip(np.floor(filled[self._numeric] * k), 0, k - 1)
        for i, values in self.values.items():
            out[i] = int(np.argmin(np.abs(values - filled[i])))
        return np.where(active, out, -1)

    def sample(self, rng: np.random.RandomState) -> np.ndarray:
        """A full vector (every hyperparameter drawn); conditions are applied by the caller."""
        gumbel = -np.log(-np.log(rng.uniform(1e-12, 1.0, size=self.logits.shape)))
        actions = np.argmax(self.logits + gumbel, axis=1)
        inside = rng.rand(len(self.hps))
        out = actions.astype(np.float64)
        out[self._numeric] = (actions[self._numeric] + inside[self._numeric]) / self.sizes[
            self._numeric
        ]
        for i in self._integer:
            hp = self.hps[i]
            out[i] = float(np.asarray(hp.to_vector(hp.to_value(out[i : i + 1])))[0])
        for i, values in self.values.items():
            out[i] = values[actions[i]]
        out[[k == "constant" for k in self.kinds]] = 0.0
        return out

    def update(self, vector: np.ndarray, advantage: float, lr: float, entropy: float) -> None:
        """One REINFORCE step (plus the entropy gradient) on the active hyperparameters."""
        actions = self.actions_of(vector)
        rows = np.flatnonzero((actions >= 0) & self.learn)  # NOTE: inactive: not an action
        if not len(rows):
            return
        p = self._softmax()[rows]
        logp = np.where(self.valid[rows], np.log(np.maximum(p, 1e-12)), 0.0)
        h = -np.sum(p * logp, axis=1, keepdims=True)
        grad = -advantage * p
        grad[np.arange(len(rows)), actions[rows]] += advantage
        grad += entropy * (-p * (logp + h))
        self.logits[rows] += lr * np.where(self.valid[rows], grad, 0.0)


@dataclass
class _ReplayState:
    """The controller after some replayed trials: policy, baseline, moving variance, worst."""

    policy: _Policy
    baseline: float | None = None
    variance: float = 0.0
    worst: float | None = None

    def copy(self) -> _ReplayState:
        return _ReplayState(self.policy.copy(), self.baseline, self.variance, self.worst)


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
        self._replay: tuple[tuple[Observation, ...], _ReplayState] = (
            (),
            _ReplayState(_Policy(space, self._bins)),
        )

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
        """The policy after replaying every finished trial of ``history`` in number order.

        The replay continues from the last one when the new trials all come after it (the
        usual case); otherwise (a smaller trial number finished late, another study) it
        starts over.
        """
        ordered = sorted(history.observations, key=lambda o: o.number)
        done, state = self._replay
        prefix = ordered[: len(done)]
        if len(done) > len(ordered) or any(a is not b for a, b in zip(done, prefix, strict=True)):
            done, state = (), _ReplayState(_Policy(self.space, self._bins))
        state = state.copy()
        for obs in ordered[len(done) :]:
            self._step(state, obs)
        self._replay = (tuple(ordered), state)
        return state.policy

    def _step(self, state: _ReplayState, obs: Observation) -> None:
        r = self.reward(obs)
        if r is None:
            if state.worst is None:
                return  # NOTE: a failure before any reward has nothing to be worse than
            r = state.worst
        state.worst = r if state.worst is None else min(state.worst, r)
        if state.baseline is None:
            state.baseline = r
            return
        advantage = r - state.baseline
        state.variance = self._decay * state.variance + (1 - self._decay) * advantage**2
        scale = np.sqrt(state.variance) if state.variance > 0 else 1.0
        state.policy.update(
            obs.vector, float(np.clip(advantage / scale, -3, 3)), self._lr, self._entropy
        )
        state.baseline = self._decay * state.baseline + (1 - self._decay) * r

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
