"""
============================================================
Siamese network: learning "same digit?" from pairs of digits
============================================================

A siamese network learns from *pairs*: it embeds each item of a pair with the
same tower and is trained so that the embeddings of similar items are close
and those of dissimilar items are at least a margin apart (the contrastive
loss of Hadsell, Chopra and LeCun, 2006).

Here the items are the 8x8 images of scikit-learn's bundled digits and a pair
is labelled 1 when both images show the same digit. The network never sees
which digit an image shows, only whether two images show the same one; yet
its 2-D embedding sorts the images by digit. We compare the trained verifier
with the cosine similarity of raw pixels and of PCA features, and look at the
embedding before and after training.
"""

# %%
# Pairs of digit images
# ---------------------
# The images are split first, so the test pairs are made of images that no
# training pair contains. Half the pairs show the same digit. A pair is one
# row ``[left image | right image]`` of 128 pixels: the layout that lets pair
# data go through scikit-learn's tools as one array.
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from sklearn_nn import SiamesePairClassifier
from sklearn_nn.siamese import stack_pairs

torch.set_num_threads(1)  # tiny networks: one thread is fastest

X, digit = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, digit_train, digit_test = train_test_split(
    X, digit, test_size=0.5, random_state=0, stratify=digit
)


def make_pairs(images, labels, n_pairs, rng):
    same = rng.rand(n_pairs) < 0.5
    left = rng.randint(len(images), size=n_pairs)
    right = np.empty(n_pairs, dtype=int)
    for k in range(n_pairs):
        pool = np.flatnonzero((labels == labels[left[k]]) == same[k])
        right[k] = rng.choice(pool[pool != left[k]])
    return stack_pairs(images[left], images[right]), same.astype(int)


rng = np.random.RandomState(0)
P_train, y_train = make_pairs(X_train, digit_train, 3000, rng)
P_test, y_test = make_pairs(X_test, digit_test, 2000, rng)
print(P_train.shape, "pairs; share of same-digit pairs:", y_train.mean())

# %%
# Baselines: cosine similarity of pixels and of PCA features
# ----------------------------------------------------------
# A verifier without learning: call a pair "same" when the cosine similarity
# of its two items exceeds a threshold, chosen for the best accuracy on the
# training pairs.


def cosine_verifier_accuracy(features):
    def cosine(P):
        k = P.shape[1] // 2
        a, b = P[:, :k], P[:, k:]
        return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)

    c_train = cosine(features(P_train))
    thresholds = np.unique(c_train)
    best = thresholds[
        np.argmax([np.mean((c_train >= t) == y_train) for t in thresholds])
    ]
    return np.mean((cosine(features(P_test)) >= best) == y_test)


pca = PCA(16, random_state=0).fit(X_train)


def pca_features(P):
    return stack_pairs(pca.transform(P[:, :64]), pca.transform(P[:, 64:]))


print(f"cosine of raw pixels:    {cosine_verifier_accuracy(lambda P: P):.3f}")
print(f"cosine of PCA(16):       {cosine_verifier_accuracy(pca_features):.3f}")

# %%
# A siamese verifier with a 2-D embedding
# ---------------------------------------
# One shared MLP tower maps an image to 2 numbers. We train for one epoch,
# keep that embedding as the "before" picture, then continue training
# (``warm_start=True``) for 40 more epochs. ``predict_proba`` comes from a
# logistic mapping of the distance fitted after training (Platt scaling).
siamese = SiamesePairClassifier(
    hidden_layer_sizes=(64, 32),
    embedding_dim=2,
    margin=1.0,
    lr=3e-3,
    max_epochs=1,
    warm_start=True,
    random_state=0,
)
with warnings.catch_warnings():
    # after one epoch the embedding is still crowded; that is the point here
    warnings.simplefilter("ignore")
    siamese.fit(P_train, y_train)
before = siamese.embed(X_test)
print(f"siamese, after 1 epoch:  {siamese.score(P_test, y_test):.3f}")

siamese.set_params(max_epochs=40).fit(P_train, y_train)
after = siamese.embed(X_test)
print(f"siamese, after training: {siamese.score(P_test, y_test):.3f}")

# %%
# The embedding sorts images by digit
# -----------------------------------
# The network was only told "same" or "different", never which digit. A
# 1-nearest-neighbour classifier in its 2-D embedding space, fitted on the
# training images, measures how well the digits cluster.
pca2 = PCA(2).fit(X_train)
knn = KNeighborsClassifier(1).fit(siamese.embed(X_train), digit_train)
knn_pca = KNeighborsClassifier(1).fit(pca2.transform(X_train), digit_train)
print(f"1-NN digit accuracy in the 2-D embedding: {knn.score(after, digit_test):.3f}")
print(
    "1-NN digit accuracy in 2-D PCA:           "
    f"{knn_pca.score(pca2.transform(X_test), digit_test):.3f}"
)

fig, axes = plt.subplots(1, 3, figsize=(13, 4.3), layout="constrained")
views = [
    (pca2.transform(X_test), "PCA of the pixels (2-D)"),
    (before, "siamese, after 1 epoch"),
    (after, "siamese, after 41 epochs"),
]
for ax, (emb, title) in zip(axes, views):
    scatter = ax.scatter(emb[:, 0], emb[:, 1], c=digit_test, cmap="tab10", s=6)
    for d in range(10):
        centre = np.median(emb[digit_test == d], axis=0)
        ax.text(*centre, str(d), fontsize=13, weight="bold", ha="center", va="center")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(scatter, ax=axes, ticks=range(10), label="digit (never shown to the net)")
plt.show()

# %%
# The left panel is what a linear 2-D view of the pixels gives; after one
# epoch the siamese embedding is still a blur; after training, images of the
# same digit form tight groups at least a margin apart from the other digits.
# The same groups are what makes the verifier accurate: two images are called
# "the same digit" when their embeddings are close.
