#!/usr/bin/env bash
# The apple demo end to end: install, generate the data if needed, train the bidirectional LSTM,
# then tag the two sentences of the notes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
[ -f data/apple/train.conll ] || .venv/bin/python -m seqlab.apple --out data/apple
.venv/bin/seqlab train --config configs/apple_lstm.yaml --output runs/apple_lstm --overwrite
echo
echo "== seqlab predict --model runs/apple_lstm --text 'I like eating apple!'"
.venv/bin/seqlab -q predict --model runs/apple_lstm --text "I like eating apple!"
echo "== seqlab predict --model runs/apple_lstm --text 'The Apple is a great company!'"
.venv/bin/seqlab -q predict --model runs/apple_lstm --text "The Apple is a great company!"
