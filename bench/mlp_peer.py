"""Peer fit for bench/mlp.ts: scikit-learn's MLPClassifier.

    python3 bench/mlp_peer.py DATA_DIR

A long-lived process (bench/peer.ts): it loads the bench's rows once
(DATA_DIR/x.f64, rows x features row-major float64, and DATA_DIR/y.f64, 0/1),
prints {"ready": true, "version", "rows", "features", "blas"}, then for each JSON
line on stdin ({"hidden": [64, 64], "activation": "relu", "epochs": 5,
"batch_size": 256, "lr": 0.001, "seed": 1}) fits once and prints
{"fit_seconds", "epochs_run", "loss"}; the time is the fit call only, as for
ours. Exits when stdin closes. A missing library is answered with {"error": ...}.

The fit matches bench/mlp.ts's: the same hidden layers and activation, Adam
with the same learning rate, betas and epsilon (tfjs's tf.train.adam defaults:
0.9, 0.999, 1e-7), no L2 penalty (alpha=0; ours has none), minibatches of the
same size reshuffled every epoch, exactly `epochs` passes: max_iter=epochs with
n_iter_no_change above it so the loss-plateau stop never fires, no early
stopping (no validation split; ours holds none out either). Checked after each
fit: n_iter_ must equal epochs.
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
    from sklearn.neural_network import MLPClassifier

    for line in sys.stdin:
        req = json.loads(line)
        epochs = req["epochs"]
        model = MLPClassifier(
            hidden_layer_sizes=tuple(req["hidden"]),
            activation=req["activation"],
            solver="adam",
            alpha=0.0,
            batch_size=req["batch_size"],
            learning_rate_init=req["lr"],
            beta_1=0.9,
            beta_2=0.999,
            epsilon=1e-7,
            max_iter=epochs,
            shuffle=True,
            random_state=req["seed"],
            tol=0.0,
            n_iter_no_change=epochs + 1,
            early_stopping=False,
        )
        with warnings.catch_warnings():
            # max_iter reached is the point here, not a convergence problem.
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            model.fit(x, y)
            fit_seconds = time.perf_counter() - t0
        if model.n_iter_ != epochs:
            reply({"error": f"MLPClassifier ran {model.n_iter_} epochs, not {epochs}"})
            continue
        reply({"fit_seconds": fit_seconds, "epochs_run": model.n_iter_, "loss": list(model.loss_curve_)})


if __name__ == "__main__":
    main()
