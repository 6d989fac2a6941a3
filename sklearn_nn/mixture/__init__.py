"""Mixture-of-experts estimators and their torch building blocks."""

from ._estimators import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from ._modules import (
    ExpertMLPs,
    MixtureOfExperts,
    MixtureOfExpertsLoss,
    gaussian_expert_log_likelihood,
    load_balancing_penalty,
    mixture_nll,
    top_k_balance_loss,
)

__all__ = [
    "ExpertMLPs",
    "MixtureOfExperts",
    "MixtureOfExpertsClassifier",
    "MixtureOfExpertsLoss",
    "MixtureOfExpertsRegressor",
    "gaussian_expert_log_likelihood",
    "load_balancing_penalty",
    "mixture_nll",
    "top_k_balance_loss",
]
