"""
==============================================
Serving a model without pickle: skops and ONNX
==============================================

A fitted model has to leave the notebook to answer requests. Pickle does the
job but loading a pickle runs code from the file, so a service should load
only pickles it made itself. This example takes two safer routes (see
:ref:`deploying` for the details):

* **skops** stores the estimator without pickle and loads it without running
  code from the file, after checking the list of types it contains. Serving
  still needs the Python stack: sklearn_nn, scikit-learn, skorch and torch.
* **ONNX** turns ``predict`` / ``predict_proba`` into a graph of operators.
  Serving needs only onnxruntime (which exists for Python, C, C++, C#, Java
  and JavaScript): no sklearn_nn, no torch.

Both are shown on a scikit-learn Pipeline ending in a
:class:`~sklearn_nn.MixtureOfExpertsClassifier`, and ONNX also on a
:class:`~sklearn_nn.TargetReplicationLSTMClassifier` reading utterances of
different lengths. The last section times a one-sample request on each route.
"""

# %%
# A tabular Pipeline, saved and loaded with skops
# -----------------------------------------------
# A :class:`~sklearn.preprocessing.StandardScaler` and a mixture of three
# experts on the breast cancer data (float32, the estimator's dtype).
# ``skops.io.get_untrusted_types`` lists the types skops does not trust by
# default: here only sklearn_nn's own class, as the network is stored as
# numpy arrays and plain containers, never as torch or skorch objects.
import time

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as ort
import skl2onnx
import skops.io as sio
import torch
from aeon.datasets import load_classification
from matplotlib.ticker import FuncFormatter
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nn import MixtureOfExpertsClassifier, TargetReplicationLSTMClassifier
from sklearn_nn.onnx import to_onnx  # also registers the skl2onnx converters

torch.set_num_threads(1)  # one thread for torch, as for onnxruntime below

X, y = load_breast_cancer(return_X_y=True)
X = X.astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, random_state=0, stratify=y
)
pipe = make_pipeline(
    StandardScaler(),
    MixtureOfExpertsClassifier(n_experts=3, max_epochs=20, random_state=0),
).fit(X_train, y_train)
print(f"test accuracy: {pipe.score(X_test, y_test):.3f}")

blob = sio.dumps(pipe)
untrusted = sio.get_untrusted_types(data=blob)
print(f"skops file: {len(blob) / 1024:.0f} KiB, untrusted types: {untrusted}")
restored = sio.loads(blob, trusted=untrusted)
assert np.array_equal(restored.predict_proba(X_test), pipe.predict_proba(X_test))
print("skops: identical predict_proba after loading")

# %%
# The same Pipeline as an ONNX graph
# ----------------------------------
# Importing ``sklearn_nn.onnx`` registers converters with skl2onnx, so
# :func:`skl2onnx.to_onnx` converts the whole Pipeline: skl2onnx writes the
# scaler, torch exports the network. The ``zipmap`` option set to False gives
# the probabilities as a plain ``(n_samples, n_classes)`` tensor. Both
# routes run on one thread here.
model = skl2onnx.to_onnx(
    pipe, X[:1], options={MixtureOfExpertsClassifier: {"zipmap": False}}
)
options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
session = ort.InferenceSession(
    model.SerializeToString(), options, providers=["CPUExecutionProvider"]
)
print("inputs:", [i.name for i in session.get_inputs()])
print("outputs:", [o.name for o in session.get_outputs()])
label, proba = session.run(None, {"X": X_test})
diff = np.abs(proba - pipe.predict_proba(X_test)).max()
print(f"ONNX graph: {model.ByteSize() / 1024:.0f} KiB, max |difference| {diff:.1e}")
assert diff < 1e-4 and np.array_equal(label, pipe.predict(X_test))

# %%
# A sequence model: utterances of any length
# ------------------------------------------
# JapaneseVowels (UEA archive, bundled with aeon): utterances of 7 to 29
# frames of 12 LPC cepstrum coefficients, spoken by 9 speakers. aeon gives
# each utterance as (channels, frames); sklearn_nn reads (frames, channels).
# The sequence classifier (its default encoder: causal random-convolution
# features with a closed-form read-out) is fitted on the list of utterances
# as they are.
#
# :func:`sklearn_nn.onnx.to_onnx` exports it from a sample of two utterances;
# the graph's input is the NaN-padded float32 array ``(n, T, 12)`` and it
# finds each utterance's length itself, with dynamic batch and time axes. It
# is exported here from the two *shortest* training utterances and run on all
# test utterances, most of them longer.
S_train, speaker_train = load_classification("JapaneseVowels", split="train")
S_test, speaker_test = load_classification("JapaneseVowels", split="test")
S_train = [np.asarray(s, dtype=np.float32).T for s in S_train]
S_test = [np.asarray(s, dtype=np.float32).T for s in S_test]

lstm = TargetReplicationLSTMClassifier(random_state=0).fit(S_train, speaker_train)
print(f"sequence classifier test accuracy: {lstm.score(S_test, speaker_test):.3f}")


def pad(sequences):
    """A list of (T_i, 12) utterances as one NaN-padded (n, T, 12) array."""
    out = np.full((len(sequences), max(map(len, sequences)), 12), np.nan, np.float32)
    for i, seq in enumerate(sequences):
        out[i, : len(seq)] = seq
    return out


shortest = sorted(S_train, key=len)[:2]
lstm_model = to_onnx(lstm, shortest)
lstm_session = ort.InferenceSession(
    lstm_model.SerializeToString(), options, providers=["CPUExecutionProvider"]
)
padded = pad(S_test)
label, proba = lstm_session.run(None, {"X": padded})
diff = np.abs(proba - lstm.predict_proba(S_test)).max()
print(
    f"exported from utterances of {len(shortest[-1])} frames at most, "
    f"run on {padded.shape[1]}: max |difference| {diff:.1e}"
)
assert diff < 1e-4 and np.array_equal(label, lstm.predict(S_test))

# %%
# A one-sample request
# --------------------
# A service answers one request at a time, so what counts is the time of one
# call on one row (or one utterance). ``predict_proba`` pays for
# scikit-learn's input validation, the Pipeline and a torch forward pass in
# eager mode; ``session.run`` only for the graph. Each time below is the
# median of 200 calls, measured on the machine that built this page when the
# documentation was built: the numbers change from machine to machine, the
# ratio much less.


def median_ms(call, n_calls=200):
    call()  # warm-up
    times = []
    for _ in range(n_calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


row = X_test[:1]
utterance = max(S_test, key=len)  # one request: an utterance, no padding needed
timings = {
    "tabular pipeline": (
        median_ms(lambda: pipe.predict_proba(row)),
        median_ms(lambda: session.run(None, {"X": row})),
    ),
    f"sequences ({len(utterance)} frames)": (
        median_ms(lambda: lstm.predict_proba([utterance])),
        median_ms(lambda: lstm_session.run(None, {"X": utterance[None]})),
    ),
}
print(f"{'one request':<22}{'predict_proba':>15}{'onnxruntime':>13}{'ratio':>8}")
for name, (estimator_ms, onnx_ms) in timings.items():
    print(
        f"{name:<22}{estimator_ms:>12.3f} ms{onnx_ms:>10.3f} ms"
        f"{estimator_ms / onnx_ms:>7.0f}x"
    )

# %%
# Log-scale bars: both routes for each model.
fig, ax = plt.subplots(figsize=(7, 4))
positions = np.arange(len(timings))
width = 0.38
routes = ["sklearn_nn predict_proba", "onnxruntime session.run"]
for k, (route, color) in enumerate(zip(routes, ["tab:blue", "tab:orange"])):
    values = [pair[k] for pair in timings.values()]
    bars = ax.bar(
        positions + (k - 0.5) * width, values, width, label=route, color=color
    )
    ax.bar_label(bars, labels=[f"{v:.3g} ms" for v in values], fontsize=8)
ax.set_xticks(positions, list(timings))
ax.set_yscale("log")
all_ms = [ms for pair in timings.values() for ms in pair]
ax.set_ylim(min(all_ms) / 4, max(all_ms) * 10)  # room for the legend
ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
ax.set_ylabel("median time of one call (ms, log scale)")
ax.set_title("One-sample request, one CPU thread")
ax.legend(loc="upper center", ncol=2)
fig.tight_layout()
plt.show()
