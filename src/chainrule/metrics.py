"""Scores people can judge a model by: for classes, accuracy, each class's precision, recall and F1,
and the confusion matrix; for numbers, R², RMSE, MAE and the RMSE of always predicting the mean.

Classes are codes 0 … K−1; the definitions are scikit-learn's (``sklearn.metrics``), which the tests
compare with. A ratio whose denominator is 0 (a class never predicted, never present) is 0, as
scikit-learn's ``zero_division=0`` makes it.
"""

import numpy as np

__all__ = ["MATRIX_CLASSES", "SHOWN_CLASSES", "classification", "confusion_matrix", "format_classification",
           "format_regression", "regression"]

SHOWN_CLASSES = 50  # classes a report lists, one line each
MATRIX_CLASSES = 20  # the most classes whose confusion matrix a report prints (K columns a line)


def confusion_matrix(y_true, y_pred, n_classes):
    """C[i, j] = the number of rows of class i predicted as class j."""
    C = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(C, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return C


def classification(y_true, y_pred, n_classes):
    """{accuracy, precision, recall, f1 (one per class), support, confusion}: precision_k =
    C[k,k] / Σᵢ C[i,k], recall_k = C[k,k] / Σⱼ C[k,j], F1_k = 2·P·R / (P + R)."""
    C = confusion_matrix(y_true, y_pred, n_classes)
    hits = np.diag(C).astype(np.float64)
    precision = _ratio(hits, C.sum(axis=0))
    recall = _ratio(hits, C.sum(axis=1))
    f1 = _ratio(2 * precision * recall, precision + recall)
    return {"accuracy": hits.sum() / max(C.sum(), 1), "precision": precision, "recall": recall, "f1": f1,
            "support": C.sum(axis=1), "confusion": C}


def regression(y_true, y_pred, baseline_mean):
    """{r2, rmse, mae, baseline_rmse}: R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)² (1 for a constant y predicted
    exactly, 0 for one predicted otherwise, as scikit-learn's force_finite); the baseline predicts
    ``baseline_mean`` (the training rows' mean) for every row."""
    y, p = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged model's huge outputs score inf, said as such
        residual = np.sum((y - p) ** 2)
        total = np.sum((y - y.mean()) ** 2)
        r2 = 1.0 - residual / total if total > 0 else float(residual == 0)
        return {"r2": float(r2), "rmse": float(np.sqrt(residual / len(y))), "mae": float(np.mean(np.abs(y - p))),
                "baseline_rmse": float(np.sqrt(np.mean((y - baseline_mean) ** 2)))}


def _ratio(a, b):
    return np.divide(a, b, out=np.zeros(len(a)), where=b > 0)


def format_regression(scores):
    return (f"R² {scores['r2']:.4f}, RMSE {scores['rmse']:.4g}, MAE {scores['mae']:.4g} "
            f"(predicting the training mean: RMSE {scores['baseline_rmse']:.4g})")


def format_classification(scores, names):
    """Each class's precision, recall, F1 and rows (the first ``SHOWN_CLASSES``), then the confusion
    matrix (rows: the true class, columns: the predicted one) when it has at most ``MATRIX_CLASSES``
    classes, as lines of text."""
    names = [str(name)[:40] for name in names]
    width = max(8, *(len(name) for name in names[:SHOWN_CLASSES]))
    lines = [f"  {'class':<{width}}  precision  recall     F1  rows"]
    for k, name in enumerate(names[:SHOWN_CLASSES]):
        lines.append(f"  {name:<{width}}  {scores['precision'][k]:9.3f}  {scores['recall'][k]:6.3f}  "
                     f"{scores['f1'][k]:5.3f}  {scores['support'][k]}")
    if len(names) > SHOWN_CLASSES:
        lines.append(f"  … and {len(names) - SHOWN_CLASSES:,} more classes (chainrule.metrics.classification "
                     "gives them all)")
    if len(names) > MATRIX_CLASSES:
        return lines + [f"  confusion matrix: not shown for more than {MATRIX_CLASSES} classes"]
    C = scores["confusion"]
    cell = max(5, len(str(C.max())), *(min(len(name), 12) for name in names))
    lines.append("  confusion matrix (rows: true class, columns: predicted)")
    lines.append(f"  {'':<{width}}  " + " ".join(f"{name[:12]:>{cell}}" for name in names))
    for k, name in enumerate(names):
        lines.append(f"  {name:<{width}}  " + " ".join(f"{n:>{cell}}" for n in C[k]))
    return lines
