"""Out-of-core fits: a memory map (or any array whose rows can be sliced) is
read a block of rows at a time, never whole, and trains the same model as the
same rows in memory; dask-ml's ``Incremental`` trains chunk by chunk on a
``LocalCluster`` of worker processes."""

import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone

from sklearn_nn import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from sklearn_nn._net import SliceIterator
from sklearn_nn._rows import RowBlocks, _page_releaser, is_row_source, read_rows

MOE = dict(
    expert_hidden_layer_sizes=(8,),
    gate_hidden_layer_sizes=(4,),
    max_epochs=3,
    random_state=0,
)


class RecordingRows:
    """A 2-D array whose rows can be sliced; it records every read and
    refuses to be converted whole."""

    def __init__(self, array):
        self.array = array
        self.reads = []

    @property
    def shape(self):
        return self.array.shape

    @property
    def dtype(self):
        return self.array.dtype

    def __len__(self):
        return len(self.array)

    def __getitem__(self, index):
        rows = self.array[index]
        self.reads.append(len(rows))
        return rows

    def __array__(self, *args, **kwargs):
        raise AssertionError("the whole array was converted")


@pytest.fixture
def small_blocks(monkeypatch):
    # several blocks and several reads per block on a small data set
    monkeypatch.setattr(SliceIterator, "block_rows", 256)
    monkeypatch.setattr(RowBlocks, "read_rows", 100)


def _data(n=1000, d=5, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int)
    return X, y


@pytest.mark.parametrize("early_stopping", [False, True])
def test_fit_reads_blocks_and_equals_the_in_memory_fit(small_blocks, early_stopping):
    X, y = _data()
    rows = RecordingRows(X)
    clf = MixtureOfExpertsClassifier(early_stopping=early_stopping, **MOE)
    in_memory = clone(clf).fit(X, y)
    clf.fit(rows, y)
    np.testing.assert_array_equal(clf.loss_curve_, in_memory.loss_curve_)
    np.testing.assert_array_equal(clf.predict_proba(X), in_memory.predict_proba(X))
    assert clf.n_features_in_ == 5
    # never more than one read's worth of rows at a time; every pass is read
    # in pieces: the validation pass, 3 epochs and the gate's usage
    assert max(rows.reads) <= 100
    assert sum(rows.reads) >= 5 * len(X)
    # prediction reads blocks too, and equals the in-memory one
    rows.reads.clear()
    np.testing.assert_array_equal(clf.predict_proba(rows), in_memory.predict_proba(X))
    assert max(rows.reads) <= 100


def test_memmap_fit_equals_the_in_memory_fit(tmp_path, small_blocks):
    X, y = _data()
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    assert is_row_source(mapped) and not is_row_source(X)
    for model, target in [
        (MixtureOfExpertsClassifier(**MOE), y),
        # five cross-fitted members: the rows' folds are hashed block by block
        (MixtureOfExpertsRegressor(**MOE), X[:, 0] - X[:, 2]),
    ]:
        in_memory = clone(model).fit(X, target)
        model.fit(mapped, target)
        np.testing.assert_array_equal(model.predict(mapped), in_memory.predict(X))


def test_memmap_pages_are_released_after_each_read(tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("reads RssFile from /proc/self/status")
    n, d = 200_000, 128  # 98 MiB of float32
    path = tmp_path / "X.dat"
    writer = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, d))
    writer[:] = 1.0
    writer.flush()
    del writer

    def rss_file_mib():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssFile:"):
                    return int(line.split()[1]) / 1024

    mapped = np.memmap(path, dtype=np.float32, mode="r", shape=(n, d))
    before = rss_file_mib()
    total = 0.0
    blocks = RowBlocks(mapped, np.float32)
    for start in range(0, n, 65536):
        total += float(blocks[slice(start, start + 65536)].sum())
    order = np.random.RandomState(0).permutation(n)[:65536]
    total += float(blocks[order].sum())
    assert total == n * d + 65536 * d
    # about one read (8192 rows, 4 MiB) stays mapped, not the 98 MiB file
    assert rss_file_mib() - before < 16
    # a copy-on-write map keeps its pages (releasing them would drop the
    # changes made in memory)
    private = np.memmap(path, dtype=np.float32, mode="c", shape=(n, d))
    private[0] = 5.0
    read_rows(private, slice(0, 20000))
    assert _page_releaser(private) is not _page_releaser(mapped)
    assert private[0, 0] == 5.0


def test_row_source_validation(small_blocks):
    X, y = _data()
    bad = X.copy()
    bad[777, 2] = np.nan
    clf = MixtureOfExpertsClassifier(**MOE)
    with pytest.raises(ValueError, match="NaN or infinity.*row 777"):
        clf.fit(RecordingRows(bad), y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(RecordingRows(X), y[:-1])
    huge = X.astype(np.float64)
    huge[5, 0] = 1e300
    with pytest.raises(ValueError, match="float32's range.*row 5"):
        clf.fit(RecordingRows(huge), y)
    clf.fit(RecordingRows(X), y)
    with pytest.raises(ValueError, match="X has 4 features, but"):
        clf.predict(RecordingRows(X[:, :4]))


def test_partial_fit_reads_a_memmap_chunk(tmp_path, small_blocks):
    X, y = _data()
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    on_disk, in_memory = (MixtureOfExpertsClassifier(**MOE) for _ in range(2))
    for chunk in (slice(0, 500), slice(500, 1000)):
        on_disk.partial_fit(mapped[chunk], y[chunk], classes=[0, 1])
        in_memory.partial_fit(X[chunk], y[chunk], classes=[0, 1])
    np.testing.assert_array_equal(on_disk.predict_proba(X), in_memory.predict_proba(X))


# two worker processes that import torch: 15-50 s on a busy 2-core machine
@pytest.mark.slow
@pytest.mark.distributed
def test_dask_ml_incremental_on_a_local_cluster():
    distributed = pytest.importorskip("dask.distributed")
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y = _data(n=2000)
    dX = da.from_array(X, chunks=(500, 5))
    dy = da.from_array(y, chunks=500)
    assert dX.numblocks[0] == 4
    model = MixtureOfExpertsClassifier(lr=0.01, **MOE)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")  # dask's notes on the cluster
        inc = wrappers.Incremental(model, shuffle_blocks=False)
        inc.fit(dX, dy, classes=[0, 1])
        proba = inc.predict_proba(dX).compute()
    # one partial_fit call per block, in order: the same model as calling
    # partial_fit on the blocks here
    fitted = inc.estimator_
    assert fitted.n_iter_ == 4
    local = clone(model)
    for start in range(0, 2000, 500):
        local.partial_fit(
            X[start : start + 500], y[start : start + 500], classes=[0, 1]
        )
    np.testing.assert_allclose(proba, local.predict_proba(X), rtol=1e-6, atol=1e-7)
    assert fitted.score(X, y) > 0.7


def test_pair_matrix_from_a_memmap(tmp_path, small_blocks):
    # the MLP towers read each side's columns of the rows a block needs
    from sklearn_nn import SiamesePairClassifier

    rng = np.random.RandomState(0)
    left = rng.normal(size=(600, 3)).astype(np.float32)
    label = rng.randint(2, size=600)
    noise = rng.normal(size=(600, 3)).astype(np.float32)
    right = np.where(label[:, None] == 1, left + 0.1 * noise, noise)
    X = np.hstack([left, right])
    np.save(tmp_path / "pairs.npy", X)
    mapped = np.load(tmp_path / "pairs.npy", mmap_mode="r")
    rows = RecordingRows(X)
    clf = SiamesePairClassifier(
        n_left_features=3, hidden_layer_sizes=(8,), embedding_dim=4, max_epochs=3,
        random_state=0,
    )  # fmt: skip
    in_memory = clone(clf).fit(X, label)
    for source in (mapped, rows):
        fitted = clone(clf).fit(source, label)
        np.testing.assert_array_equal(fitted.loss_curve_, in_memory.loss_curve_)
        np.testing.assert_allclose(
            fitted.predict_proba(source), in_memory.predict_proba(X), rtol=1e-6
        )
    assert max(rows.reads) <= 100
