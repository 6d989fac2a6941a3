"""fit(..., X_val=, y_val=, sample_weight_val=): a validation set given by
the user for early stopping, as HistGradientBoosting takes it (issue 13)."""

import numpy as np
import pytest
import sklearn
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from test_common import ESTIMATOR_CLASSES, _data, fast_instance

ids = {"ids": lambda c: c.__name__}
# the pair classifier's score goes through the Platt scaling fitted after
# training; the validation score is read from the network during training
SCORE_MATCHES = [c for c in ESTIMATOR_CLASSES if c.__name__ != "SiamesePairClassifier"]


def _split(cls):
    X, y = _data(cls, n=80)
    y_val = y[60:]
    if cls.__name__ == "SiamesePairRegressor":
        # its similarity targets are scaled by the training range
        # (target_range='auto'): y_val outside it is an error naming y_val
        y_val = np.clip(y_val, y[:60].min(), y[:60].max())
    return X[:60], y[:60], X[60:], y_val


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, **ids)
def test_the_given_validation_set_replaces_the_internal_split(cls):
    X, y, X_val, y_val = _split(cls)
    kw = dict(max_epochs=6, early_stopping=True, n_iter_no_change=50, tol=0)
    est = fast_instance(cls, batch_size=1000, **kw)
    est.fit(X, y, X_val=X_val, y_val=y_val)
    assert len(est.validation_loss_curve_) == len(est.validation_scores_) == 6
    # every training row is trained on (an internal split would hold 6 out);
    # a pair model may add generated dissimilar pairs
    sizes = est.net_.history[-1, "batches", :, "train_batch_size"]
    assert sum(sizes) >= 60
    assert sum(est.net_.history[-1, "batches", :, "valid_batch_size"]) == 20
    internal = fast_instance(cls, batch_size=1000, **kw).fit(X, y)
    assert sum(internal.net_.history[-1, "batches", :, "valid_batch_size"]) == 6
    assert not np.allclose(internal.validation_loss_curve_, est.validation_loss_curve_)


@pytest.mark.parametrize("cls", SCORE_MATCHES, **ids)
def test_validation_scores_are_the_score_on_the_given_set(cls):
    X, y, X_val, y_val = _split(cls)
    est = fast_instance(
        cls, max_epochs=8, early_stopping=True, n_iter_no_change=50, tol=0
    )
    w = np.linspace(0.5, 2.0, len(y_val))
    est.fit(X, y, X_val=X_val, y_val=y_val, sample_weight_val=w)
    # the restored weights are those of the best validation epoch
    assert est.best_validation_score_ == pytest.approx(
        est.score(X_val, y_val, sample_weight=w), abs=1e-6
    )


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, **ids)
def test_validation_arguments_are_checked(cls):
    X, y, X_val, y_val = _split(cls)
    est = fast_instance(cls, max_epochs=2, early_stopping=True)
    with pytest.raises(ValueError, match="X_val is given, but y_val is not"):
        est.fit(X, y, X_val=X_val)
    with pytest.raises(ValueError, match="y_val is given, but X_val is not"):
        est.fit(X, y, y_val=y_val)
    with pytest.raises(ValueError, match="sample_weight_val is given without"):
        est.fit(X, y, sample_weight_val=np.ones(20))
    with pytest.raises(ValueError, match="set early_stopping=True"):
        est.set_params(early_stopping=False).fit(X, y, X_val=X_val, y_val=y_val)
    est.set_params(early_stopping=True)
    with pytest.raises(ValueError, match="features"):
        est.fit(X, y, X_val=X_val[:, :-2], y_val=y_val)
    with pytest.raises((ValueError, TypeError), match="sample_weight_val"):
        est.fit(X, y, X_val=X_val, y_val=y_val, sample_weight_val=-np.ones(20))
    if is_classifier(est):
        with pytest.raises(ValueError, match="y_val has labels that are not in y"):
            est.fit(X, y, X_val=X_val, y_val=np.where(y_val == y_val[0], 7, y_val))
    assert not hasattr(est, "net_")


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, **ids)
def test_validation_set_through_a_pipeline_with_metadata_routing(cls):
    X, y, X_val, y_val = _split(cls)
    kw = dict(max_epochs=4, early_stopping=True, n_iter_no_change=50, tol=0)
    scaler = StandardScaler().fit(X)
    direct = fast_instance(cls, **kw).fit(
        scaler.transform(X), y, X_val=scaler.transform(X_val), y_val=y_val
    )
    with sklearn.config_context(enable_metadata_routing=True):
        est = fast_instance(cls, **kw).set_fit_request(X_val=True, y_val=True)
        pipe = Pipeline(
            [("scale", StandardScaler()), ("model", est)], transform_input=["X_val"]
        )
        pipe.fit(X, y, X_val=X_val, y_val=y_val)
    np.testing.assert_allclose(
        pipe[-1].validation_loss_curve_, direct.validation_loss_curve_, rtol=1e-6
    )
