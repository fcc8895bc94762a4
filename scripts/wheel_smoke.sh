#!/usr/bin/env bash
# Build seqlab's wheel, install it into a fresh virtualenv in a temporary folder outside the checkout,
# and use the installed command there: generate the apple data, train for one epoch, predict, and run
# `seqlab experiment context --quick`. Nothing from the checkout is on the path but the wheel and one
# config file. (CI runs it after the test suite; it needs ./.venv from scripts/install.sh.)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pip() { "$1" -m pip --disable-pip-version-check -q "${@:2}" 2>&1 | grep -v "^WARNING: Location" || true; }

.venv/bin/python -m pip --disable-pip-version-check -q wheel --no-deps -w "$work/dist" . >/dev/null
wheel=$(ls "$work"/dist/seqlab-*.whl)
echo "== built $(basename "$wheel")"
"$python" -m venv "$work/venv"
pip "$work/venv/bin/python" install "${SEQLAB_TORCH:-torch==2.13.0}"
pip "$work/venv/bin/python" install "$wheel"
cp configs/apple_lstm.yaml "$work/apple_lstm.yaml"
cd "$work"
export PATH="$work/venv/bin:$PATH"
[ "$(command -v seqlab)" = "$work/venv/bin/seqlab" ]
python -c "import seqlab, sys; assert not seqlab.__file__.startswith('$root'), seqlab.__file__; print('== seqlab imported from', seqlab.__file__)"
python -m seqlab.apple --out data/apple
seqlab -q train --config apple_lstm.yaml --set train.epochs=1 --output runs/apple
seqlab -q predict --model runs/apple --text "I like eating apple!" --format jsonl
seqlab serve --help >/dev/null
seqlab -q experiment context --quick --out runs/experiments
test -s runs/experiments/context/results.json
echo "== the installed wheel works outside the checkout"
