"""Hard-gate estimators (dynamic model selection) and their torch building blocks."""

from ._estimators import HardGateClassifier, HardGateRegressor
from ._modules import (
    GumbelSoftmaxGate,
    HardGateLoss,
    HardGateNetwork,
    StraightThroughArgmax,
    StraightThroughStep,
    gumbel_softmax_hard,
    straight_through_argmax,
    straight_through_step,
)

__all__ = [
    "GumbelSoftmaxGate",
    "HardGateClassifier",
    "HardGateLoss",
    "HardGateNetwork",
    "HardGateRegressor",
    "StraightThroughArgmax",
    "StraightThroughStep",
    "gumbel_softmax_hard",
    "straight_through_argmax",
    "straight_through_step",
]
