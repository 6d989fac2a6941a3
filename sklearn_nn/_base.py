"""The shared base of every sklearn_nn estimator.

A public estimator is a plain scikit-learn estimator. ``fit`` validates the
data, encodes the target, draws every seed from one ``random_state``, builds
a private skorch net (:class:`sklearn_nn._net._Net`) around the family's torch
module and loss, trains it and keeps it as ``net_``.

A family implements a few hooks:

``_build_module()``
    the torch module (uses ``n_features_in_`` and the encoded target's shape);
``_build_criterion()``
    the loss, called as ``criterion(y_pred, target, weight)``;
``_validate_fit_data`` / ``_validate_X`` / ``_make_inputs``
    only when the input is not a plain 2-D float matrix (sequences, pairs);
``_training_data``
    to train on derived data (generated pairs, out-of-fold predictions);
``_batch_iterator``
    to batch differently (e.g. by sequence length).

Classifier modules return log-probabilities first, regressor modules the
prediction first; extra outputs follow in a tuple.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import numbers
import threading

import numpy as np
import torch
from joblib import hash as joblib_hash
from sklearn.base import BaseEstimator, _fit_context, is_classifier
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)
from skorch.callbacks import PassthroughScoring, PrintLog
from skorch.helper import predefined_split
from skorch.utils import noop

from ._net import (
    EpochProgressBar,
    SliceIterator,
    StopOnDivergence,
    TensorBatches,
    ValidationScore,
    _EarlyStopping,
    _Net,
)
from ._persistence import net_state, restore_net
from ._rows import RowBlocks, check_row_source, is_row_source

_OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}
_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_NUMPY_DTYPES = {"float32": np.float32, "float64": np.float64}
_SEED_MAX = np.iinfo(np.int32).max


def resolve_device(device: str) -> str:
    """Turn the ``device`` parameter into a torch device string.

    'auto' picks 'cuda' when a CUDA device is available and 'cpu' otherwise.
    Asking for CUDA on a machine without one is a ``ValueError``.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda"):
        raise ValueError(
            f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}."
        )
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but no CUDA device is available "
                "(torch.cuda.is_available() is False). Use device='cpu', or "
                "device='auto' to take a GPU only when there is one."
            )
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(
                f"device={device!r} was requested but only {count} CUDA device(s) "
                f"are visible (valid indices 0..{count - 1})."
            )
    return str(parsed)


# torch's global RNG is shared by every thread of the process
_TORCH_RNG_LOCK = threading.RLock()


@contextlib.contextmanager
def seeded_torch(seed, device: str):
    """Seed torch's global RNG for the block and restore it afterwards.

    Module initialisation, dropout and sampling noise draw from torch's global
    generator; the fork keeps the user's own RNG state untouched. The lock
    makes fits in concurrent threads (joblib's threading backend, an
    in-process dask worker) run one at a time, so that each stays
    reproducible; process-based parallelism is unaffected.

    ``seed`` is an int, or a state returned by the function that the block
    yields (called at its end): the block then continues that stream of
    random numbers (``partial_fit`` carries dropout's stream from call to
    call this way).
    """
    dev = torch.device(device)
    devices = [dev.index or 0] if dev.type == "cuda" else []
    with _TORCH_RNG_LOCK, torch.random.fork_rng(devices=devices):
        if isinstance(seed, tuple):
            cpu, cuda = seed
            torch.set_rng_state(torch.from_numpy(cpu))
            if devices and cuda is not None:
                torch.cuda.set_rng_state(torch.from_numpy(cuda), devices[0])
        elif devices:
            torch.manual_seed(seed)
        else:
            # a CPU fit seeds (and restores) the CPU generator only:
            # torch.manual_seed would also reseed every CUDA generator, which
            # the fork does not restore (and costs ~3 ms of lazy-init
            # bookkeeping on a CUDA build)
            torch.default_generator.manual_seed(seed)
        yield functools.partial(_torch_rng_state, devices)


def _torch_rng_state(devices):
    """The global generators' states as numpy arrays (CPU, CUDA or None)."""
    cpu = torch.get_rng_state().numpy().copy()
    cuda = torch.cuda.get_rng_state(devices[0]).numpy().copy() if devices else None
    return cpu, cuda


class _FitCall:
    """What kind of fit is running: ``warm`` (``net_`` is trained further)
    and ``partial`` (one ``partial_fit`` call, whose first call gives a
    classifier's ``classes``). The template sets it as ``_fit_call`` for the
    families' hooks and removes it afterwards."""

    def __init__(self, *, warm, partial, classes=None):
        self.warm = warm
        self.partial = partial
        self.classes = classes


class BaseNeuralEstimator(BaseEstimator):
    """Common parameters and the fit template of all sklearn_nn estimators.

    Not public: subclasses list every parameter in their own ``__init__``
    (scikit-learn reads the signature) and pass the common ones here.
    """

    _parameter_constraints: dict = {
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(numbers.Integral, 1, None, closed="left"),
        ],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), callable],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "device": [str],
        "dtype": [StrOptions(set(_DTYPES))],
    }

    # rows per forward pass at prediction time
    _inference_batch_size = 16384
    # a family whose module reads the feature matrix as it is sets this:
    # a memory map (or any row source, see _rows.py) is then validated and
    # read a block of rows at a time instead of being copied whole
    _reads_row_sources = False
    # batch_size='auto' is min(_auto_batch_size, n_samples)
    _auto_batch_size = 200

    def __init__(
        self,
        *,
        max_epochs=200,
        batch_size="auto",
        lr=1e-3,
        optimizer="adam",
        weight_decay=0.0,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        verbose=0,
        warm_start=False,
        random_state=None,
        device="cpu",
        dtype="float32",
    ):
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.random_state = random_state
        self.device = device
        self.dtype = dtype

    # ------------------------------------------------------------------ hooks
    def _build_module(self) -> torch.nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError

    def _build_criterion(self) -> torch.nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError

    def _validate_X(self, X, *, reset):
        """Validate predict-time input (2-D float matrix by default)."""
        if self._reads_row_sources and is_row_source(X):
            return check_row_source(X, self, reset=reset, dtype=self._numpy_dtype)
        if not reset and _is_plain_valid_matrix(X, self):
            # fast path for the common case (a clean float ndarray, fitted
            # without feature names): skips the dataframe detection that
            # dominates the cost of predicting a few rows.
            return X
        return validate_data(
            self, X, reset=reset, dtype=(np.float64, np.float32), order="C"
        )

    def _check_parameters(self):
        """Check parameter values and combinations that ``_parameter_constraints``
        cannot express (layer sizes, mutually exclusive options).

        Called at the top of ``fit``, before the data is validated and before
        any base model is fitted, so that a bad parameter fails at once.
        """

    def _make_inputs(self, X) -> tuple[torch.Tensor, ...]:
        """Turn validated ``X`` into the module's positional input tensors
        (a row source into a :class:`~sklearn_nn._rows.RowBlocks`, read when
        the batches are taken)."""
        if self._reads_row_sources and is_row_source(X):
            return (RowBlocks(X, self._numpy_dtype),)
        return (_as_tensor(X, self._numpy_dtype),)

    @property
    def _dtype_name(self):
        # the precision of the fitted network (``dtype`` may have been changed
        # with set_params since), or ``dtype`` before the first fit
        return getattr(self, "_fitted_dtype", self.dtype)

    @property
    def _torch_dtype(self):
        return _DTYPES[self._dtype_name]

    @property
    def _numpy_dtype(self):
        return _NUMPY_DTYPES[self._dtype_name]

    # -------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X,
        y,
        sample_weight=None,
        *,
        X_val=None,
        y_val=None,
        sample_weight_val=None,
    ):
        """Fit the model to data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights. An integer weight has the same effect as
            repeating the sample that many times (exactly so when a batch
            holds the whole training set).
        {validation_parameters}

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        KeyboardInterrupt
            Ctrl-C during training reaches the caller and the estimator is
            left as it was before this call (unfitted, or the previous model
            with its history when ``warm_start=True``), as after any failed
            fit.
        sklearn_nn.exceptions.DivergenceError
            When the training loss becomes NaN or infinite or explodes (a
            batch loss over a million times the first one's), typically from
            a learning rate far too large or unscaled data; the estimator is
            left as it was. With ``early_stopping=True`` and at least one
            validated epoch, the fit instead stops, restores the best
            validation epoch's weights and warns with
            :class:`~sklearn_nn.exceptions.DivergenceWarning`.
        """
        return self._fit_safely(
            X,
            y,
            sample_weight,
            warm=self.warm_start and hasattr(self, "net_"),
            validation=(X_val, y_val, sample_weight_val),
        )

    def _fit_safely(
        self, X, y, sample_weight, *, warm, validation, partial=False, classes=None
    ):
        """:meth:`_fit`, leaving the estimator as it was when it fails."""
        device = resolve_device(self.device)
        if warm:
            self._check_warm_start(device, partial)
        # a failed fit leaves the estimator as it was (fitted or not)
        state_before = dict(self.__dict__)
        net_before = _NetSnapshot(self.net_) if warm else None
        try:
            return self._fit(
                X,
                y,
                sample_weight,
                warm=warm,
                device=device,
                validation=validation,
                partial=partial,
                classes=classes,
            )
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(state_before)
            if net_before is not None:
                net_before.restore()
            raise
        finally:
            self.__dict__.pop("_fit_call", None)

    def _fit(
        self,
        X,
        y,
        sample_weight,
        *,
        warm,
        device,
        validation=(None,) * 3,
        partial=False,
        classes=None,
    ):
        """The fit template (see :meth:`fit`).

        ``warm``: continue training ``net_``. ``partial``: one pass over the
        data without early stopping (``partial_fit``), the random streams
        (``random_state``'s generator, the shuffling and torch's generators)
        carried over from the previous ``partial_fit`` call; ``classes``: the
        labels of a classifier's first ``partial_fit`` call.
        """
        # what the families' hooks may ask of this call (removed after it)
        self._fit_call = _FitCall(warm=warm, partial=partial, classes=classes)
        # parameter values and combinations, before any data work or
        # base-model fit
        self._check_parameters()
        _check_optimizer(self.optimizer)
        X_val, y_val, sample_weight_val = validation
        if X_val is not None or y_val is not None:
            if X_val is None or y_val is None:
                given, missing = ("X_val", "y_val")[:: 1 if y_val is None else -1]
                raise ValueError(f"{given} is given, but {missing} is not.")
            if not self.early_stopping:
                raise ValueError(
                    "X_val and y_val are the validation set of early stopping, but "
                    "early_stopping=False; set early_stopping=True to use them."
                )
        elif sample_weight_val is not None:
            raise ValueError("sample_weight_val is given without X_val and y_val.")
        if not warm:
            self._fitted_dtype = self.dtype
            self._fitted_parameters = self._fixed_parameters()
        _check_y_ndim(y)
        with _numeric_input_errors(regressor=not is_classifier(self)):
            X, y = self._validate_fit_data(X, y, reset=not warm)
        target = self._encode_target(y, reset=not warm)
        weight = self._fit_weights(sample_weight, X, target)
        if X_val is not None:
            checked_validation = self._check_validation_data(
                X_val, y_val, sample_weight_val
            )
        streams = getattr(self, "_partial_streams", None) if partial and warm else None
        if streams is None:
            rng = check_random_state(self.random_state)
            torch_seed = int(rng.randint(_SEED_MAX))
            generator = torch.Generator().manual_seed(int(rng.randint(_SEED_MAX)))
        else:
            # the previous partial_fit call's streams, continued
            rng, torch_seed, shuffle_state = streams
            generator = torch.Generator()
            generator.set_state(torch.from_numpy(shuffle_state))

        data = training_data = self._training_data(X, y, target, weight, rng)
        valid = None
        if X_val is not None:
            # its tensors after _training_data: a hard gate's base models are
            # fitted now
            valid = self._validation_data(*checked_validation).to(device)
        elif self.early_stopping and not partial:
            try:
                train_idx, valid_idx = train_test_split(
                    np.arange(len(data)),
                    test_size=self.validation_fraction,
                    random_state=rng,
                    stratify=data.target.numpy() if is_classifier(self) else None,
                )
            except ValueError as exc:
                raise ValueError(
                    "early_stopping=True could not hold out a validation set "
                    f"(validation_fraction={self.validation_fraction}, "
                    f"{len(data)} training samples"
                    + (", stratified by class" if is_classifier(self) else "")
                    + f"): {str(exc).rstrip('.')}. Use more data, a larger "
                    "validation_fraction, "
                    "or early_stopping=False."
                ) from exc
            data, valid = data.subset(train_idx), data.subset(valid_idx).to(device)
        data = data.to(device)

        batch_size = (
            min(self._auto_batch_size, len(data))
            if self.batch_size == "auto"
            else self.batch_size
        )
        settings = dict(
            iterator_train=self._batch_iterator(shuffle=True, generator=generator),
            iterator_valid=self._batch_iterator(shuffle=False),
            batch_size=batch_size,
            train_split=None if valid is None else predefined_split(valid),
            max_epochs=1 if partial else self.max_epochs,
        )
        callbacks = self._callbacks(valid is not None)
        if partial:
            # one pass per call: nothing to stop, nothing to restore
            callbacks = [
                (name, cb)
                for name, cb in callbacks
                if not getattr(cb, "stops_training", False)
            ]

        # skorch's PrintLog (verbose >= 2) prints only when the net is verbose
        settings["verbose"] = int(self.verbose >= 2)
        net = self.net_ if warm else None
        if warm:
            for key, value in settings.items():
                setattr(net, key, value)
            net.callbacks = callbacks
            net.initialize_callbacks()
            net.set_params(lr=self.lr, optimizer__weight_decay=self.weight_decay)
        try:
            with seeded_torch(torch_seed, device) as torch_state:
                if not warm:
                    net = self._new_net(device, callbacks=callbacks, **settings)
                self._train(net, data)
                torch_seed = torch_state()
        finally:
            if net is not None:
                _close_progress_bars(net)
        if partial:
            self._partial_streams = (rng, torch_seed, generator.get_state().numpy())
        else:
            # the state of a sequence of partial_fit calls (named _partial_*)
            # ends with a fit
            for key in [k for k in self.__dict__ if k.startswith("_partial_")]:
                del self.__dict__[key]
        self._store_fit_results(net)
        self._post_fit(X, target, weight, training_data)
        return self

    def _new_net(self, device, **settings):
        """A new, initialized net: the module, the loss and the optimizer
        that the estimator's parameters (and fitted attributes) define."""
        return _Net(
            module=self._build_module().to(self._torch_dtype),
            criterion=self._build_criterion(),
            device=device,
            **self._optimizer_settings(),
            **settings,
        ).initialize()

    # ------------------------------------------------------------ persistence
    def __getstate__(self):
        # the network as numpy arrays and plain containers (no torch or
        # skorch objects): pickle, joblib and skops.io all save this
        state = super().__getstate__()
        if "net_" in state:
            state = dict(state)
            state["net_"] = net_state(state["net_"])
        return state

    def __setstate__(self, state):
        net = state.get("net_")
        state = dict(state)
        state.pop("net_", None)
        super().__setstate__(state)
        if net is not None:
            self.net_ = restore_net(self, net)

    # parameters a warm-start fit applies to the fitted network; every other
    # parameter defines the network, its loss or its data and must not change
    _WARM_START_SETTINGS = frozenset(
        {
            "max_epochs",
            "batch_size",
            "lr",
            "weight_decay",
            "early_stopping",
            "validation_fraction",
            "n_iter_no_change",
            "tol",
            "verbose",
            "warm_start",
            "random_state",
            "class_weight",
            "device",
            "dtype",
        }
    )

    def _fixed_parameters(self):
        """A hash of each parameter a warm start cannot change."""
        params = self.get_params(deep=False)
        return {
            name: _parameter_hash(value)
            for name, value in params.items()
            if name not in self._WARM_START_SETTINGS
        }

    def _check_warm_start(self, device, partial=False):
        changed = [
            f"{name}={new!r} (fitted with {old!r})"
            for name, new, old in [
                ("dtype", self.dtype, self._fitted_dtype),
                ("device", device, self.net_.device),
            ]
            if new != old
        ]
        fitted = getattr(self, "_fitted_parameters", None)
        if fitted is not None:
            now = self._fixed_parameters()
            params = self.get_params(deep=False)
            changed += [
                f"{name}={params[name]!r}"
                for name in sorted(now)
                if name in fitted and now[name] != fitted[name]
            ]
        if changed:
            caller, fresh = (
                ("partial_fit", "Call fit, or partial_fit on a clone,")
                if partial
                else ("warm_start=True", "Set warm_start=False")
            )
            raise ValueError(
                f"{caller} continues training the fitted network, but "
                + ", ".join(changed)
                + " changed since it was fitted (only the training settings "
                + ", ".join(sorted(self._WARM_START_SETTINGS - {"device", "dtype"}))
                + f" may change). {fresh} to fit a new network."
            )

    def _training_data(self, X, y, target, weight, rng) -> TensorBatches:
        """The training set as tensors (on the CPU).

        Override to train on something other than ``_make_inputs(X)``, e.g.
        with generated negative pairs or out-of-fold base predictions. ``y`` is
        the validated target as given, ``target`` its encoding for the net,
        ``weight`` the effective sample weights (or None). ``rng`` is the fit's
        ``RandomState``: draw any randomness from it.
        """
        return TensorBatches(
            self._make_inputs(X),
            torch.as_tensor(target),
            None if weight is None else _weight_tensor(weight, self._torch_dtype),
        )

    def _check_validation_data(self, X_val, y_val, sample_weight_val):
        """The given validation set validated as the training data was (the
        fitted number of features, classes or outputs): ``(X_val, target,
        weight)``. The template calls it before any work on the training data
        (a hard gate's base models' cross-validation), so that a bad
        validation set fails at once."""
        _check_y_ndim(y_val)
        with _numeric_input_errors(regressor=not is_classifier(self)):
            X_val, y_val = self._validate_fit_data(X_val, y_val, reset=False)
        if is_classifier(self):
            unknown = np.setdiff1d(np.unique(y_val), self.classes_)
            if unknown.size:
                raise ValueError(
                    f"y_val has labels that are not in y: {unknown[:5].tolist()}; "
                    f"classes_ is {self.classes_.tolist()}."
                )
        else:
            n_outputs = 1 if np.ndim(y_val) == 1 else np.shape(y_val)[1]
            if n_outputs != self.n_outputs_:
                raise ValueError(
                    f"y_val has {n_outputs} outputs, but y has {self.n_outputs_}."
                )
        try:
            target = self._encode_target(y_val, reset=False)
        except ValueError as exc:
            raise ValueError(f"y_val: {exc}") from None
        weight = None
        if sample_weight_val is not None:
            try:
                weight = self._fit_weights(sample_weight_val, X_val, target)
            except (TypeError, ValueError) as exc:
                raise type(exc)(
                    str(exc).replace("sample_weight", "sample_weight_val")
                ) from None
        return X_val, target, weight

    def _validation_data(self, X_val, target, weight):
        """The checked validation set (:meth:`_check_validation_data`) as the
        module's tensors, after the training data was built."""
        return TensorBatches(
            self._make_inputs(X_val),
            torch.as_tensor(target),
            None if weight is None else _weight_tensor(weight, self._torch_dtype),
        )

    def _train(self, net, data):
        """Train ``net`` on ``data`` (skorch's epochs; override for a
        closed-form fit, which records its own history)."""
        net.partial_fit(data, None)

    def _post_fit(self, X, target, weight, data):
        """Called at the end of ``fit`` with the validated training data.

        Override to fit what depends on the trained network (a calibration,
        a diagnostic); ``_module_output(X)`` gives the network's output.
        ``data`` is what ``_training_data`` returned: the module's inputs,
        target and weights for all the training data (on the CPU, before
        any validation split).
        """

    def _batch_iterator(self, *, shuffle, generator=None):
        """A factory ``dataset -> iterable of batches`` for skorch.

        Override to batch differently (e.g. by sequence length).
        """
        return functools.partial(SliceIterator, shuffle=shuffle, generator=generator)

    def _validate_fit_data(self, X, y, *, reset):
        if self._reads_row_sources and is_row_source(X):
            # y in memory as always; X checked block by block
            y = validate_data(self, y=y, **self._y_validation_kwargs())
            check_consistent_length(X, y)
            X = check_row_source(X, self, reset=reset, dtype=self._numpy_dtype)
            return X, y
        return validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=(np.float64, np.float32),
            order="C",
            **self._y_validation_kwargs(),
        )

    def _optimizer_settings(self):
        opt = self.optimizer
        settings = {"optimizer": _OPTIMIZERS.get(opt, opt), "lr": self.lr}
        if isinstance(opt, str) or self.weight_decay:
            settings["optimizer__weight_decay"] = self.weight_decay
        return settings

    def _callbacks(self, has_validation):
        name = type(self).__name__
        verbose = int(self.verbose)
        callbacks = [
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("divergence", StopOnDivergence(name, self.lr)),
        ]
        if has_validation:
            callbacks += [
                ("valid_loss", PassthroughScoring(name="valid_loss")),
                ("valid_score", ValidationScore(self._score_output)),
            ]
        callbacks.append(
            (
                "early_stopping",
                _EarlyStopping(
                    monitor="valid_loss" if has_validation else "train_loss",
                    patience=self.n_iter_no_change,
                    threshold=self.tol,
                    threshold_mode="abs",
                    load_best=has_validation,
                    sink=print if verbose else noop,
                ),
            )
        )
        if verbose == 1:
            callbacks.append(("progress", EpochProgressBar(self.max_epochs, name)))
        elif verbose >= 2:
            callbacks.append(("print_log", PrintLog()))
        return callbacks

    def _store_fit_results(self, net):
        # drop tensors that callbacks keep (they would pin GPU memory and
        # make a CUDA-fitted model unpicklable on a CPU-only machine)
        for _, cb in net.callbacks_:
            if hasattr(cb, "best_model_weights_"):
                cb.best_model_weights_ = None
        # the validation split holds the validation tensors: not model state
        net.train_split = None
        history = net.history
        self.net_ = net
        self.n_iter_ = len(history)
        self.loss_curve_ = [float(v) for v in history[:, "train_loss"]]
        if "valid_loss" in history[-1]:
            self.validation_loss_curve_ = [float(v) for v in history[:, "valid_loss"]]
            self.validation_scores_ = [float(v) for v in history[:, "valid_score"]]
            # the score of the epoch whose weights were restored
            best = int(np.argmin(self.validation_loss_curve_))
            self.best_validation_score_ = self.validation_scores_[best]
        else:
            self.validation_loss_curve_ = None
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _fit_weights(self, sample_weight, X, target):
        """Per-sample training weights, or None when every weight is 1."""
        if sample_weight is None:
            return None
        if not np.isscalar(sample_weight):
            kind = np.asarray(sample_weight).dtype.kind
            if kind not in "biuf":
                dtype = np.asarray(sample_weight).dtype
                raise TypeError(
                    "sample_weight must hold numbers (one non-negative weight "
                    f"per sample); got an array of dtype {dtype}."
                )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        if not np.any(sample_weight > 0):
            raise ValueError(
                "sample_weight must contain at least one non-zero weight; "
                "all weights are zero."
            )
        return sample_weight

    # ---------------------------------------------------------------- predict
    def _forward(self, X, module=None):
        """User ``X`` through validation and the fitted module (or
        ``module``, a part of it that takes the same inputs)."""
        out = self._module_output(self._validated(X), module)
        _check_no_nan_output(out[0] if isinstance(out, tuple) else out)
        return out

    def _validated(self, X):
        """User ``X`` validated for a fitted estimator's prediction."""
        check_is_fitted(self)
        with _numeric_input_errors():
            return self._validate_X(X, reset=False)

    def _module_output(self, X, module=None):
        """Already validated ``X`` through the fitted module (eval mode), or
        through ``module``, a part of it that takes the same inputs."""
        return self.net_.infer_all(
            self._make_inputs(X), self._inference_batch_size, module
        )

    def __sklearn_is_fitted__(self):
        return hasattr(self, "net_")


def _is_plain_valid_matrix(X, estimator):
    """True when ``validate_data(estimator, X, reset=False)`` would return
    ``X`` unchanged: anything else goes through sklearn's full validation
    (and its error messages)."""
    return (
        type(X) is np.ndarray
        and X.ndim == 2
        and X.dtype in (np.float32, np.float64)
        and X.flags.c_contiguous
        and 0 < X.shape[0]
        and X.shape[1] == getattr(estimator, "n_features_in_", -1)
        and not hasattr(estimator, "feature_names_in_")
        # a NaN or inf makes the sum non-finite (as in scikit-learn's own
        # fast check): no temporary the size of X; a sum that overflows only
        # sends X through the full validation
        and bool(np.isfinite(np.sum(X, dtype=np.float64)))
    )


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _weight_tensor(weight, dtype):
    """Training weights as a tensor, divided by their maximum when it is far
    from 1.

    The losses are weighted means (``sum(w * l) / sum(w)``), unchanged by a
    common factor, and the division keeps float32 from rounding tiny weights
    (1e-300) to 0 or huge ones (1e300) to inf. Weights of ordinary size are
    kept as they are.
    """
    weight = np.asarray(weight, dtype=np.float64)
    top = weight.max()
    if not 1e-3 <= top <= 1e3:
        weight = weight / top
    return torch.as_tensor(weight, dtype=dtype)


def _parameter_hash(value):
    """A content hash of a parameter value (its identity when it cannot be
    pickled, e.g. a generator of CV splits)."""
    try:
        return joblib_hash(value)
    except Exception:
        return ("id", id(value))


def _as_tensor(X, dtype, name="X"):
    """Zero-copy numpy -> torch where possible (copy read-only input).

    float64 values beyond float32's range would become inf in a float32
    network (and NaN outputs): a ValueError naming ``name`` instead.
    """
    X = np.asarray(X)
    if (
        dtype == np.float32
        and X.dtype == np.float64
        and X.size
        and np.nanmax(np.abs(X)) > _FLOAT32_MAX
    ):
        raise ValueError(
            f"{name} has values beyond float32's range (|value| > "
            f"{_FLOAT32_MAX:.3g}), the precision of this model (dtype="
            "'float32'); rescale the input (e.g. StandardScaler) or fit with "
            "dtype='float64'."
        )
    X = np.asarray(X, dtype=dtype)
    if not X.flags.writeable:
        X = X.copy()
    return torch.from_numpy(X)


def _to_numpy(t):
    return t.detach().to("cpu", torch.float64).numpy()


class _NetSnapshot:
    """What a warm-start fit changes on a fitted net, to undo a failed fit."""

    _SETTINGS = (
        "iterator_train",
        "iterator_valid",
        "batch_size",
        "train_split",
        "max_epochs",
        "verbose",
        "callbacks",
        "callbacks_",
    )

    def __init__(self, net):
        self.net = net
        self.weights = copy.deepcopy(
            (net.module_.state_dict(), net.optimizer_.state_dict())
        )
        self.n_epochs = len(net.history)
        self.settings = {key: getattr(net, key) for key in self._SETTINGS}

    def restore(self):
        net = self.net
        net.module_.load_state_dict(self.weights[0])
        net.optimizer_.load_state_dict(self.weights[1])
        del net.history[self.n_epochs :]
        for key, value in self.settings.items():
            setattr(net, key, value)


def _close_progress_bars(net):
    for _, cb in getattr(net, "callbacks_", []):
        bar = getattr(cb, "_bar", None)
        if bar is not None:
            bar.close()
            del cb._bar


class NeuralClassifierBase(BaseNeuralEstimator):
    """Classification on top of the shared base.

    The module's first output must be log-probabilities of shape
    (n_samples, n_classes).
    """

    _parameter_constraints: dict = {
        **BaseNeuralEstimator._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def _y_validation_kwargs(self):
        return {}

    def _encode_target(self, y, *, reset):
        _check_label_types(y)
        check_classification_targets(y)
        return self._encode_labels(y, reset=reset)

    def _encode_labels(self, y, *, reset):
        """Class codes of already checked labels (``classes_`` on reset)."""
        given = getattr(getattr(self, "_fit_call", None), "classes", None)
        if reset and given is not None:
            # partial_fit's first call: the classes of every chunk to come
            self.classes_ = given
            reset = False
        elif reset:
            # (np.unique's return_inverse holds several copies of y at once:
            # a peak of 392 MiB for 10M int64 labels, 77 MiB this way)
            self.classes_ = np.unique(y)
            codes = np.searchsorted(self.classes_, y)
            if len(self.classes_) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes in "
                    f"y; got 1 class ({self.classes_[0]!r})."
                )
            return codes.astype(np.int64, copy=False)
        codes = np.searchsorted(self.classes_, y)
        codes = np.clip(codes, 0, len(self.classes_) - 1)
        unseen = self.classes_[codes] != y
        if np.any(unseen):
            if given is not None:
                raise ValueError(
                    f"y has labels that are not in classes: "
                    f"{np.unique(y[unseen])[:5].tolist()}; classes is "
                    f"{self.classes_.tolist()}."
                )
            if getattr(self, "_fit_call", None) is not None and self._fit_call.partial:
                raise ValueError(
                    "y has labels that are not in classes_ (the classes given to "
                    f"the first partial_fit call): {np.unique(y[unseen])[:5].tolist()}"
                    f"; classes_ is {self.classes_.tolist()}. Every label must be "
                    "in classes on the first call."
                )
            raise ValueError(
                "warm_start=True: y has labels that were not seen in the first "
                f"fit: {np.unique(y[unseen])[:5]}. classes_ is {self.classes_}."
            )
        return codes.astype(np.int64)

    def _fit_weights(self, sample_weight, X, target):
        weight = super()._fit_weights(sample_weight, X, target)
        if self.class_weight is None:
            return weight
        per_class = (
            compute_class_weight(
                self.class_weight,
                classes=np.arange(len(self.classes_)),
                y=target,
                sample_weight=weight,
            )
            if self.class_weight == "balanced"
            else _class_weight_vector(self.class_weight, self.classes_)
        )
        bad = {
            label: w
            for label, w in zip(self.classes_.tolist(), per_class.tolist())
            if not (np.isfinite(w) and w >= 0)
        }
        if bad:
            raise ValueError(
                "class_weight must give every class a finite, non-negative "
                f"weight; got {bad}."
            )
        class_w = per_class[target]
        weight = class_w if weight is None else weight * class_w
        if not np.any(weight > 0):
            given = dict(zip(self.classes_.tolist(), per_class.tolist()))
            raise ValueError(
                "class_weight (times sample_weight) gives every training sample a "
                f"weight of 0 (class weights {given}); at least one class present "
                "in y needs a positive weight."
            )
        return weight

    def _score_output(self, output, target, weight):
        correct = (output.argmax(dim=1) == target).to(torch.float64)
        if weight is None:
            return correct.mean().item()
        weight = weight.to(torch.float64)
        return ((correct * weight).sum() / weight.sum()).item()

    def predict_log_proba(self, X):
        """Log of the class probabilities, computed in log space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Log-probabilities, columns ordered as ``classes_``.
        """
        out = self._forward(X)
        log_proba = _to_numpy(out[0] if isinstance(out, tuple) else out)
        # the module's log-probabilities are normalised up to float32
        # rounding (each row's maximum is >= -log(n_classes)), so exp cannot
        # overflow or underflow to an all-zero row: renormalise in float64
        return log_proba - np.log(np.exp(log_proba).sum(axis=1, keepdims=True))

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities (rows sum to 1), columns ordered as ``classes_``.
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Most probable class for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        ndarray of shape (n_samples,)
            Predicted labels, drawn from ``classes_``.
        """
        log_proba = self.predict_log_proba(X)
        return self.classes_[np.argmax(log_proba, axis=1)]


def _check_no_nan_output(output):
    """A ValueError naming the rows of X whose network output is NaN (the
    values overflowed inside the network), instead of NaN predictions."""
    if torch.isnan(output).any():
        rows = torch.isnan(output.reshape(output.shape[0], -1)).any(dim=1)
        raise ValueError(
            f"the network's output is NaN for {int(rows.sum())} of "
            f"{rows.numel()} rows of X (first: row {int(rows.nonzero()[0])}): "
            "their values overflow inside the network. Rescale X as the "
            "training data was (e.g. with the same StandardScaler)."
        )


@contextlib.contextmanager
def _numeric_input_errors(regressor=False):
    """Name the argument in numpy's bare "could not convert string to float"
    (scikit-learn's validation passes it on as it is)."""
    try:
        yield
    except ValueError as exc:
        if not str(exc).startswith("could not convert"):
            raise
        what = "X and y must" if regressor else "X must"
        raise ValueError(f"{what} hold numbers: {exc}.") from exc


def _check_y_ndim(y):
    ndim = getattr(y, "ndim", None)
    if ndim is None and isinstance(y, list | tuple):
        try:
            ndim = np.asarray(y, dtype=object).ndim
        except ValueError:  # ragged nested lists: validation says so
            return
    if ndim is not None and ndim > 2:
        raise ValueError(
            "y must be 1-D (n_samples,) or 2-D (n_samples, n_outputs); got an "
            f"array of shape {np.shape(y)}."
        )


def _check_label_types(y):
    """A ValueError naming y when its labels mix strings and numbers (numpy
    cannot sort them: ``'<' not supported``)."""
    y = np.asarray(y)
    if y.dtype != object:
        return
    kinds = {isinstance(v, str) for v in y.ravel()}
    if len(kinds) > 1:
        strings = next(v for v in y.ravel() if isinstance(v, str))
        other = next(v for v in y.ravel() if not isinstance(v, str))
        raise ValueError(
            "y mixes string and non-string labels (e.g. "
            f"{strings!r} and {other!r}); use one type for every label (e.g. "
            "y.astype(str))."
        )


def _check_optimizer(optimizer):
    """A class (or factory) that is not a torch optimizer: a TypeError naming
    ``optimizer``, before skorch fails on it with an unrelated message."""
    if isinstance(optimizer, str):
        return  # the parameter constraints list the names
    if isinstance(optimizer, type) and not issubclass(optimizer, torch.optim.Optimizer):
        raise TypeError(
            "optimizer must be 'adam', 'adamw', 'sgd', a torch.optim.Optimizer "
            f"subclass (e.g. torch.optim.RMSprop) or a factory of one (e.g. "
            f"functools.partial(torch.optim.SGD, momentum=0.9)); got the class "
            f"{optimizer.__name__}, which is not a torch optimizer."
        )


def _class_weight_vector(class_weight, classes):
    unknown = [k for k in class_weight if k not in set(classes.tolist())]
    if unknown:
        raise ValueError(
            f"class_weight has keys {unknown} that are not labels in y; the "
            f"labels are {classes.tolist()}."
        )
    weights = []
    for c in classes.tolist():
        value = class_weight.get(c, 1.0)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            # (the values' range is checked with the weights' sums below)
            raise ValueError(
                "class_weight must give every class a finite, non-negative "
                f"weight; got {{{c!r}: {value!r}}}."
            )
        weights.append(float(value))
    return np.array(weights)


class NeuralRegressorBase(BaseNeuralEstimator):
    """Regression on top of the shared base (single- or multi-output).

    The module's first output must be the prediction, shape
    (n_samples, n_outputs).
    """

    def _y_validation_kwargs(self):
        return {"multi_output": True, "y_numeric": True}

    def _encode_target(self, y, *, reset):
        y = np.asarray(y, dtype=np.float64)
        y2d = y.reshape(-1, 1) if y.ndim == 1 else y
        if reset:
            self._y_ndim = y.ndim
            self.n_outputs_ = y2d.shape[1]
        elif y2d.shape[1] != self.n_outputs_:
            raise ValueError(
                f"warm_start=True: y has {y2d.shape[1]} outputs but the model was "
                f"fitted with {self.n_outputs_}."
            )
        return y2d.astype(self._numpy_dtype)

    def _score_output(self, output, target, weight):
        return r2_score(
            _to_numpy(target),
            _to_numpy(output),
            sample_weight=None if weight is None else _to_numpy(weight),
        )

    def predict(self, X):
        """Predicted target values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions, with the same number of dimensions as the ``y``
            seen in ``fit``.
        """
        out = self._forward(X)
        pred = _to_numpy(out[0] if isinstance(out, tuple) else out)
        return pred.ravel() if self._y_ndim == 1 else pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


_COMMON_PARAMETERS_DOC = """\
max_epochs : int, default=200
        Maximum number of passes over the training data.
    batch_size : int or 'auto', default='auto'
        Mini-batch size; 'auto' is
        ``min({auto_batch_size}, n_samples)``{auto_batch_note}.
    lr : float, default=1e-3
        Learning rate of the optimizer.
    optimizer : {'adam', 'adamw', 'sgd'} or callable, default='adam'
        Optimizer, or a torch optimizer class / factory called as
        ``optimizer(params, lr=lr, weight_decay=weight_decay)``; for example
        ``functools.partial(torch.optim.SGD, momentum=0.9)``.
    weight_decay : float, default=0.0
        L2 penalty passed to the optimizer.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified for
        classifiers), stop when the validation loss has not improved by
        ``tol`` for ``n_iter_no_change`` epochs and restore the weights of the
        best epoch. When False, training stops once the training loss has not
        improved by ``tol`` for ``n_iter_no_change`` epochs.
    validation_fraction : float, default=0.1
        Fraction of the training data held out when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Epochs without improvement before training stops.
    tol : float, default=1e-4
        Minimum decrease of the monitored loss that counts as improvement.
    verbose : int, default=0
        0 is silent, 1 shows a tqdm progress bar over epochs, 2 prints a table
        with one row per epoch.
    warm_start : bool, default=False
        When True and the estimator is already fitted, ``fit`` continues
        training the current weights (and optimizer state) for up to
        ``max_epochs`` more epochs instead of starting afresh. Only the
        training settings (``max_epochs``, ``batch_size``, ``lr``,
        ``weight_decay``, ``early_stopping``, ``validation_fraction``,
        ``n_iter_no_change``, ``tol``, ``verbose``, ``random_state``,
        ``class_weight``) may change between warm fits; a changed parameter
        that defines the network, its loss or its inputs (layer sizes,
        ``optimizer``, the number of experts, the base models ...) is a
        ValueError naming it, as is a changed ``device`` or ``dtype``: set
        ``warm_start=False`` to fit a new network with it.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, the validation split and
        dropout. All seeds of a fit are drawn from this one source, so an int
        gives identical predictions on the CPU for identical data.
    device : str, default='cpu'
        'cpu', 'cuda', 'cuda:N' or 'auto' (CUDA when available, else CPU).
        Requesting CUDA without a CUDA device raises a ``ValueError`` in
        ``fit``. A model fitted on a GPU unpickles on a CPU-only machine.
    dtype : {'float32', 'float64'}, default='float32'
        Floating point precision of the network's weights and computations."""


# what the ``net_`` attribute of every estimator offers (tested for each)
_NET_CONTRACT_DOC = """On the net, ``module_``, ``history`` (the per-epoch record) and
        ``save_params`` / ``load_params`` work; predict with the
        estimator (the net's own ``predict`` / ``predict_proba`` raise
        a TypeError saying so: the estimator prepares the inputs)."""

_VALIDATION_PARAMETERS_DOC = """X_val : array-like or list, default=None
            A validation set for early stopping, in the same form as ``X``:
            with ``early_stopping=True`` it replaces the internal split of
            ``validation_fraction`` (all of ``X`` is then trained on), and the
            validation curves (``validation_loss_curve_``,
            ``validation_scores_``) are measured on it. Needs ``y_val`` and
            ``early_stopping=True``. In a Pipeline, route it with metadata
            routing and transform it like ``X`` with
            ``Pipeline(..., transform_input=["X_val"])``.
        y_val : array-like of shape (n_val,) or (n_val, n_outputs), default=None
            Targets of ``X_val``.
        sample_weight_val : array-like of shape (n_val,), default=None
            Weights of the validation samples."""


def fill_doc(cls=None, /, **sections):
    """Insert the shared documentation into ``cls.__doc__``: the one docs
    template mechanism of the package.

    ``{common_parameters}`` and ``{net_contract}`` are the base's; a family
    passes its own shared pieces as keyword arguments (``{name}`` in the
    docstring is replaced by ``sections[name]``), as a decorator
    (``@fill_doc(top_k=_TOP_K_DOC)``) or a call. The defaults written in the
    common parameters are the ones of ``cls.__init__`` (a family may choose
    other defaults than the base's).
    """
    import inspect
    import re

    if cls is None:
        return lambda cls: fill_doc(cls, **sections)
    for name, text in sections.items():
        cls.__doc__ = cls.__doc__.replace("{" + name + "}", text)
    doc = _COMMON_PARAMETERS_DOC
    auto = cls._auto_batch_size
    note = " as in\n        :class:`~sklearn.neural_network.MLPClassifier`"
    doc = doc.replace("{auto_batch_size}", str(auto)).replace(
        "{auto_batch_note}", note if auto == 200 else ""
    )
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if param.default is inspect.Parameter.empty:
            continue
        doc = re.sub(
            rf"^(\s*{name} : [^\n]*, default=)[^\n]*$",
            lambda m, value=param.default: m.group(1) + repr(value),
            doc,
            flags=re.MULTILINE,
        )
    cls.__doc__ = cls.__doc__.replace("{common_parameters}", doc).replace(
        "{net_contract}", _NET_CONTRACT_DOC
    )
    fit = cls.__dict__.get("fit")
    if fit is not None and fit.__doc__:
        fit.__doc__ = fit.__doc__.replace(
            "{validation_parameters}", _VALIDATION_PARAMETERS_DOC
        )
    return cls


# the base's own fit (the families' fit docstrings are filled by fill_doc)
BaseNeuralEstimator.fit.__doc__ = BaseNeuralEstimator.fit.__doc__.replace(
    "{validation_parameters}", _VALIDATION_PARAMETERS_DOC
)
