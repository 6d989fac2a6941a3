"""Siamese and two-tower pair models: towers, read-outs and losses (pure torch).

A pair model embeds the left item with one tower ``f`` and the right item
with ``g`` (the same tower when the weights are shared: a true siamese
network) and compares the two embeddings:

* cosine similarity ``cos(f(a), g(b))`` in [-1, 1], trained with the squared
  error to a graded target (:func:`cosine_mse_loss`);
* a *distance* ``d`` (euclidean ``||f(a) - g(b)||`` or cosine distance
  ``1 - cos``), trained with the contrastive loss of Hadsell, Chopra and
  LeCun (2006), :func:`contrastive_loss`::

      y * d^2 + (1 - y) * max(margin - d, 0)^2     (y = 1 similar, 0 not)

Similar pairs are pulled together; dissimilar pairs are pushed apart until
they are ``margin`` away. Without dissimilar pairs nothing stops every input
from being mapped to the same point (a collapse): the loss is then zero.

Sequence towers (:class:`SequenceTower`) read zero-padded float sequences or
token ids together with their lengths (``sklearn_nn._sequences`` makes both
from user input) and pool the per-step states of a recurrent encoder over
the real steps only, so padding never changes an embedding.

Example, in a plain torch loop::

    net = SiameseNetwork(MLPTower(64, (32,), 8))        # shared weights
    criterion = SiamesePairLoss("contrastive", distance="euclidean", margin=1.0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for left, right, similar in batches:                # similar: 1.0 or 0.0
        opt.zero_grad()
        criterion(net(left, right), similar).backward()
        opt.step()
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .._layers import POOLINGS, SequenceEncoder, make_mlp, pool_steps, weighted_mean

__all__ = [
    "MLPTower",
    "SequenceTower",
    "SiameseNetwork",
    "SiamesePairLoss",
    "SimilarityReadout",
    "VerificationReadout",
    "contrastive_loss",
    "cosine_mse_loss",
    "cosine_similarity",
    "pair_distance",
]

DISTANCES = ("euclidean", "cosine")


class MLPTower(nn.Module):
    """A feed-forward tower: dense features -> embedding.

    Parameters
    ----------
    n_features : int
        Width of one item's features.
    hidden_layer_sizes : sequence of int, default=(64,)
        Hidden layer widths; ``()`` gives a linear embedding.
    embedding_dim : int, default=16
        Width of the embedding (the last layer, without activation).
    activation : str, default='relu'
        Hidden activation.
    """

    def __init__(
        self,
        n_features: int,
        hidden_layer_sizes: Sequence[int] = (64,),
        embedding_dim: int = 16,
        activation: str = "relu",
    ):
        super().__init__()
        self.net = make_mlp(n_features, hidden_layer_sizes, embedding_dim, activation)

    def forward(self, x):
        return self.net(x)


class SequenceTower(nn.Module):
    """A sequence tower: [tokens ->] [conv ->] LSTM/GRU -> pool -> Linear.

    A :class:`~sklearn_nn._layers.SequenceEncoder` reads the sequence; its
    per-step states are pooled over the real steps (``pooling``) and
    projected to the embedding. Padding never changes an embedding: the
    encoder is causal and the pooling is masked by the lengths.

    Parameters
    ----------
    n_inputs : int
        Channels per step of float sequences (ignored with ``vocab_size``).
    hidden_size : int, default=64
        Width of the recurrent state.
    embedding_dim : int, default=16
        Width of the output embedding.
    cell : {'lstm', 'gru'}, default='gru'
    pooling : {'last', 'mean', 'max'}, default='mean'
        How the per-step states become one vector (see
        :func:`~sklearn_nn._layers.pool_steps`).
    vocab_size : int or None, default=None
        Token sequences: ids in ``[0, vocab_size)``, 0 being padding.
    token_embedding_dim : int, default=32
        Width of the token embedding (``vocab_size`` set only).
    num_layers : int, default=1
        Stacked recurrent layers.
    conv_filters : sequence of int, default=()
        Causal convolution layers before the recurrent layer.
    conv_kernel_size : int, default=5
        Kernel size of those convolutions.
    observed_inputs : tuple (n_inputs, time_channel) or None, default=None
        Sequences with missing values (NaN inside a sequence) and irregular
        observation times: each channel is read as its last observed value,
        an observed mask and the time since it was observed (see
        :class:`~sklearn_nn._layers.ObservedInputs`, ``encoder.observed``).

    Notes
    -----
    ``forward(x, lengths)`` takes zero-padded sequences ``x`` of shape
    (n, T, n_inputs) -- or (n, T) token ids -- and their lengths (n,), and
    returns embeddings of shape (n, embedding_dim).
    """

    def __init__(
        self,
        n_inputs: int,
        hidden_size: int = 64,
        embedding_dim: int = 16,
        cell: str = "gru",
        pooling: str = "mean",
        vocab_size: int | None = None,
        token_embedding_dim: int = 32,
        num_layers: int = 1,
        conv_filters: Sequence[int] = (),
        conv_kernel_size: int = 5,
        observed_inputs=None,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.encoder = SequenceEncoder(
            n_inputs,
            hidden_size=hidden_size,
            num_layers=num_layers,
            cell=cell,
            vocab_size=vocab_size,
            embedding_dim=token_embedding_dim,
            conv_filters=conv_filters,
            conv_kernel_size=conv_kernel_size,
            observed_inputs=observed_inputs,
        )
        self.pooling = pooling
        self.projection = nn.Linear(self.encoder.n_outputs, embedding_dim)

    def forward(self, x, lengths):
        states = self.encoder(x, lengths)
        return self.projection(pool_steps(states, lengths, self.pooling))


class SiameseNetwork(nn.Module):
    """Two towers (or one shared tower) embedding the two items of a pair.

    Parameters
    ----------
    left_tower : nn.Module
        Embeds the left items.
    right_tower : nn.Module or None, default=None
        Embeds the right items; ``None`` shares ``left_tower`` (a siamese
        network).

    Notes
    -----
    ``forward(left, right)`` returns ``(left_embedding, right_embedding)``,
    each of shape (n, embedding_dim). Sequence towers also take the lengths:
    ``forward(left, right, left_lengths, right_lengths)``.
    """

    def __init__(self, left_tower: nn.Module, right_tower: nn.Module | None = None):
        super().__init__()
        self.left_tower = left_tower
        self.right_tower = right_tower

    @property
    def shared(self) -> bool:
        return self.right_tower is None

    def tower(self, side: str) -> nn.Module:
        """The tower of ``side`` ('left' or 'right')."""
        if side == "left" or self.right_tower is None:
            return self.left_tower
        return self.right_tower

    def forward(self, left, right, left_lengths=None, right_lengths=None):
        if left_lengths is None:
            return self.tower("left")(left), self.tower("right")(right)
        return (
            self.tower("left")(left, left_lengths),
            self.tower("right")(right, right_lengths),
        )


def cosine_similarity(left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """Row-wise cosine similarity of two (n, k) embeddings, shape (n,)."""
    return F.cosine_similarity(left, right, dim=1, eps=1e-8)


def pair_distance(
    left: torch.Tensor, right: torch.Tensor, distance: str = "euclidean"
) -> torch.Tensor:
    """Row-wise distance of two (n, k) embeddings, shape (n,).

    'euclidean' is ``||left - right||_2`` (its square root is taken of at
    least 1e-12 so that the gradient stays finite at 0); 'cosine' is the
    cosine distance ``1 - cos(left, right)`` in [0, 2].
    """
    if distance == "euclidean":
        squared = (left - right).square().sum(dim=1)
        return torch.sqrt(squared.clamp_min(1e-12))
    if distance == "cosine":
        return 1.0 - cosine_similarity(left, right)
    raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")


def contrastive_loss(
    distance: torch.Tensor, similar: torch.Tensor, margin: float = 1.0
) -> torch.Tensor:
    """Per-pair contrastive loss of Hadsell, Chopra and LeCun (2006).

    ``similar * d^2 + (1 - similar) * max(margin - d, 0)^2``.

    Parameters
    ----------
    distance : Tensor of shape (n,)
        A distance (0 for identical embeddings), not a similarity.
    similar : Tensor of shape (n,)
        1 for similar pairs, 0 for dissimilar ones; values in between are
        soft labels, for which the loss is smallest at
        ``d = (1 - similar) * margin``.
    margin : float, default=1.0
        Dissimilar pairs farther apart than ``margin`` cost nothing.

    Returns
    -------
    Tensor of shape (n,)
    """
    return (
        similar * distance.square()
        + (1.0 - similar) * torch.relu(margin - distance).square()
    )


def cosine_mse_loss(cosine: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pair squared error ``(cos - target)^2`` (target in [-1, 1])."""
    return (cosine - target).square()


class _PairReadout(nn.Module):
    """A readout on top of a :class:`SiameseNetwork` (``self.network``)."""

    def forward_train(self, left, right, *lengths):
        """The two embeddings only: all that :class:`SiamesePairLoss` reads.

        Training calls this instead of :meth:`forward` (see
        ``sklearn_nn._net``), which skips the readout head.
        """
        return self.network(left, right, *lengths)


class SimilarityReadout(_PairReadout):
    """Predicted similarity in [0, 1] of a pair, from a :class:`SiameseNetwork`.

    Parameters
    ----------
    network : SiameseNetwork
    readout : {'cosine', 'distance'}, default='cosine'
        'cosine': ``(1 + cos) / 2``; 'distance':
        ``clip(1 - d / margin, 0, 1)``, the similarity ``s`` at which the
        contrastive loss with soft label ``s`` is smallest for distance ``d``.
    distance : {'euclidean', 'cosine'}, default='euclidean'
    margin : float, default=1.0

    Notes
    -----
    ``forward(left, right)`` returns
    ``(similarity, left_embedding, right_embedding)`` with shapes (n, 1),
    (n, k), (n, k).
    """

    def __init__(
        self,
        network: SiameseNetwork,
        readout: str = "cosine",
        distance: str = "euclidean",
        margin: float = 1.0,
    ):
        super().__init__()
        if readout not in ("cosine", "distance"):
            raise ValueError(f"readout must be 'cosine' or 'distance', got {readout!r}")
        self.network = network
        self.readout = readout
        self.distance = distance
        self.margin = float(margin)

    def forward(self, left, right, *lengths):
        e_left, e_right = self.network(left, right, *lengths)
        if self.readout == "cosine":
            similarity = 0.5 * (1.0 + cosine_similarity(e_left, e_right))
        else:
            d = pair_distance(e_left, e_right, self.distance)
            similarity = torch.clamp(1.0 - d / self.margin, 0.0, 1.0)
        return similarity.unsqueeze(1), e_left, e_right


class VerificationReadout(_PairReadout):
    """Log-probabilities of same/different from the distance of a pair.

    ``P(similar | d) = sigmoid(coef * d + intercept)``; ``coef`` and
    ``intercept`` are buffers (Platt scaling fitted after training). They
    start at ``-4 / margin`` and ``2``, i.e. a decision threshold at
    ``d = margin / 2``, halfway between where the contrastive loss puts
    similar (0) and dissimilar (>= margin) pairs.

    Parameters
    ----------
    network : SiameseNetwork
    distance : {'euclidean', 'cosine'}, default='euclidean'
    margin : float, default=1.0
    positive_index : {0, 1}, default=1
        Column of the "similar" class in the output.

    Notes
    -----
    ``forward(left, right)`` returns
    ``(log_proba, left_embedding, right_embedding)`` with shapes (n, 2),
    (n, k), (n, k).
    """

    def __init__(
        self,
        network: SiameseNetwork,
        distance: str = "euclidean",
        margin: float = 1.0,
        positive_index: int = 1,
    ):
        super().__init__()
        if positive_index not in (0, 1):
            raise ValueError(f"positive_index must be 0 or 1, got {positive_index!r}")
        self.network = network
        self.distance = distance
        self.positive_index = int(positive_index)
        self.register_buffer("coef", torch.tensor(-4.0 / float(margin)))
        self.register_buffer("intercept", torch.tensor(2.0))

    def forward(self, left, right, *lengths):
        e_left, e_right = self.network(left, right, *lengths)
        logit = self.coef * pair_distance(e_left, e_right, self.distance)
        logit = logit + self.intercept
        columns = [F.logsigmoid(-logit), F.logsigmoid(logit)]
        if self.positive_index == 0:
            columns.reverse()
        return torch.stack(columns, dim=1), e_left, e_right


class SiamesePairLoss(nn.Module):
    """Training loss of a pair model, called as ``loss(y_pred, target, weight)``.

    ``y_pred`` is a readout's output tuple; its last two entries are the
    left and right embeddings, from which the loss recomputes the distance
    or the cosine.

    Parameters
    ----------
    loss : {'contrastive', 'cosine_mse'}, default='contrastive'
        'contrastive': :func:`contrastive_loss` of the ``distance``;
        'cosine_mse': :func:`cosine_mse_loss` between the cosine similarity
        and ``2 * similar - 1`` (similarity 1 -> cos 1, 0 -> cos -1).
    distance : {'euclidean', 'cosine'}, default='euclidean'
        Distance of the contrastive loss.
    margin : float, default=1.0
        Margin of the contrastive loss.
    positive_index : int or None, default=None
        When given, ``target`` holds class codes and the pairs with code
        ``positive_index`` are the similar ones; when None, ``target`` holds
        similarities in [0, 1] (shape (n,) or (n, 1)).
    """

    def __init__(
        self,
        loss: str = "contrastive",
        distance: str = "euclidean",
        margin: float = 1.0,
        positive_index: int | None = None,
    ):
        super().__init__()
        if loss not in ("contrastive", "cosine_mse"):
            raise ValueError(
                f"loss must be 'contrastive' or 'cosine_mse', got {loss!r}"
            )
        if distance not in DISTANCES:
            raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")
        self.loss = loss
        self.distance = distance
        self.margin = float(margin)
        self.positive_index = positive_index

    def forward(self, y_pred, target, weight=None):
        e_left, e_right = y_pred[-2], y_pred[-1]
        if self.positive_index is None:
            similar = target.reshape(-1).to(e_left.dtype)
        else:
            similar = (target.reshape(-1) == self.positive_index).to(e_left.dtype)
        if self.loss == "contrastive":
            d = pair_distance(e_left, e_right, self.distance)
            values = contrastive_loss(d, similar, self.margin)
        else:
            cos = cosine_similarity(e_left, e_right)
            values = cosine_mse_loss(cos, 2.0 * similar - 1.0)
        return weighted_mean(values, weight)
