"""
=================================================
Speaker verification on JapaneseVowels utterances
=================================================

Are two utterances spoken by the same person? Each utterance of the
JapaneseVowels set (UEA archive, bundled with aeon) is a sequence of 7 to 29
frames of 12 LPC cepstrum coefficients, spoken by one of 9 speakers.

A :class:`~sklearn_nn.SiamesePairClassifier` with a GRU tower
(``tower="gru"``) embeds each utterance -- a float sequence of its own
length -- by the mean of the GRU's states over its frames, and learns from
pairs of *training* utterances whether two embeddings belong to the same
speaker. It is then asked about pairs of *test* utterances it has never
seen. The pairs go in as a plain list of ``(left, right)`` tuples, and a
:class:`~sklearn_nn.preprocessing.SequenceStandardScaler` standardises the
coefficients in the same Pipeline.
"""

# %%
# Pairs of utterances
# -------------------
# aeon gives each utterance as (channels, frames); sklearn_nn reads
# (frames, channels), hence the transpose. :func:`~sklearn_nn.siamese.make_pairs`
# draws the pairs: half are two different utterances of one speaker, half
# are utterances of two speakers.
import matplotlib.pyplot as plt
import numpy as np
import torch
from aeon.datasets import load_classification
from aeon.distances import dtw_distance
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.pipeline import make_pipeline

from sklearn_nn import SiamesePairClassifier
from sklearn_nn.preprocessing import SequenceStandardScaler
from sklearn_nn.siamese import make_pairs

X_train, speaker_train = load_classification("JapaneseVowels", split="train")
X_test, speaker_test = load_classification("JapaneseVowels", split="test")
X_train = [np.asarray(x, dtype=float).T for x in X_train]
X_test = [np.asarray(x, dtype=float).T for x in X_test]


P_train, same_train = make_pairs(X_train, speaker_train, 2000, random_state=0)
P_test, same_test = make_pairs(X_test, speaker_test, 2000, random_state=1)
print(f"{len(P_train)} training pairs, {len(P_test)} test pairs of unseen utterances")

# %%
# The siamese GRU
# ---------------
torch.set_num_threads(1)  # aeon's numba code may have raised torch's count
model = make_pipeline(
    SequenceStandardScaler(),
    SiamesePairClassifier(tower="gru", max_epochs=30, random_state=0),
)
model.fit(P_train, same_train)
p_same = model.predict_proba(P_test)[:, 1]
print(f"siamese GRU: test accuracy {model.score(P_test, same_test):.3f}")

# %%
# Two classic baselines, fitted on the same training pairs
# ---------------------------------------------------------
# The cosine similarity of the two utterances' mean frames, and the dynamic
# time warping distance between the two (standardised) sequences; each is
# thresholded where it gives the best accuracy on the training pairs.
scaler = model[0]


def mean_frame_cosine(pairs):
    a = np.array([s.mean(0) for s, _ in scaler.transform(pairs)])
    b = np.array([s.mean(0) for _, s in scaler.transform(pairs)])
    return (
        np.einsum("ij,ij->i", a, b)
        / np.linalg.norm(a, axis=1)
        / np.linalg.norm(b, axis=1)
    )


def minus_dtw(pairs):
    return np.array([-dtw_distance(a.T, b.T) for a, b in scaler.transform(pairs)])


def thresholded_accuracy(score_train, score_test):
    cuts = np.unique(score_train)
    accuracy = [np.mean((score_train >= c) == same_train) for c in cuts]
    best = cuts[int(np.argmax(accuracy))]
    return np.mean((score_test >= best) == same_test)


scores = {"siamese GRU": p_same}
for name, score in [("mean-frame cosine", mean_frame_cosine), ("DTW", minus_dtw)]:
    scores[name] = score(P_test)
    acc = thresholded_accuracy(score(P_train), scores[name])
    print(f"{name}: test accuracy {acc:.3f}")

# %%
# Embeddings of unseen utterances, and the ROC curves
# ---------------------------------------------------
# ``embed`` takes a list of sequences of any length. The utterances of the
# test set, embedded by the trained tower and projected on two principal
# components, gather by speaker although no test speaker label was used.
embedding = model[-1].embed(scaler.transform(X_test))
xy = PCA(2, random_state=0).fit_transform(embedding)

fig, (ax_emb, ax_roc) = plt.subplots(1, 2, figsize=(11, 4.5))
for s in np.unique(speaker_test):
    mask = speaker_test == s
    ax_emb.scatter(xy[mask, 0], xy[mask, 1], s=12, label=f"speaker {s}")
ax_emb.set_title("Test utterances: GRU embeddings (PCA)")
ax_emb.legend(fontsize=7, ncol=3, loc="best")
for name, score in scores.items():
    fpr, tpr, _ = roc_curve(same_test, score)
    auc = roc_auc_score(same_test, score)
    ax_roc.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
ax_roc.plot([0, 1], [0, 1], color="0.7", linestyle="--")
ax_roc.set_xlabel("false positive rate (different speakers called same)")
ax_roc.set_ylabel("true positive rate")
ax_roc.set_title("Same speaker? ROC on pairs of unseen utterances")
ax_roc.legend(loc="lower right")
fig.tight_layout()
plt.show()
