"""The exception and warning hierarchy: one root, each class keeps its builtin base."""

from __future__ import annotations


class RecsearchError(Exception):
    """Root of every error recsearch raises on purpose."""


class RecsearchWarning(UserWarning):
    """Root of every warning recsearch emits."""


class DataError(RecsearchError, ValueError):
    """Bad input data: the message names the file and, where it applies, line and column."""


class InvalidParameterError(RecsearchError, ValueError, TypeError):
    """A public function or constructor got an argument it cannot use."""


class SpaceError(RecsearchError, ValueError):
    """A configuration space or configuration is invalid (forbidden, undecodable)."""


class TrainingError(RecsearchError, RuntimeError):
    """Training could not produce a result."""


class NonFiniteLossError(TrainingError, ArithmeticError):
    """The training loss became NaN or infinite; the trial must be recorded as failed."""


class MemoryCapError(TrainingError, MemoryError):
    """A spec's embedding tables would exceed the memory cap; refused before allocation."""


class StorageError(RecsearchError, ConnectionError):
    """An Optuna or MLflow storage cannot be reached or does not hold what was asked for."""


class ForbiddenConfigurationError(SpaceError):
    """A sampled configuration hits a forbidden clause of its space; it is never trained."""
