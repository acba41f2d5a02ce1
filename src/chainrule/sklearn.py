"""scikit-learn estimators on chainrule's engine: ``MLPClassifier`` and ``MLPRegressor``.

    pip install "chainrule[sklearn]"
    from chainrule.sklearn import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=50).fit(X, y)

They take scikit-learn's parameter names where the meaning is the same as in
``sklearn.neural_network.MLPClassifier``/``MLPRegressor`` and train the same network the same way:

* ``alpha`` is chainrule's ``l2``, one for one: scikit-learn adds α/(2·Σw)·Σ_l ‖W(l)‖² to each
  batch's loss (Σw the batch's rows, or its total sample weight), which is chainrule's penalty
  λ/(2m)·Σ_l ‖W(l)‖² with λ = α and m the batch's rows (or Σw); biases are not penalized.
* the losses are scikit-learn's: log loss with a sigmoid output (``bce``) for two classes, with a
  softmax output (``cross_entropy``) for more; for regression ``half_sse``, the mean over rows of
  ½·Σ_k (ŷ_k − y_k)², whose gradient (ŷ − y)/N is the one scikit-learn steps along (for one output
  it is also scikit-learn's squared loss; for K outputs scikit-learn reports that loss divided by K).
* ``solver`` "sgd" is SGD with ``momentum`` and ``nesterovs_momentum`` at the constant rate
  ``learning_rate_init``; "adam" is Adam with ``beta_1``, ``beta_2``, ``epsilon`` (chainrule's Adam
  adds ε to the bias-corrected √v̂ as PyTorch does; scikit-learn to √v, a difference of order ε).
* ``tol`` and ``n_iter_no_change`` stop training as scikit-learn does: after more than
  ``n_iter_no_change`` epochs in a row whose training loss (or, with ``early_stopping``, whose score
  on the held-out ``validation_fraction``) did not improve by ``tol``; with ``early_stopping`` the
  weights of the best validation score are restored.

chainrule's own parameters: ``batch_norm`` and ``residual`` (the command line's ``--batch-norm``
and ``--residual``, ``chainrule.network.mlp_layers``: each hidden layer a Dense without bias, then
a BatchNorm and the activation; each hidden layer after the first a residual block a + F(a)),
``loss`` and ``output_activation`` (another loss or output layer than
the task's default), ``init`` ("sklearn", the default: scikit-learn's initial weights and biases,
uniform within Glorot's bound, so that the same settings give results of the same distribution; or
a chainrule initializer's name, such as "he_normal", with zero biases), ``dtype`` ("float64" or
"float32"), ``diagnostics`` and ``callbacks`` (as
``Network.fit`` takes them). ``diagnostics`` is False by default here, as ``verbose`` is in
scikit-learn: an estimator is fitted many times over by cross-validation and grid searches, where a
warning per fit drowns the output and the checks cost time each fit; turn it on to ask why a fit
went wrong. ``network_`` is the trained ``chainrule.Network`` (trace, gradcheck and the diagnostics
work on it); ``coefs_`` and ``intercepts_`` are its weights and biases in scikit-learn's layout
(one per layer of the MLP: a block's branch, not its projection; zeros for a layer without bias).
"""

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import validation
from .callbacks import Callback
from .initializers import INITIALIZERS
from .layers import walk
from .network import Network, mlp_layers
from .optimizers import SGD, Adam
from .residual import Residual
from .training import fit as train

__all__ = ["MLPClassifier", "MLPRegressor"]

ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
SOLVERS = ("sgd", "adam")


class _Stopper(Callback):
    """scikit-learn's stopping rule: count the epochs whose training loss is not below the best by
    ``tol`` (with ``validation``, (X_val, y_val, w_val), the epochs whose validation score is not
    above the best by ``tol``), reset the count on one that is, stop once it exceeds ``patience``;
    with validation, put back the weights (and running statistics) of the best score at the end."""

    def __init__(self, estimator, tol, patience, validation=None):
        self.estimator, self.tol, self.patience, self.validation = estimator, tol, patience, validation
        self.best_weights = None
        est = estimator  # its best_loss_ (or validation scores) carry over from a warm start, if any
        if validation is None and est.best_loss_ is None:
            est.best_loss_ = np.inf
        if validation is not None and est.validation_scores_ is None:
            est.validation_scores_, est.best_validation_score_ = [], -np.inf

    def on_epoch_end(self, trainer, epoch, logs):
        est = self.estimator
        if self.validation is None:
            worse = logs["loss"] > est.best_loss_ - self.tol
            est.best_loss_ = min(est.best_loss_, logs["loss"])
        else:
            try:
                score = est.score(*self.validation)
            except ValueError:  # outputs beyond the float range (a diverging run): the worst score
                score = -np.inf
            est.validation_scores_.append(score)
            worse = score < est.best_validation_score_ + self.tol
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                self.best_weights = trainer.net.theta.copy(), trainer.net.running.copy()
        est._no_improvement_count = est._no_improvement_count + 1 if worse else 0  # kept across warm starts
        if est._no_improvement_count > self.patience:
            trainer.stop(f"{'validation score' if self.validation else 'training loss'} did not improve by more "
                         f"than tol={self.tol:g} for {self.patience} consecutive epochs")

    def on_train_end(self, trainer):
        if self.best_weights is not None:  # the weights and the BatchNorms' running statistics
            trainer.net.theta[...], trainer.net.running[...] = self.best_weights


class _MLP(BaseEstimator):
    """What the classifier and the regressor share: the parameters, building the network, the loop."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate_init=0.001, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 batch_norm=False, residual=False, loss=None, output_activation=None, init="sklearn", dtype="float64",
                 diagnostics=False, callbacks=None):
        self.hidden_layer_sizes, self.activation, self.solver = hidden_layer_sizes, activation, solver
        self.alpha, self.batch_size, self.learning_rate_init = alpha, batch_size, learning_rate_init
        self.max_iter, self.shuffle, self.random_state, self.tol = max_iter, shuffle, random_state, tol
        self.warm_start, self.momentum, self.nesterovs_momentum = warm_start, momentum, nesterovs_momentum
        self.early_stopping, self.validation_fraction = early_stopping, validation_fraction
        self.beta_1, self.beta_2, self.epsilon, self.n_iter_no_change = beta_1, beta_2, epsilon, n_iter_no_change
        self.loss, self.output_activation, self.init, self.dtype = loss, output_activation, init, dtype
        self.diagnostics, self.callbacks = diagnostics, callbacks
        self.batch_norm, self.residual = batch_norm, residual

    # ---- fitted attributes in scikit-learn's layout -------------------------------------------

    @property
    def coefs_(self):
        """[W(1), …, W(L)], each (n_in, n_out): the weights of the MLP's Dense layers (views; writing
        them changes the network), a residual block's branch's (its projection P is in ``network_``)."""
        check_is_fitted(self)
        return [layer.W for layer in _mlp_dense(self.network_.layers)]

    @property
    def intercepts_(self):
        """[b(1), …, b(L)], each (n_out,): their biases (views), zeros (a new array) for a layer
        without bias — with ``batch_norm`` the hidden ones, whose BatchNorm's β takes its place."""
        check_is_fitted(self)
        return [layer.b if layer.bias else np.zeros_like(layer.b) for layer in _mlp_dense(self.network_.layers)]

    def __sklearn_is_fitted__(self):
        return hasattr(self, "network_")

    def __getstate__(self):
        """Pickled without the optimizer (its state is keyed by the live network): a ``partial_fit``
        or warm start after unpickling starts the optimizer afresh."""
        state = self.__dict__.copy()
        state.pop("_optimizer", None)
        return state

    # ---- fitting -------------------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Train on (X, y) (and sample weights) for up to ``max_iter`` epochs; returns self."""
        return self._fit(X, y, sample_weight, incremental=False)

    def _check_options(self):
        """The parameters, checked (one ValueError naming the parameter), as the loop uses them."""
        if self.solver not in SOLVERS:
            hint = " (lbfgs, a full-batch quasi-Newton method, is not in chainrule)" if self.solver == "lbfgs" else ""
            raise ValueError(f"solver must be one of {', '.join(map(repr, SOLVERS))}, got {self.solver!r}{hint}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(map(repr, ACTIVATIONS))}, got {self.activation!r}")
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if np.ndim(sizes) == 0 else list(sizes)
        sizes = [validation.integer("hidden_layer_sizes entries", n, low=1) for n in sizes]
        if self.batch_size != "auto":
            validation.integer("batch_size ('auto' or rows per batch)", self.batch_size, low=1)
        for name in ("max_iter", "n_iter_no_change"):
            validation.integer(name, getattr(self, name), low=1)
        for name in ("alpha", "tol", "epsilon"):
            validation.number(name, getattr(self, name), low=0)
        validation.number("learning_rate_init", self.learning_rate_init, low=0, low_open=True)
        validation.number("momentum", self.momentum, low=0, high=1)
        validation.number("validation_fraction", self.validation_fraction, low=0, high=1, low_open=True, high_open=True)
        for name in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping", "diagnostics",
                     "batch_norm", "residual"):
            validation.flag(name, getattr(self, name))
        return sizes

    def _optimizer_for_fit(self):
        if self.solver == "sgd":
            return SGD(self.learning_rate_init, momentum=self.momentum,
                       nesterov=self.nesterovs_momentum and self.momentum > 0)
        return Adam(self.learning_rate_init, betas=(self.beta_1, self.beta_2), eps=self.epsilon)

    def _new_network(self, sizes, n_in, n_out, seed):
        """The network: ``sizes`` hidden layers of the activation (with ``batch_norm`` and ``residual``
        as ``mlp_layers`` builds them), then the task's output layer; every Dense layer's weights,
        in the order of the forward pass (a block's projection after its branch), drawn as ``init``
        says from the generator of ``seed``."""
        loss, output = self._loss_and_output(n_out)
        layers = mlp_layers([n_in] + sizes + [n_out], ACTIVATIONS[self.activation], output,
                            batch_norm=self.batch_norm, residual=self.residual)
        rng = np.random.default_rng(seed)
        for dense in (layer for layer in walk(layers) if layer.weight_matrix):
            init = self._initial(rng, dense.n_in, dense.n_out)
            if isinstance(init, str):
                dense.init = init
            else:  # set before the network builds the layer: its initial W (and b)
                dense.W, b = init
                if dense.bias:  # one without (batch_norm's, a projection) draws b and drops it: with
                    dense.b = b  # batch_norm alone, each layer starts from the W it has without
        return Network(layers, loss=loss, seed=seed, dtype=validation.dtype(self.dtype), l2=float(self.alpha))

    def _initial(self, rng, fan_in, fan_out):
        """A layer's ``init``: scikit-learn's draw for "sklearn" — W and b uniform in ±√(k/(fan_in +
        fan_out)), k = 2 for the logistic activation and 6 otherwise (Glorot's bound) — or the name of
        a chainrule initializer (biases 0)."""
        if self.init != "sklearn":
            if self.init not in INITIALIZERS:
                raise ValueError(f"init must be 'sklearn' or one of {', '.join(INITIALIZERS)}, got {self.init!r}")
            return self.init
        bound = np.sqrt((2.0 if self.activation == "logistic" else 6.0) / (fan_in + fan_out))
        return rng.uniform(-bound, bound, (fan_in, fan_out)), rng.uniform(-bound, bound, fan_out)

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        sizes = self._check_options()
        first = not (hasattr(self, "network_") and (incremental or self.warm_start))
        X, y = validate_data(self, X, y, reset=first, **self._validation_options())
        w = self._sample_weight(sample_weight, X, y)
        Y = self._targets(y, first, classes)
        rng = check_random_state(self.random_state)
        if first:
            self.network_ = self._new_network(sizes, X.shape[1], Y.shape[1], int(rng.randint(np.iinfo(np.int32).max)))
            self.t_, self.loss_curve_, self._no_improvement_count = 0, [], 0
            self.best_loss_ = self.validation_scores_ = self.best_validation_score_ = None
        if not incremental or getattr(self, "_optimizer", None) is None:  # fit starts it afresh, as scikit-learn's
            self._optimizer = self._optimizer_for_fit()
        self._optimizer.lr = float(self.learning_rate_init)  # a rate changed by set_params since
        history, rows = self._train(X, y, Y, w, rng, epochs=1 if incremental else self.max_iter,
                                    stopping=not incremental)
        if history.diverged:
            raise ValueError(f"training diverged: {history.stop_reason}")
        self.n_iter_ = history.epochs  # of this call, as scikit-learn counts them
        self.t_ += history.epochs * rows  # the training rows seen, over all calls
        self.loss_curve_ += history.loss
        self.loss_, self.history_ = history.loss[-1], history
        if not incremental and history.stop_reason is None and history.epochs == self.max_iter:
            warnings.warn(f"{type(self).__name__}: max_iter={self.max_iter} reached and the optimization has not "
                          "converged yet; raise max_iter", ConvergenceWarning, stacklevel=3)
        return self

    def _train(self, X, y, Y, w, rng, epochs, stopping):
        """One ``chainrule.fit`` run; with ``early_stopping`` (a full fit only) a stratified
        ``validation_fraction`` of the rows is held out and scored every epoch."""
        held_out = None
        if stopping and self.early_stopping:
            X, Y, w, held_out = self._hold_out(X, y, Y, w, rng)
        callbacks = list(self.callbacks or [])
        if stopping:
            callbacks.insert(0, _Stopper(self, self.tol, self.n_iter_no_change, held_out))
        n = len(X)
        batch = self._batch_rows(n)
        with np.errstate(over="ignore", invalid="ignore"):
            history = train(self.network_, X, Y, optimizer=self._optimizer, epochs=epochs, batch_size=batch,
                            shuffle=self.shuffle, callbacks=callbacks, record=epochs, progress=False,
                            diagnostics=self.diagnostics, sample_weight=w)
        return history, n

    def _batch_rows(self, n):
        """The rows of a training batch on n training rows: ``batch_size`` or "auto" = min(200, n).
        A BatchNorm needs at least 2 rows a batch (one row has no variance): "auto" then takes the
        largest size up to min(200, n) that leaves no last batch of one row; a ``batch_size`` that
        leaves one, or n = 1, is refused with a ValueError."""
        k = min(200 if self.batch_size == "auto" else self.batch_size, n)
        need = self.network_.min_rows
        if need < 2:
            return k
        if n < need:
            raise ValueError(f"batch_norm=True trains on batches of at least {need} rows (one row has no variance), "
                             f"and {n} sample{'s' * (n != 1)} {'are' if n != 1 else 'is'} left to train on; give "
                             "more samples (and, with early_stopping, fewer held out) or set batch_norm=False")
        if self.batch_size == "auto":
            while n % k == 1:  # n ≤ 200: k = n, no loop; n > 200: stops at k ≥ 2 unless n − 1 were a
                k -= 1  # multiple of every k from 2 to 200, a number of rows beyond any memory
        elif n % k == 1:
            raise ValueError(f"batch_size={k} on {n} training rows leaves a last batch of 1 row, which batch_norm=True "
                             "cannot train on (one row has no variance); use batch_size='auto', which avoids it, or a "
                             f"batch_size that does not divide {n - 1}")
        return k

    def _hold_out(self, X, y, Y, w, rng):
        """(X, Y, w) of the training rows and (X_val, y_val, w_val) of the ``validation_fraction`` held
        out (at least 2 rows for a regressor), stratified by class for a classifier where each part
        can hold every class (as scikit-learn's MLP), at random otherwise."""
        n, classifier = len(X), isinstance(self, ClassifierMixin)
        n_val = max(int(np.ceil(self.validation_fraction * n)), 1 if classifier else 2)  # an R² needs 2 rows
        if not n_val < n:
            raise ValueError(f"early_stopping holds out validation_fraction={self.validation_fraction:g} of {n} "
                             f"sample{'s' * (n != 1)}, which leaves none to validate or to train on; give more "
                             "samples, another validation_fraction, or early_stopping=False")
        stratify = None
        if classifier:
            counts = np.unique(y, return_counts=True)[1]
            stratify = y if counts.min() >= 2 and min(n_val, n - n_val) >= len(counts) else None
        parts = train_test_split(X, Y, y, *([] if w is None else [w]), test_size=n_val, random_state=rng,
                                 stratify=stratify)
        X, X_val, Y, _, _, y_val = parts[:6]
        w, w_val = (None, None) if w is None else parts[6:]
        if w is not None and not (w.any() and w_val.any()):
            raise ValueError("early_stopping's validation rows or its training rows all have sample weight 0; give "
                             "more rows positive weights or set early_stopping=False")
        return X, Y, w, (X_val, y_val, w_val)

    def _sample_weight(self, sample_weight, X, y):
        """The rows' weights (None when all are 1): ``sample_weight`` times the classes' weights."""
        if sample_weight is None and getattr(self, "class_weight", None) is None:
            return None
        w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        if getattr(self, "class_weight", None) is not None:
            w = w * compute_sample_weight(self.class_weight, y)
        if isinstance(self, ClassifierMixin) and np.unique(y[w > 0]).size < 2:
            raise ValueError("MLPClassifier needs rows of at least 2 classes with a positive sample weight; the "
                             f"weights leave one class, {np.unique(y[w > 0])[0]!r}")
        return w

    def _output(self, X):
        """The network's output for X (``Network.predict``: probabilities for classifiers), float64."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return np.asarray(self.network_.predict(X), dtype=np.float64)


def _mlp_dense(layers):
    """The Dense layers of an MLP as ``mlp_layers`` builds it, one per layer of the MLP in the order of
    the forward pass: a residual block's branch's Dense, not its projection P."""
    projections = {id(layer.projection) for layer in layers if isinstance(layer, Residual)}
    return [layer for layer in walk(layers) if layer.weight_matrix and id(layer) not in projections]


class MLPClassifier(ClassifierMixin, _MLP):
    """A multi-layer perceptron classifier trained by chainrule (see the module's docstring for the
    parameters): labels of any hashable kind (strings, booleans, numbers), two classes with a
    sigmoid output and log loss (``bce``), more with a softmax output and ``cross_entropy``.
    ``class_weight`` (None, "balanced", or {label: weight}) multiplies each row's sample weight by
    its class's weight, as in scikit-learn's linear models."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate_init=0.001, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 batch_norm=False, residual=False, loss=None, output_activation=None, init="sklearn", dtype="float64",
                 diagnostics=False, callbacks=None, class_weight=None):
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate_init=learning_rate_init, max_iter=max_iter, shuffle=shuffle,
                         random_state=random_state, tol=tol, warm_start=warm_start, momentum=momentum,
                         nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         n_iter_no_change=n_iter_no_change, batch_norm=batch_norm, residual=residual, loss=loss,
                         output_activation=output_activation, init=init, dtype=dtype, diagnostics=diagnostics,
                         callbacks=callbacks)
        self.class_weight = class_weight

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y); the first call needs ``classes``, every label that will come."""
        if not hasattr(self, "network_"):
            if classes is None:
                raise ValueError("the first call to partial_fit needs classes=, every class label the data will have "
                                 "(e.g. classes=np.unique(y_all))")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes={list(classes)!r} is not the classes_ of the first call, {list(self.classes_)!r}")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _validation_options(self):
        return dict(dtype=(np.float64, np.float32), multi_output=False)

    def _loss_and_output(self, n_out):
        loss = self.loss or ("bce" if n_out == 1 else "cross_entropy")
        if loss not in ("bce", "cross_entropy"):
            raise ValueError(f"MLPClassifier loss must be None, 'bce' (two classes) or 'cross_entropy', got {loss!r}")
        if loss == "bce" and n_out != 1:
            raise ValueError(f"loss='bce' is for two classes; these data have {n_out}: use 'cross_entropy'")
        return loss, self.output_activation or ("sigmoid" if loss == "bce" else "softmax")

    def _targets(self, y, first, classes):
        """y as the network's targets: 0/1 for bce, class indices for cross_entropy; ``classes_`` set on
        the first fit (from ``classes`` or from y)."""
        check_classification_targets(y)  # y is one column (validate_data): binary or multiclass labels
        if first:
            self.classes_ = np.unique(y if classes is None else np.asarray(classes))
            if len(self.classes_) < 2:
                raise ValueError(f"MLPClassifier needs at least 2 classes in y; got only one class, {self.classes_[0]!r}")
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(f"y has labels {list(unknown[:5])!r} that are not in classes_ {list(self.classes_)!r}")
        index = np.searchsorted(self.classes_, y)
        binary = len(self.classes_) == 2 and (self.loss or "bce") == "bce"  # one sigmoid unit
        return index[:, None] if binary else np.eye(len(self.classes_))[index]

    def predict_proba(self, X):
        """P(class | x) for every class (columns in the order of ``classes_``)."""
        p = self._output(X)
        return np.hstack([1 - p, p]) if p.shape[1] == 1 else p

    def predict_log_proba(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def decision_function(self, X):
        """The output layer's logits z: shape (n,) for one sigmoid unit (two classes and the default
        loss; z > 0 predicts ``classes_[1]``), (n, n_classes) for a softmax."""
        check_is_fitted(self)
        X = self.network_.check_X(validate_data(self, X, reset=False, dtype=(np.float64, np.float32)))
        ws = self.network_.new_workspace(len(X))
        with np.errstate(over="ignore", invalid="ignore"):
            self.network_.propagate(X, ws)
        z = np.asarray(ws.layers[-1].z, dtype=np.float64)
        return z[:, 0] if z.shape[1] == 1 else z

    def predict(self, X):
        p = self.predict_proba(X)
        return self.classes_[p.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class MLPRegressor(RegressorMixin, _MLP):
    """A multi-layer perceptron regressor trained by chainrule (see the module's docstring for the
    parameters): one or several outputs, a linear output layer and ``half_sse`` by default."""

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y)."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _validation_options(self):
        return dict(dtype=(np.float64, np.float32), multi_output=True, y_numeric=True)

    def _loss_and_output(self, n_out):
        return self.loss or "half_sse", self.output_activation or "linear"

    def _targets(self, y, first, classes):
        return y.reshape(len(y), -1)

    def predict(self, X):
        """The predicted values: shape (n,) for one output (as scikit-learn's MLPRegressor), (n, K) for K."""
        a = self._output(X)
        return a[:, 0] if a.shape[1] == 1 else a

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
