#!/usr/bin/env bash
# Reference outputs of a source tree, for checking that a refactoring changes nothing:
#   bash scripts/bench/reference_outputs.sh TREE OUT [CONLL_DIR]   then compare OUT/SHA256SUMS of two trees
# (TREE: a checkout, e.g. a git worktree of the commit before; CONLL_DIR defaults to ../shared/data/conll2003)
set -euo pipefail
src=$1; out=$(mkdir -p "$2" && cd "$2" && pwd); data=${3:-$(cd "$(dirname "$0")/../../.." && pwd)/shared/data/conll2003}
py=${PYTHON:-$(cd "$(dirname "$0")/../.." && pwd)/.venv/bin/python}
mkdir -p "$out"
cd "$src"
[ -f "$out/conll2000.txt" ] || awk 'BEGIN{n=0} /^-DOCSTART-/{next} {print} /^[[:space:]]*$/{n++; if(n>=2000) exit}' $data/train.txt > "$out/conll2000.txt"
run() { # name config extra...
  name=$1; cfg=$2; shift 2
  $py -m seqlab -q train --config "$cfg" --set seed=1 --set train.threads=1 "$@" --output "$out/$name" --overwrite
  $py -m seqlab -q evaluate --model "$out/$name" --data "$DATA" --json --threads 1 > "$out/$name.eval.json"
  $py -m seqlab -q predict --model "$out/$name" --input "$DATA" --format jsonl --probs --threads 1 --batch-size 64 --output "$out/$name.pred.jsonl"
  $py -m seqlab -q predict --model "$out/$name" --input "$out/raw.txt" --input-format text --format jsonl --probs --threads 1 --batch-size 64 --output "$out/$name.raw.jsonl"
}
printf 'I like eating apple!\nThe Apple is a great company!\nShares of Apple fell after the report.\nEU rejects German call to boycott British lamb.\n' > "$out/raw.txt"
DATA=$src/data/apple/test.conll run apple_lstm configs/apple_lstm.yaml
DATA=$src/data/apple/test.conll run apple_gru configs/apple_gru.yaml
DATA=$data/test.txt run conll_fast configs/conll2003_fast.yaml --set data.train="$out/conll2000.txt" --set data.dev=$data/dev.txt --set data.test=$data/test.txt --set train.epochs=2
cd "$out" && sha256sum */weights.safetensors *.json *.jsonl > SHA256SUMS
