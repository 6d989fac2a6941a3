"""Mixture-of-experts estimators and their torch building blocks."""

from ._estimators import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from ._modules import (
    MixtureOfExperts,
    MixtureOfExpertsLoss,
    gaussian_expert_log_likelihood,
    load_balancing_penalty,
    mixture_nll,
)

__all__ = [
    "MixtureOfExperts",
    "MixtureOfExpertsClassifier",
    "MixtureOfExpertsLoss",
    "MixtureOfExpertsRegressor",
    "gaussian_expert_log_likelihood",
    "load_balancing_penalty",
    "mixture_nll",
]
