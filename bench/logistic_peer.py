"""Peer fit for bench/logistic.ts: scikit-learn's LogisticRegression (lbfgs).

    python3 bench/logistic_peer.py DATA_DIR --features P

A long-lived process (bench/peer.ts): it loads the bench's preprocessed rows
once (DATA_DIR/x.f64, rows x P row-major float64, the very features our fit
reads, and DATA_DIR/y.f64, 0/1), prints {"ready": true, "version", "rows",
"features", "blas"}, then for each JSON line on stdin ({"C": 1.0,
"max_iter": 200}) fits once and prints {"fit_seconds", "iterations", "loss",
"coef", "intercept"}; the time is the fit call only, as for ours. `loss` is
the objective ours reports (mean log loss + 0.5 * ||w||^2 / (C * rows)), so
the two fits can be compared. Exits when stdin closes.

The fit is scikit-learn's default LogisticRegression except C and max_iter:
solver lbfgs, tol 1e-4, L2 penalty on the coefficients only, intercept fitted.
"""

import json
import sys
import time
import warnings

import numpy as np
from peer_common import load_rows, reply


def main():
    loaded = load_rows()
    if loaded is None:
        return
    x, y = loaded
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    for line in sys.stdin:
        req = json.loads(line)
        model = LogisticRegression(C=req["C"], solver="lbfgs", max_iter=req["max_iter"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            model.fit(x, y)
            fit_seconds = time.perf_counter() - t0
        w = model.coef_[0]
        b = model.intercept_[0]
        z = x @ w + b
        # Mean log loss, stable: log(1 + e^z) - y z.
        loss = float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * float(w @ w) / (req["C"] * len(y)))
        reply(
            {
                "fit_seconds": fit_seconds,
                "iterations": int(model.n_iter_[0]),
                "loss": loss,
                "coef": w.tolist(),
                "intercept": float(b),
            }
        )


if __name__ == "__main__":
    main()
