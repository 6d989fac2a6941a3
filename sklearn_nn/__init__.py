"""scikit-learn compatible neural estimators built on PyTorch through skorch."""

from .gating import HardGateClassifier, HardGateRegressor
from .mixture import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from .recurrent import TargetReplicationLSTMClassifier
from .siamese import SiamesePairClassifier, SiamesePairRegressor

__version__ = "0.1.0.dev0"

__all__ = [
    "HardGateClassifier",
    "HardGateRegressor",
    "MixtureOfExpertsClassifier",
    "MixtureOfExpertsRegressor",
    "SiamesePairClassifier",
    "SiamesePairRegressor",
    "TargetReplicationLSTMClassifier",
    "__version__",
]
