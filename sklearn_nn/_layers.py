"""Small torch building blocks shared by the estimator families.

Pure torch: nothing here imports scikit-learn, so the modules can be used on
their own in a hand-written training loop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "gelu": nn.GELU,
    "identity": nn.Identity,
}


def make_mlp(
    n_inputs: int,
    hidden_layer_sizes: Sequence[int],
    n_outputs: int,
    activation: str = "relu",
    dropout: float = 0.0,
) -> nn.Sequential:
    """Build a feed-forward network ``Linear -> act [-> Dropout] -> ... -> Linear``.

    Parameters
    ----------
    n_inputs : int
        Width of the input.
    hidden_layer_sizes : sequence of int
        Width of each hidden layer; an empty sequence gives a linear model.
    n_outputs : int
        Width of the output layer (no activation on it).
    activation : {'relu', 'tanh', 'logistic', 'gelu', 'identity'}, default='relu'
        Activation after each hidden layer.
    dropout : float, default=0.0
        Dropout probability after each hidden activation.

    Returns
    -------
    torch.nn.Sequential
    """
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}"
        )
    layers: list[nn.Module] = []
    width = n_inputs
    for size in hidden_layer_sizes:
        layers.append(nn.Linear(width, int(size)))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = int(size)
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


def weighted_mean(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Mean of per-sample ``values``, weighted by ``weight`` when given.

    ``sum(w * v) / sum(w)``: with integer weights this equals the plain mean
    over the data set in which each sample is repeated ``w`` times. A batch
    whose weights are all zero contributes a loss of 0 (and no gradient).
    """
    if weight is None:
        return values.mean()
    total = weight.sum()
    return (values * weight).sum() / torch.clamp(
        total, min=torch.finfo(total.dtype).tiny
    )


def layer_sizes(value, name: str) -> tuple[int, ...]:
    """Validate a ``*hidden_layer_sizes`` parameter into a tuple of ints."""
    sizes = np.asarray(value).ravel()
    if sizes.size and (not np.issubdtype(sizes.dtype, np.integer) or np.any(sizes < 1)):
        raise ValueError(
            f"{name} must be a sequence of positive integers (or () for no "
            f"hidden layer), got {value!r}."
        )
    return tuple(int(s) for s in sizes)


# ------------------------------------------------------------------ sequences
RNN_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}
POOLINGS = ("last", "mean", "max")


def step_mask(lengths: torch.Tensor, n_steps: int) -> torch.Tensor:
    """Boolean mask (n, n_steps): True at each sequence's real steps."""
    steps = torch.arange(n_steps, device=lengths.device)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)


def final_step(values: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``values[i, lengths[i] - 1]`` for each sequence: (n, T, d) -> (n, d)."""
    index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, values.shape[2])
    return values.gather(1, index).squeeze(1)


def pool_steps(
    states: torch.Tensor, lengths: torch.Tensor, pooling: str = "last"
) -> torch.Tensor:
    """Summarise per-step states (n, T, d) into (n, d), ignoring padding.

    'last': the state at each sequence's last real step; 'mean': the mean
    over its real steps; 'max': the element-wise maximum over its real
    steps. Steps at or past ``lengths`` never count, whatever they hold.
    """
    if pooling == "last":
        return final_step(states, lengths)
    mask = step_mask(lengths, states.shape[1]).unsqueeze(2)
    if pooling == "mean":
        total = torch.where(mask, states, torch.zeros_like(states)).sum(dim=1)
        return total / lengths.to(states.dtype).unsqueeze(1)
    if pooling == "max":
        low = torch.finfo(states.dtype).min
        return torch.where(mask, states, torch.full_like(states, low)).amax(dim=1)
    raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")


class CausalConv1d(nn.Module):
    """Stacked dilated causal 1-D convolutions over time: (n, T, C) -> (n, T, F).

    Layer ``i`` is ``Conv1d(kernel_size, dilation=2**i)`` on its input
    left-padded with ``(kernel_size - 1) * 2**i`` zero steps, followed by
    ReLU (the temporal convolutional network of Bai, Kolter and Koltun,
    2018). The output at step ``t`` reads the input at steps ``t - r + 1 ..
    t`` only, with the receptive field ``r = 1 + (kernel_size - 1) * (2**L -
    1)`` for ``L`` layers (253 steps for 6 layers of kernel 5): it never reads
    the (trailing) padding of a sequence, and a per-step prediction made from
    it stays causal.

    Parameters
    ----------
    n_inputs : int
        Channels per input step.
    filters : sequence of int
        Output channels of each layer.
    kernel_size : int, default=5
        Taps of each layer's kernel.
    """

    def __init__(self, n_inputs: int, filters: Sequence[int], kernel_size: int = 5):
        super().__init__()
        self.kernel_size = int(kernel_size)
        self.convs = nn.ModuleList()
        width = n_inputs
        for i, size in enumerate(filters):
            self.convs.append(
                nn.Conv1d(width, int(size), self.kernel_size, dilation=2**i)
            )
            width = int(size)
        self.n_outputs = width

    @property
    def receptive_field(self) -> int:
        """Number of input steps that one output step reads."""
        return 1 + (self.kernel_size - 1) * (2 ** len(self.convs) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.transpose(1, 2)
        for conv in self.convs:
            left = (self.kernel_size - 1) * conv.dilation[0]
            h = torch.relu(conv(nn.functional.pad(h, (left, 0))))
        return h.transpose(1, 2)


def running_mean(values: torch.Tensor) -> torch.Tensor:
    """Mean of the steps ``0..t`` at each step ``t``: (n, T, d) -> (n, T, d).

    A causal global average pooling: at a sequence's last real step it is the
    mean over the whole sequence, and it never reads a later step.
    """
    steps = torch.arange(1, values.shape[1] + 1, device=values.device)
    return values.cumsum(dim=1) / steps.to(values.dtype).view(1, -1, 1)


class SequenceEncoder(nn.Module):
    """Per-step states of a causal sequence encoder.

    ``[token embedding ->] [dilated causal convolutions ->] [LSTM/GRU]``,
    alongside ``[causal random convolutions]``: the one sequence encoder of
    every family that reads sequences (the recurrent classifier puts a
    per-step output layer on it, the pair models' sequence towers pool it).
    The state at step ``t`` joins, in this order:

    * the recurrent state (``cell`` set), which reads the convolution
      features when there are convolutions, else the input;
    * the :func:`running_mean` of the trained convolution features up to
      ``t`` (``conv_filters``; a causal version of the global average
      pooling of fully convolutional time-series classifiers, Wang et al.
      2017);
    * the running proportions of positive values of fixed random
      convolutions (``random_layout``, :class:`CausalRandomConvolutions`:
      MiniRocket's features, made causal).

    Every step's state reads only that step and the ones before it, so
    trailing padding never changes a real step's state.

    Parameters
    ----------
    n_inputs : int
        Channels per step (ignored when ``vocab_size`` is set).
    hidden_size : int, default=32
        Width of the recurrent state.
    num_layers : int, default=1
        Stacked recurrent layers.
    cell : {'lstm', 'gru'} or None, default='lstm'
        None for no recurrent layer.
    dropout : float, default=0.0
        Dropout between stacked recurrent layers.
    vocab_size : int or None, default=None
        When set, the input is token ids (n, T) in ``[0, vocab_size)`` that go
        through an embedding layer first; id 0 is padding.
    embedding_dim : int, default=16
        Width of the token embedding (``vocab_size`` set only).
    conv_filters : sequence of int, default=()
        Output channels of dilated causal convolution layers run before the
        recurrent layer (see :class:`CausalConv1d`); ``()`` for none.
    conv_kernel_size : int, default=5
        Kernel size of those convolutions.
    random_layout : tuple (dilations, features_per_dilation) or None, default=None
        The layout of :class:`CausalRandomConvolutions` on the input (see
        :func:`random_convolution_layout`); None for none. Its biases are
        buffers, set with ``encoder.random.fit_biases``.
    random_seed : int, default=0
        Seed of the random convolutions' channel subsets.
    observed_inputs : tuple (n_inputs, time_channel) or None, default=None
        Sequences with missing values (NaN) and, with a time channel,
        irregular observation times: :class:`ObservedInputs` turns each
        channel into its last observed value, an observed mask and the time
        since it was observed before anything else reads the sequence.

    Attributes
    ----------
    n_outputs : int
        Width of the per-step states.
    n_trained_outputs : int
        Width of the part of the states that the recurrent layer and the
        trained convolutions give (the first columns).
    random : CausalRandomConvolutions or None
    """

    def __init__(
        self,
        n_inputs: int,
        hidden_size: int = 32,
        num_layers: int = 1,
        cell: str | None = "lstm",
        dropout: float = 0.0,
        vocab_size: int | None = None,
        embedding_dim: int = 16,
        conv_filters: Sequence[int] = (),
        conv_kernel_size: int = 5,
        random_layout=None,
        random_seed: int = 0,
        observed_inputs=None,
    ):
        super().__init__()
        if cell is not None and cell not in RNN_CELLS:
            raise ValueError(
                f"cell must be one of {sorted(RNN_CELLS)} or None, got {cell!r}"
            )
        if cell is None and not len(conv_filters) and random_layout is None:
            raise ValueError(
                "The encoder has nothing to read the sequence with: set cell, "
                "conv_filters or random_layout."
            )
        if random_layout is not None and vocab_size is not None:
            raise ValueError(
                "Random convolutions read float sequences, not token ids; "
                "use random_layout=None with vocab_size."
            )
        if vocab_size is not None:
            self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
            n_inputs = embedding_dim
        else:
            self.embedding = None
        if observed_inputs is not None:
            self.observed = ObservedInputs(*observed_inputs)
            n_inputs = self.observed.n_outputs
        else:
            self.observed = None
        self.random = (
            None
            if random_layout is None
            else CausalRandomConvolutions(n_inputs, *random_layout, seed=random_seed)
        )
        width = n_inputs
        if len(conv_filters):
            self.conv = CausalConv1d(n_inputs, conv_filters, conv_kernel_size)
            width = self.conv.n_outputs
        else:
            self.conv = None
        if cell is None:
            self.rnn = None
        else:
            self.rnn = RNN_CELLS[cell](
                width,
                hidden_size,
                num_layers=num_layers,
                batch_first=True,
                dropout=dropout if num_layers > 1 else 0.0,
            )
        self.hidden_size = hidden_size
        self.n_trained_outputs = (hidden_size if self.rnn is not None else 0) + (
            self.conv.n_outputs if self.conv is not None else 0
        )
        self.n_outputs = self.n_trained_outputs + (
            self.random.n_outputs if self.random is not None else 0
        )

    def trim(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``x`` cut to its longest real length (not in an ONNX export: an
        exported graph runs over the whole padded length, which changes no
        real step, and stays valid for any T)."""
        if torch.onnx.is_in_onnx_export():
            return x
        return x[:, : int(lengths.max())]

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """The missing-value inputs of ``x`` (with ``observed_inputs``)."""
        return x if self.observed is None else self.observed(x)

    def trained_states(self, x: torch.Tensor) -> torch.Tensor | None:
        """The recurrent and trained-convolution states (n, T,
        n_trained_outputs), or None without either; ``x`` trimmed."""
        if self.embedding is not None:
            x = self.embedding(x)
        if self.conv is None:
            return None if self.rnn is None else self.rnn(x)[0]
        features = self.conv(x)
        if self.rnn is None:
            return running_mean(features)
        out, _ = self.rnn(features)
        return torch.cat([out, running_mean(features)], dim=2)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Per-step states (n, lengths.max(), n_outputs).

        Parameters
        ----------
        x : Tensor of shape (n, T, n_inputs), or (n, T) token ids
            Zero-padded sequences (``T >= lengths.max()``).
        lengths : Tensor of shape (n,)
            Real lengths (``>= 1``); states past them are meaningless.
        """
        x = self.prepare(self.trim(x, lengths))
        parts = [self.trained_states(x)]
        if self.random is not None:
            parts.append(self.random(x))
        return torch.cat([p for p in parts if p is not None], dim=2)


# ----------------------------------------------- causal random convolutions
# MiniRocket's 84 kernels (Dempster, Schmidt and Webb, 2021): nine taps of
# weight -1, of which three (every choice of three positions) weigh 2
_KERNEL_LENGTH = 9
_KERNEL_INDICES = np.array(
    [
        (i, j, k)
        for i in range(_KERNEL_LENGTH)
        for j in range(i + 1, _KERNEL_LENGTH)
        for k in range(j + 1, _KERNEL_LENGTH)
    ]
)
N_RANDOM_KERNELS = len(_KERNEL_INDICES)  # 84


def _golden_quantiles(n: int) -> np.ndarray:
    """MiniRocket's low-discrepancy quantiles ``(k * phi) mod 1``, k = 1..n."""
    return (np.arange(1, n + 1) * ((np.sqrt(5) + 1) / 2)) % 1


def random_convolution_layout(
    n_steps: int, n_features: int = 10_000, max_dilations_per_kernel: int = 32
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """MiniRocket's dilations and the number of features of each.

    Dilations are spaced exponentially from 1 to ``(n_steps - 1) / 8`` (the
    kernel then spans the whole sequence); each of the 84 kernels gets
    ``n_features // 84`` biases, shared out over the dilations.

    Returns
    -------
    dilations : tuple of int
    features_per_dilation : tuple of int
        Biases per kernel at each dilation; the block yields ``84 *
        sum(features_per_dilation)`` features.
    """
    per_kernel = max(1, n_features // N_RANDOM_KERNELS)
    n_dilations = min(per_kernel, max_dilations_per_kernel)
    multiplier = per_kernel / n_dilations
    max_exponent = max(0.0, np.log2(max(n_steps - 1, 1) / (_KERNEL_LENGTH - 1)))
    dilations, counts = np.unique(
        np.logspace(0, max_exponent, n_dilations, base=2).astype(np.int64),
        return_counts=True,
    )
    counts = (counts * multiplier).astype(np.int64)
    for i in range(per_kernel - int(counts.sum())):
        counts[i % len(counts)] += 1
    return tuple(int(d) for d in dilations), tuple(int(c) for c in counts)


class CausalRandomConvolutions(nn.Module):
    """MiniRocket's features made causal: a running proportion of positive values.

    Fixed (untrained) dilated convolutions with MiniRocket's 84 kernels of
    nine taps (Dempster et al., 2021), each summing a random subset of the
    channels, are compared with fixed biases; feature ``f`` at step ``t`` is
    the proportion of the steps ``0..t`` whose convolution output exceeds
    ``f``'s bias (PPV). The convolutions are *causal* -- the output at ``t``
    reads steps ``t - 8 d .. t``, zero before the sequence starts -- so the
    feature at ``t`` depends on steps ``<= t`` only, and at a sequence's last
    step it is MiniRocket's PPV feature (with left padding instead of
    MiniRocket's centred one).

    The weights, channel subsets and biases are buffers: build the block
    with the layout, then set them with :meth:`fit_biases` (from training
    sequences) or load a state dict.

    Parameters
    ----------
    n_inputs : int
        Channels per step.
    dilations : sequence of int
        Dilation of each group of 84 convolutions (see
        :func:`random_convolution_layout`).
    features_per_dilation : sequence of int
        Biases per kernel at each dilation.
    seed : int, default=0
        Seed of the channel subsets (multivariate input only).

    Attributes
    ----------
    n_outputs : int
        Number of features, ``84 * sum(features_per_dilation)``.
    """

    def __init__(
        self,
        n_inputs: int,
        dilations: Sequence[int],
        features_per_dilation: Sequence[int],
        seed: int = 0,
    ):
        super().__init__()
        if len(dilations) != len(features_per_dilation) or not len(dilations):
            raise ValueError(
                "dilations and features_per_dilation must be non-empty and of the "
                f"same length, got {dilations!r} and {features_per_dilation!r}."
            )
        self.dilations = tuple(int(d) for d in dilations)
        self.features_per_dilation = tuple(int(c) for c in features_per_dilation)
        rng = np.random.RandomState(seed)
        base = -np.ones((N_RANDOM_KERNELS, _KERNEL_LENGTH))
        base[np.arange(N_RANDOM_KERNELS)[:, None], _KERNEL_INDICES] = 2.0
        for i, count in enumerate(self.features_per_dilation):
            # MiniRocket's channel subsets: 2**U(0, log2(min(C, 9) + 1)) channels
            n_max = min(n_inputs, 9)
            sizes = (2 ** rng.uniform(0, np.log2(n_max + 1), N_RANDOM_KERNELS)).astype(
                int
            )
            channels = np.zeros((N_RANDOM_KERNELS, n_inputs, 1))
            for k, size in enumerate(sizes):
                channels[k, rng.choice(n_inputs, size, replace=False)] = 1.0
            weight = torch.as_tensor(base[:, None, :] * channels, dtype=torch.float32)
            self.register_buffer(f"weight_{i}", weight)
            self.register_buffer(f"bias_{i}", torch.zeros(N_RANDOM_KERNELS, count))
        self.n_outputs = N_RANDOM_KERNELS * sum(self.features_per_dilation)

    def _groups(self):
        for i, dilation in enumerate(self.dilations):
            yield dilation, getattr(self, f"weight_{i}"), getattr(self, f"bias_{i}")

    def convolve(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Causal convolution outputs, one (n, 84, T) tensor per dilation."""
        h = x.transpose(1, 2)
        outs = []
        for dilation, weight, _ in self._groups():
            left = (_KERNEL_LENGTH - 1) * dilation
            padded = nn.functional.pad(h, (left, 0))
            outs.append(
                nn.functional.conv1d(padded, weight.to(h.dtype), dilation=dilation)
            )
        return outs

    @property
    def receptive_field(self) -> int:
        """Number of steps that the widest convolution reads."""
        return 1 + (_KERNEL_LENGTH - 1) * max(self.dilations)

    @torch.no_grad()
    def fit_biases(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor,
        generator=None,
        sample_weight: torch.Tensor | None = None,
    ):
        """Set the biases from training sequences, as MiniRocket does.

        For each (dilation, kernel), the convolution output over the real
        steps of one training sequence drawn at random gives the biases as
        its quantiles at MiniRocket's low-discrepancy levels; each kernel's
        biases are kept sorted.

        Parameters
        ----------
        x : Tensor of shape (n, T, n_inputs)
            Zero-padded training sequences.
        lengths : Tensor of shape (n,)
        generator : torch.Generator, optional
            Draws the sequences.
        sample_weight : Tensor of shape (n,), optional
            A sequence is drawn with probability proportional to its weight.
            The draw reads the sequences in the order of their values, not of
            the rows, so that an integer weight draws exactly as repeating the
            sequence that many times would.
        """
        levels = torch.as_tensor(_golden_quantiles(self.n_outputs), dtype=torch.float64)
        weight_ = (
            torch.ones(len(x), dtype=torch.float64)
            if sample_weight is None
            else torch.as_tensor(sample_weight, dtype=torch.float64)
        )
        rows = torch.cat(
            [lengths[:, None].to(x.dtype), x.reshape(len(x), -1)], dim=1
        ).detach()
        # the rows in lexicographic order (np.unique sorts them as one key)
        _, inverse = np.unique(rows.cpu().numpy(), axis=0, return_inverse=True)
        order = torch.as_tensor(np.argsort(inverse.ravel(), kind="stable"))
        cdf = torch.cumsum(weight_[order], dim=0)
        start = 0
        for dilation, weight, bias in self._groups():
            count = bias.shape[1]
            draw = torch.rand(
                N_RANDOM_KERNELS, generator=generator, dtype=torch.float64
            )
            position = torch.searchsorted(cdf, draw * cdf[-1], right=True)
            pick = order[position.clamp(max=len(x) - 1)]
            seqs = x[pick].to(torch.float64)  # kernel k reads sequence pick[k]
            left = (_KERNEL_LENGTH - 1) * dilation
            padded = nn.functional.pad(seqs.transpose(1, 2), (left, 0))
            out = nn.functional.conv1d(
                padded.reshape(1, -1, padded.shape[2]),
                weight.to(torch.float64),
                dilation=dilation,
                groups=N_RANDOM_KERNELS,
            )[0]  # (84, T)
            steps = torch.arange(out.shape[1])
            out = out.masked_fill(steps[None, :] >= lengths[pick][:, None], math.nan)
            q = levels[start : start + N_RANDOM_KERNELS * count].view(
                N_RANDOM_KERNELS, count
            )
            # the quantile levels of each kernel, one row at a time (nanquantile
            # takes one set of levels for all rows)
            values = torch.stack(
                [torch.nanquantile(out[k], q[k]) for k in range(N_RANDOM_KERNELS)]
            )
            bias.copy_(values.sort(dim=1).values.to(bias.dtype))
            start += N_RANDOM_KERNELS * count
        return self

    def positive_groups(self, x: torch.Tensor):
        """Per dilation group, the indicators (n, 84 * m, T) of the causal
        convolution output at each step exceeding each bias (bool)."""
        for conv, (_, _, bias) in zip(self.convolve(x), self._groups()):
            # (n, 84, 1, T) > (84, m, 1) -> (n, 84, m, T)
            above = conv.unsqueeze(2) > bias.to(conv.dtype).unsqueeze(2)
            yield above.flatten(1, 2)

    def features_at(
        self, x: torch.Tensor, lengths: torch.Tensor, points: torch.Tensor
    ) -> torch.Tensor:
        """PPV features at chosen steps: (n, K, n_outputs).

        Parameters
        ----------
        x : Tensor of shape (n, T, n_inputs)
            Zero-padded sequences.
        lengths : Tensor of shape (n,)
            Real lengths; steps past them never count.
        points : Tensor of shape (n, K)
            Steps, each below its sequence's length, at which to take the
            proportion of the steps up to them that exceed each bias.
        """
        n_steps = x.shape[1]
        count_dtype = torch.int16 if n_steps < 2**15 else torch.int32
        index = points.unsqueeze(1)
        feats = [
            # counts up to each step, read at the points
            above.cumsum(dim=2, dtype=count_dtype)
            .gather(2, index.expand(-1, above.shape[1], -1))
            .transpose(1, 2)
            for above in self.positive_groups(x)
        ]
        counts = (points + 1).to(x.dtype).unsqueeze(2)
        return torch.cat(feats, dim=2).to(x.dtype) / counts

    def step_sums(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """``positive(x) @ weight.T`` at every step, group by group.

        Parameters
        ----------
        x : Tensor of shape (n, T, n_inputs)
        weight : Tensor of shape (n_out, n_outputs)
            A linear map of the features.

        Returns
        -------
        Tensor of shape (n, T, n_out)
            Its :func:`running_mean` over steps is ``weight`` applied to the
            running PPV features (:meth:`forward`), without holding all the
            features of every step at once.
        """
        total, start = 0, 0
        for above in self.positive_groups(x):
            width = above.shape[1]
            w = weight[:, start : start + width].to(x.dtype)
            total = total + torch.matmul(w, above.to(x.dtype))
            start += width
        return total.transpose(1, 2)

    def positive(self, x: torch.Tensor) -> torch.Tensor:
        """Indicators (n, T, n_outputs): is the output at step t above the bias."""
        parts = list(self.positive_groups(x))
        return torch.cat(parts, dim=1).transpose(1, 2).to(x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Running PPV features (n, T, n_outputs): causal, in [0, 1].

        Memory grows as ``n * T * n_outputs``; the classifier uses
        :meth:`step_sums` and :meth:`features_at` instead.
        """
        return running_mean(self.positive(x))


# ----------------------------------------------------------- missing values
class ObservedInputs(nn.Module):
    """Each channel as (last observed value, observed now, time since observed).

    The inputs of Lipton, Kale and Wetzel (2016) and of GRU-D (Che et al.,
    2018) for sequences with missing values: a NaN in a channel at a step
    means "not observed then". Channel ``c`` becomes three:

    * its last observed value up to the step (``fill_values[c]``, the
      training mean, before its first observation);
    * 1 where it is observed at the step, 0 where not;
    * ``log1p(delta / time_scale)``, with ``delta`` the time since its last
      observation (since the sequence's first step, plus ``time_scale``,
      before its first observation).

    Times are the step indices, or the values of channel ``time_channel``
    (which is then removed from the channels). Every output step reads the
    steps up to it only.

    Parameters
    ----------
    n_inputs : int
        Channels per step, the time channel included.
    time_channel : int or None, default=None
        The channel that holds each step's observation time.

    Attributes
    ----------
    n_outputs : int
        ``3 * (n_inputs - 1)`` with a time channel, ``3 * n_inputs`` without.
    """

    def __init__(self, n_inputs: int, time_channel: int | None = None):
        super().__init__()
        self.time_channel = time_channel
        n_values = n_inputs - (time_channel is not None)
        self.register_buffer("fill_values", torch.zeros(n_values))
        self.register_buffer("time_scale", torch.ones(()))
        self.n_outputs = 3 * n_values

    def split(self, x: torch.Tensor):
        """``x`` -> (values (n, T, C'), times (n, T))."""
        steps = torch.arange(x.shape[1], device=x.device, dtype=x.dtype)
        if self.time_channel is None:
            return x, steps.expand(x.shape[0], -1)
        keep = [c for c in range(x.shape[2]) if c != self.time_channel]
        times = x[:, :, self.time_channel]
        times = torch.where(torch.isnan(times), torch.zeros_like(times), times)
        return x[:, :, keep], times

    def last_observed(self, observed: torch.Tensor) -> torch.Tensor:
        """Index (n, T, C) of each channel's last observed step so far, -1
        before the first observation."""
        n_steps = observed.shape[1]
        steps = torch.arange(n_steps, device=observed.device).view(1, -1, 1)
        index = torch.where(observed, steps, torch.full_like(steps, -1))
        if not torch.onnx.is_in_onnx_export():
            return torch.cummax(index, dim=1).values
        # no cumulative maximum in ONNX: the maximum over s <= t, (T, T) wide
        upto = (steps.view(-1, 1) >= steps.view(1, -1)).view(1, n_steps, n_steps, 1)
        spread = torch.where(
            upto, index.unsqueeze(1), torch.full_like(upto, -1, dtype=index.dtype)
        )
        return spread.max(dim=2).values

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values, times = self.split(x)
        observed = ~torch.isnan(values)
        last = self.last_observed(observed)
        filled = torch.where(observed, values, torch.zeros_like(values))
        carried = torch.gather(filled, 1, last.clamp(min=0))
        fill = self.fill_values.to(values.dtype).view(1, 1, -1)
        value = torch.where(last >= 0, carried, fill.expand_as(carried))
        times3 = times.unsqueeze(2).expand_as(values)
        since = times3 - torch.gather(times3, 1, last.clamp(min=0))
        never = times3 - times3[:, :1] + self.time_scale.to(values.dtype)
        delta = torch.where(last >= 0, since, never).clamp(min=0)
        delta = torch.log1p(delta / self.time_scale.to(values.dtype))
        return torch.cat([value, observed.to(values.dtype), delta], dim=2)

    @torch.no_grad()
    def fit(self, x: torch.Tensor, lengths: torch.Tensor):
        """Set the fill values (each channel's mean over its observed real
        steps, 0 if never observed) and the time scale (the median time
        between consecutive real steps, 1 without a time channel)."""
        values, times = self.split(x)
        real = (torch.arange(x.shape[1]).view(1, -1) < lengths.view(-1, 1)).unsqueeze(2)
        observed = real & ~torch.isnan(values)
        count = observed.sum(dim=(0, 1))
        total = torch.where(observed, values, torch.zeros_like(values)).sum(dim=(0, 1))
        self.fill_values.copy_(torch.where(count > 0, total / count.clamp(min=1), 0))
        if self.time_channel is not None:
            gaps = (times[:, 1:] - times[:, :-1])[real[:, 1:, 0]]
            gaps = gaps[gaps > 0]
            self.time_scale.fill_(float(gaps.median()) if gaps.numel() else 1.0)
        return self
