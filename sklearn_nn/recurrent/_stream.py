"""Score one sequence while its steps arrive, without recomputing the prefix.

:class:`SequenceStream` carries, for one sequence, everything the causal
network of :class:`~sklearn_nn.recurrent.SequenceClassifierRNN` needs from
the steps already seen:

* the missing-value inputs: each channel's last observed value and time, and
  the first step's time;
* each causal convolution layer's last ``(kernel_size - 1) * dilation``
  inputs (the trained convolutions) and the random convolutions' last
  ``8 * max(dilations)`` inputs;
* the running sums behind the running means (of the trained convolution
  features and of the output layer's sums over the random features), and
  the number of steps seen;
* the recurrent network's hidden state.

Each :meth:`SequenceStream.update` takes the new steps (one or many) and
returns the class probabilities after each of them: the same numbers as the
module's per-step output on the whole sequence, up to floating-point
rounding. Pure torch: usable without scikit-learn.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SequenceStream"]


class SequenceStream:
    """The per-step class probabilities of one growing sequence.

    Parameters
    ----------
    module : SequenceClassifierRNN
        A trained module of float sequences (not token ids), in eval mode
        while it streams.

    Examples
    --------
    >>> import torch
    >>> from sklearn_nn.recurrent import SequenceClassifierRNN, SequenceStream
    >>> module = SequenceClassifierRNN(2, 3, hidden_size=4, cell="gru").eval()
    >>> x = torch.randn(1, 10, 2)
    >>> stream = SequenceStream(module)
    >>> first, rest = stream.update(x[0, :4]), stream.update(x[0, 4:])
    >>> whole = module(x, torch.tensor([10]))[1].exp()[0]
    >>> torch.allclose(torch.cat([first, rest]), whole, atol=1e-5)
    True
    """

    def __init__(self, module):
        if module.encoder.embedding is not None:
            raise ValueError(
                "SequenceStream scores float sequences; this module reads token "
                "ids (vocab_size set)."
            )
        self.module = module
        self.n_seen = 0
        self._observed = None  # (last values, last times, seen, first time)
        self._conv_buffers = None
        self._conv_sum = None
        self._random_buffer = None
        self._random_sum = None
        self._hidden = None

    # ----------------------------------------------------------- pieces
    def _observed_inputs(self, x):
        """ObservedInputs of the new steps, continuing the carried state."""
        block = self.module.encoder.observed
        values, times = block.split(x.unsqueeze(0))
        values, times = values[0], times[0]
        if block.time_channel is None:
            times = times + self.n_seen
        n_values = values.shape[1]
        dtype = values.dtype
        if self._observed is None:
            fill = block.fill_values.to(dtype)
            self._observed = (
                fill.clone(),
                torch.zeros(n_values, dtype=dtype),
                torch.zeros(n_values, dtype=torch.bool),
                times[0].clone(),
            )
        last_value, last_time, seen, first_time = self._observed
        scale = block.time_scale.to(dtype)
        out = []
        for t in range(len(values)):
            observed = ~torch.isnan(values[t])
            last_value = torch.where(observed, values[t], last_value)
            last_time = torch.where(observed, times[t], last_time)
            seen = seen | observed
            since = torch.where(
                seen, times[t] - last_time, times[t] - first_time + scale
            )
            delta = torch.log1p(since.clamp(min=0) / scale)
            out.append(torch.cat([last_value, observed.to(dtype), delta]))
        self._observed = (last_value, last_time, seen, first_time)
        return torch.stack(out)

    def _trained_convs(self, x):
        """The trained convolution features of the new steps (T, F)."""
        conv = self.module.encoder.conv
        if self._conv_buffers is None:
            self._conv_buffers = [
                torch.zeros(
                    layer.in_channels, (conv.kernel_size - 1) * layer.dilation[0]
                )
                for layer in conv.convs
            ]
        h = x.T
        for i, layer in enumerate(conv.convs):
            joined = torch.cat([self._conv_buffers[i].to(h.dtype), h], dim=1)
            keep = self._conv_buffers[i].shape[1]
            self._conv_buffers[i] = (
                joined[:, joined.shape[1] - keep :] if keep else joined[:, :0]
            )
            h = torch.relu(layer(joined.unsqueeze(0))[0])
        return h.T

    def _random_sums(self, x, weight):
        """``weight`` applied to the random features' indicators at each new
        step (T, n_out)."""
        random = self.module.encoder.random
        width = random.receptive_field - 1
        if self._random_buffer is None:
            self._random_buffer = torch.zeros(width, x.shape[1], dtype=x.dtype)
        joined = torch.cat([self._random_buffer, x])
        self._random_buffer = joined[joined.shape[0] - width :] if width else joined[:0]
        # the carried steps (zeros before the sequence starts) stand in for
        # the convolutions' zero padding; their own outputs are dropped
        return random.step_sums(joined.unsqueeze(0), weight)[0, width:]

    # ------------------------------------------------------------ update
    @torch.no_grad()
    def update(self, steps) -> torch.Tensor:
        """Read new steps; the class probabilities after each of them.

        Parameters
        ----------
        steps : Tensor of shape (T, n_inputs) or (n_inputs,)
            The next step(s) of the sequence (NaN for a missing value with
            missing-value inputs).

        Returns
        -------
        Tensor of shape (T, n_classes)
        """
        module, encoder = self.module, self.module.encoder
        x = torch.as_tensor(steps, dtype=module.output.weight.dtype)
        if x.ndim == 1:
            x = x.unsqueeze(0)
        if not len(x):
            return x.new_zeros((0, module.output.out_features))
        if encoder.observed is not None:
            x = self._observed_inputs(x)
        n_new = x.shape[0]
        counts = torch.arange(
            self.n_seen + 1, self.n_seen + n_new + 1, dtype=x.dtype
        ).unsqueeze(1)
        weight, split = module.output.weight, encoder.n_trained_outputs
        logits = module.output.bias.expand(n_new, -1).clone()
        parts = []
        features = x
        if encoder.conv is not None:
            features = self._trained_convs(x)
        if encoder.rnn is not None:
            out, self._hidden = encoder.rnn(features.unsqueeze(0), self._hidden)
            parts.append(out[0])
        if encoder.conv is not None:
            previous = 0 if self._conv_sum is None else self._conv_sum
            cumulative = previous + features.cumsum(dim=0)
            self._conv_sum = cumulative[-1]
            parts.append(cumulative / counts)
        if parts:
            logits = logits + nn.functional.linear(
                torch.cat(parts, dim=1), weight[:, :split]
            )
        if encoder.random is not None:
            sums = self._random_sums(x, weight[:, split:])
            previous = 0 if self._random_sum is None else self._random_sum
            cumulative = previous + sums.cumsum(dim=0)
            self._random_sum = cumulative[-1]
            logits = logits + cumulative / counts
        if module.step_scale.numel():
            steps_at = torch.arange(self.n_seen, self.n_seen + n_new)
            scale = module.step_scale[steps_at.clamp(max=module.step_scale.numel() - 1)]
            logits = logits * scale.to(logits.dtype).unsqueeze(1)
        self.n_seen += n_new
        return torch.softmax(logits, dim=1)
