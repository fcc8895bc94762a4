#!/usr/bin/env python3
"""Constrained vs unconstrained decoding: the same config trained twice, with
``model.decoder.constrained`` true and false, then scored on the test file: span F1 and the number of
predicted sentences that are not valid in the model's scheme (before conversion back to the files'
scheme, which would hide them by repairing).

Usage: python scripts/bench/compare_constrained.py --config configs/apple_lstm.yaml [--set KEY=VALUE ...]
       python scripts/bench/compare_constrained.py --config configs/conll2003_bilstm_crf.yaml --set train.epochs=3
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from seqlab import Tagger, load_config  # noqa: E402
from seqlab.data.readers import read_corpus  # noqa: E402
from seqlab.data.schemes import sequence_allowed  # noqa: E402
from seqlab.tagger.evaluate import Evaluator  # noqa: E402
from seqlab.train.run import train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--out", default="runs/constrained")
    args = parser.parse_args()
    print(f"{'constrained':<12} {'test F1':>8} {'invalid sentences':>18} {'of':>6} {'train s':>8}")
    for constrained in (True, False):
        config = load_config(args.config, [*args.overrides, f"model.decoder.constrained={str(constrained).lower()}"])
        start = time.perf_counter()
        result = train(config, Path(args.out) / f"constrained_{constrained}", overwrite=True, progress=False)
        seconds = time.perf_counter() - start
        tagger = Tagger.load(result.output_dir)
        sentences = read_corpus(config.data.test, tagger.bundle.config.data)
        inferred = tagger.infer(tagger.encode_tokens([s.tokens for s in sentences]), 32)
        invalid = sum(not sequence_allowed(tagger.tag_names(found.ids), tagger.model_scheme) for found in inferred)
        report = Evaluator(tagger, sentences)()
        print(f"{str(constrained):<12} {100 * report.f1:>8.2f} {invalid:>18} {len(sentences):>6} {seconds:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
