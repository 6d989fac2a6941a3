"""The temperature schedule of the Gumbel gate."""

from __future__ import annotations

from skorch.callbacks import Callback


class _AnnealTemperature(Callback):
    """Geometric annealing of ``module_.temperature`` over the epochs of a fit.

    Epoch ``k`` (0-based) of ``n_epochs`` uses
    ``start * (end / start) ** (k / (n_epochs - 1))``.
    """

    def __init__(self, start, end, n_epochs):
        self.start = start
        self.end = end
        self.n_epochs = n_epochs

    def initialize(self):
        self.epoch_ = 0
        return self

    def temperature(self, epoch):
        if self.n_epochs <= 1:
            return float(self.start)
        frac = min(epoch, self.n_epochs - 1) / (self.n_epochs - 1)
        return float(self.start * (self.end / self.start) ** frac)

    def on_epoch_begin(self, net, **kwargs):
        net.module_.temperature = self.temperature(self.epoch_)
        self.epoch_ += 1
