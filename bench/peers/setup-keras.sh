#!/usr/bin/env bash
# Creates a Python virtualenv in DIR (default: ~/.cache/kiln-keras-venv) holding Keras 3 with
# its TensorFlow (CPU) and JAX backends, pinned to the releases on this machine's local Python
# index, so that `npm run bench:cnn` can run Keras beside Kiln. For benchmarks only: the
# project never needs Python. A no-op when DIR already holds these pins; a few minutes otherwise.
#   bash bench/peers/setup-keras.sh [DIR]      then: npm run bench:cnn
#   (another DIR: KILN_BENCH_KERAS_PYTHON=DIR/bin/python npm run bench:cnn)
set -euo pipefail
DIR=${1:-${HOME}/.cache/kiln-keras-venv}
PINS="keras==3.15.1 tensorflow-cpu==2.21.0 jax==0.10.2 jaxlib==0.10.2"
STAMP=$DIR/kiln-keras-pins
if [ -x "$DIR/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$PINS" ]; then
  echo "keras peer ready in $DIR ($PINS)"
  exit 0
fi
"${PYTHON:-python3}" -m venv "$DIR"
# Few retries: pip's default index is unreachable where only the local index serves.
# shellcheck disable=SC2086
"$DIR/bin/pip" install --quiet --retries "${PIP_RETRIES:-1}" $PINS
VERSIONS=$(TF_CPP_MIN_LOG_LEVEL=2 "$DIR/bin/python" -c 'import keras, tensorflow, jax; print("keras", keras.__version__, "tensorflow", tensorflow.__version__, "jax", jax.__version__)' 2>"$DIR/kiln-keras-check.log") \
  || { cat "$DIR/kiln-keras-check.log" >&2; echo "setup-keras: $DIR/bin/python cannot import keras, tensorflow and jax" >&2; exit 1; }
echo "$PINS" >"$STAMP"
echo "keras peer ready in $DIR: $VERSIONS"
