"""Grid search on a dask.distributed cluster through joblib's dask back-end.

Marked ``distributed``: skip with ``pytest -m "not distributed"``. Skipped
when dask.distributed is not installed (it is in the ``test`` extra).
"""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nn import MixtureOfExpertsClassifier

distributed = pytest.importorskip("dask.distributed")
joblib = pytest.importorskip("joblib")

pytestmark = pytest.mark.distributed


def _search(n_jobs):
    X, y = make_classification(
        n_samples=150, n_features=6, n_informative=4, random_state=0
    )
    model = make_pipeline(
        StandardScaler(),
        MixtureOfExpertsClassifier(
            max_epochs=10, batch_size=32, dtype="float64", random_state=0
        ),
    )
    grid = {
        "mixtureofexpertsclassifier__n_experts": [2, 3],
        "mixtureofexpertsclassifier__lr": [1e-3, 3e-2],
    }
    return GridSearchCV(model, grid, cv=3, n_jobs=n_jobs), X, y


def test_grid_search_on_dask_local_cluster_equals_sequential():
    sequential, X, y = _search(n_jobs=1)
    sequential.fit(X, y)

    on_dask, X, y = _search(n_jobs=-1)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        with (
            distributed.get_task_stream(client) as stream,
            joblib.parallel_backend("dask"),
        ):
            on_dask.fit(X, y)
    # the cross-validation fits really ran on the cluster's two workers
    assert len(stream.data) > 0
    assert len({task["worker"] for task in stream.data}) == 2

    assert on_dask.best_params_ == sequential.best_params_
    for key in ("mean_test_score", "std_test_score"):
        np.testing.assert_allclose(
            on_dask.cv_results_[key], sequential.cv_results_[key], rtol=0, atol=1e-9
        )
    # the refitted best model (fitted in this process in both cases) agrees
    np.testing.assert_allclose(
        on_dask.predict_proba(X), sequential.predict_proba(X), rtol=0, atol=1e-12
    )
    # learning happened: the best candidate beats the majority class clearly
    assert sequential.best_score_ > 0.8
