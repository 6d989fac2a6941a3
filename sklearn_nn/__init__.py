"""scikit-learn compatible neural estimators built on PyTorch through skorch."""

from .mixture import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor

__version__ = "0.1.0.dev0"

__all__ = [
    "MixtureOfExpertsClassifier",
    "MixtureOfExpertsRegressor",
    "__version__",
]
