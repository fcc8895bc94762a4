#!/usr/bin/env python3
"""Recipes on corpora nobody tuned for: train each (recipe, corpus, seed) and print the best epoch, dev
and test scores, the largest epoch-to-epoch dev drop after epoch 5, and for the apple corpus the accuracy
on the *apple* tokens. The record behind docs/recipes.md.

Recipes:
  defaults     a config that gives only the data paths (seqlab's built-in defaults)
  conll_fast   configs/conll2003_fast.yaml with only the data paths changed
  ud_pos       configs/ud_pos.yaml with only the data paths changed (a directory of .conllu files)
  init         what `seqlab init config` writes for the corpus, unchanged

Corpora: ``apple`` (data/apple) and any directory with train/dev/test.conll, named ``NAME=DIR`` (e.g. a
noisy CoNLL-2003 subset written by scripts/bench/make_noisy_conll.py).

A corpus directory holds train/dev/test.conll, or train/dev/test.conllu (read with data.format=conllu).

Usage: python scripts/bench/bench_recipes.py --corpus apple --corpus noisy=/tmp/noisy [--recipes defaults init]
                                       [--seeds 1 2 3] [--out runs/recipes] [--set KEY=VALUE ...]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from seqlab import Tagger, load_config  # noqa: E402
from seqlab.cli.init_config import recommend  # noqa: E402
from seqlab.experiments.measures import apple_accuracy  # noqa: E402
from seqlab.train.run import quiet_training, train  # noqa: E402


def config_for(recipe: str, corpus: Path, out: Path, seed: int, overrides: list[str]):
    suffix = ".conllu" if (corpus / "train.conllu").exists() else ".conll"
    paths = [f"data.{s}={corpus / (s + suffix)}" for s in ("train", "dev", "test")] + (["data.format=conllu"] if suffix == ".conllu" else [])
    common = [*paths, f"seed={seed}", "train.threads=1", *overrides]
    if recipe == "defaults":
        return load_config(None, common)
    if recipe == "conll_fast":
        return load_config(ROOT / "configs" / "conll2003_fast.yaml", [*common, "data.tag_scheme=auto"])
    if recipe == "ud_pos":
        return load_config(ROOT / "configs" / "ud_pos.yaml", common)
    written = out.with_suffix(".yaml")
    written.parent.mkdir(parents=True, exist_ok=True)
    written.write_text(recommend(*(str(corpus / (s + suffix)) for s in ("train", "dev", "test"))), encoding="utf-8")
    return load_config(written, [f"seed={seed}", "train.threads=1", *overrides])


def largest_drop(history: list[dict], after: int = 5) -> float:
    """The largest fall of dev F1 from one epoch to the next, counting epochs after ``after``."""
    scores = [h["dev_f1"] for h in history]
    return max((a - b for k, (a, b) in enumerate(zip(scores, scores[1:]), start=2) if k > after), default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", action="append", required=True, help="apple, or NAME=DIR")
    parser.add_argument("--recipes", nargs="+", default=["defaults", "conll_fast", "init"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--out", default="runs/recipes")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    print(f"{'corpus':8} {'recipe':11} {'seed':>4} {'best':>4} {'epochs':>6} {'dev F1':>7} {'test F1':>7} {'drop>5':>7} {'test acc':>8} {'apple acc':>9}")
    for spec in args.corpus:
        name, _, directory = spec.partition("=")
        corpus = ROOT / "data" / "apple" if name == "apple" else Path(directory)
        for recipe in args.recipes:
            for seed in args.seeds:
                out = Path(args.out) / f"{name}_{recipe}_{seed}"
                with quiet_training():
                    result = train(config_for(recipe, corpus, out, seed, args.overrides), out, progress=False, overwrite=True)
                history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
                apple = f"{100 * apple_accuracy(Tagger.load(out), corpus)['all']:9.1f}" if name == "apple" else f"{'':9}"
                print(f"{name:8} {recipe:11} {seed:4d} {result.best_epoch:4d} {result.epochs_run:6d} {result.dev.f1:7.4f} "
                      f"{result.test.f1:7.4f} {largest_drop(history):7.4f} {result.test.accuracy:8.4f} {apple}", flush=True)


if __name__ == "__main__":
    main()
