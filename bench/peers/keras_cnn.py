"""Keras 3 peer for `npm run bench:cnn`: the Keras mnist_cnn example, timed as bench/cnn.ts
times Kiln, on the backend KERAS_BACKEND names (tensorflow or jax). Prints one JSON line.

Fit: samples/s at batch 128, the median of 3 fit calls of one epoch over KILN_BENCH_CNN_SAMPLES
samples (default 2048), after a warm-up fit of 128 samples; KILN_BENCH_CNN_ONLY=predict skips it. Predict: samples/s of
`model.predict(x, batch_size=batch)` at batch 1, 32 and 128 (the call a Keras user makes, with
its per-call data adapter and callbacks), and of `model.predict_on_batch(x)` (the same compiled
predict function without that per-call machinery); each the median of 7 runs of 50 calls
(batch 1) or 5 calls, after a warm-up, as bench/stats.ts's timeIt does.

Threads: the backends' default pools (TensorFlow's intra- and inter-op pools, XLA's CPU pool)
size themselves to the CPUs the process may run on; KILN_BENCH_KERAS_THREADS (Kiln's thread
count) narrows the process's CPU affinity to that many CPUs, before the backend loads, when
fewer than it has.
"""
import json
import os
import statistics
import sys
import time

FIT_SAMPLES = int(os.environ.get("KILN_BENCH_CNN_SAMPLES", "2048"))
ONLY = os.environ.get("KILN_BENCH_CNN_ONLY")  # "predict" skips the fit, as bench/cnn.ts does
BACKEND = os.environ.get("KERAS_BACKEND", "")
if BACKEND not in ("tensorflow", "jax"):
    sys.exit(f"keras_cnn.py: KERAS_BACKEND must be tensorflow or jax, got {BACKEND!r}")
cpus = sorted(os.sched_getaffinity(0))
threads = int(os.environ.get("KILN_BENCH_KERAS_THREADS", len(cpus)))
if threads < 1:
    sys.exit(f"keras_cnn.py: KILN_BENCH_KERAS_THREADS must be a positive integer, got {threads}")
if threads < len(cpus):
    os.sched_setaffinity(0, cpus[:threads])
cpus_used = len(os.sched_getaffinity(0))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402


def images(n):
    """bench/cnn.ts's synthetic pixels and one-hot labels."""
    i = np.arange(n * 784, dtype=np.uint64)
    x = ((i * 2654435761) % 2**32).astype(np.float64) / 4294967296
    y = np.zeros((n, 10), np.float32)
    y[np.arange(n), np.arange(n) % 10] = 1
    return x.astype(np.float32).reshape(n, 28, 28, 1), y


def mnist_cnn():
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adadelta(learning_rate=1.0), loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def time_it(fn, reps, runs=7):
    """Median seconds per call over `runs` runs of `reps` calls, after a warm-up (bench/stats.ts's timeIt)."""
    for _ in range(max(1, reps >> 2)):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        times.append((time.perf_counter() - t0) / reps)
    return statistics.median(times)


def fit_rate():
    model = mnist_cnn()
    x, y = images(FIT_SAMPLES)
    wx, wy = images(128)
    model.fit(wx, wy, batch_size=128, verbose=0)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=128, epochs=1, verbose=0)
        times.append(time.perf_counter() - t0)
    return FIT_SAMPLES / statistics.median(times)


def predict_rates(model, batch):
    x, _ = images(batch)
    reps = 50 if batch == 1 else 5
    predict = batch / time_it(lambda: model.predict(x, batch_size=batch, verbose=0), reps)
    on_batch = batch / time_it(lambda: model.predict_on_batch(x), reps)
    return predict, on_batch


def main():
    fit = fit_rate() if ONLY != "predict" else None
    model = mnist_cnn()
    predict, on_batch = {}, {}
    for batch in (1, 32, 128):
        predict[batch], on_batch[batch] = predict_rates(model, batch)
    versions = {"keras": keras.__version__}
    if BACKEND == "tensorflow":
        import tensorflow as tf
        versions["tensorflow"] = tf.__version__
    else:
        import jax
        versions["jax"] = jax.__version__
    print(json.dumps({
        "backend": BACKEND, "versions": versions, "cpus": cpus_used, "jit_compile": model.jit_compile,
        "fit": fit, "predict": predict, "predict_on_batch": on_batch,
    }))


main()
