#!/usr/bin/env python3
"""Check the CUDA path in one short run and print its figures.

    python scripts/gpu_check.py                 # on a machine with CUDA
    python scripts/gpu_check.py --device cpu    # the same checks on the CPU (what the tests run)

1. Training steps in fp32 and bf16 (and fp16 with its scaler) on generated apple-style data: the loss
   falls, the weights stay finite, sentences/s for each.
2. Fused (cuDNN on CUDA) vs scratch cells on the device: the same weights give the same emissions
   (max |difference|) and the same Viterbi tags.
3. Round trip: a model trained on the device is saved, loaded on the CPU and tags identically; loaded
   back on the device, it tags identically again.
Exit status 1 when a check fails.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from seqlab.config import load_config  # noqa: E402
from seqlab.data import collate  # noqa: E402
from seqlab.tagger import Tagger  # noqa: E402
from seqlab.train import train  # noqa: E402

FOOD, BIZ = ["eat", "peel", "slice", "bake"], ["shares", "stock", "revenue", "investors"]


def write_data(path: Path, count: int, seed: int) -> Path:
    rng = random.Random(seed)
    lines = []
    for k in range(count):
        apple = rng.choice(["apple", "Apple"])
        if k % 2:
            words, tags = ["I", rng.choice(FOOD), "the", apple, "."], ["O", "O", "O", "B-FRUIT", "O"]
        else:
            words, tags = ["the", apple, rng.choice(BIZ), "rose", "."], ["O", "B-ORG", "O", "O", "O"]
        lines += [f"{w}\t{t}\n" for w, t in zip(words, tags)] + ["\n"]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device: nothing checked (run with --device cpu for the CPU variant)")
        return 1
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device {device} ({name}), torch {torch.__version__}")
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        train_file, dev_file = write_data(base / "train.conll", 400, 1), write_data(base / "dev.conll", 100, 2)
        common = [f"data.train={train_file}", f"data.dev={dev_file}", "model.embedding.dim=32", "model.encoder.hidden=64",
                  "model.embedding.char.kind=cnn", "train.optimizer=adam", "train.lr=0.01", f"train.epochs={args.epochs}",
                  "train.batch_size=32", "train.patience=null", f"train.device={args.device}"]
        models = {}
        for precision in ("fp32", "bf16", "fp16"):
            out = base / precision
            start = time.perf_counter()
            result = train(load_config(None, common + [f"train.precision={precision}", f"output_dir={out}"]), progress=False)
            seconds = time.perf_counter() - start
            rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
            finite = all(torch.isfinite(p).all() for p in Tagger.load(out).model.parameters())
            ok = rows[-1]["loss"] < rows[0]["loss"] and finite
            print(f"train {precision}: loss {rows[0]['loss']:.3f} -> {rows[-1]['loss']:.3f}, dev F1 {result.dev.f1:.4f}, "
                  f"{rows[-1]['train_sents_per_s']:.0f} sent/s, skipped {sum(r['skipped_batches'] for r in rows)}, {seconds:.1f}s {'ok' if ok else 'FAILED'}")
            if not ok:
                failures.append(f"train {precision}")
            models[precision] = out

        sentences = [["I", "peel", "the", "apple", "."], ["the", "Apple", "stock", "rose", "."], ["apple"]]
        fused = Tagger.load(models["fp32"], device=device)
        scratch = Tagger.load(models["fp32"], device=device, impl="scratch")
        batch = collate(fused.encode_tokens(sentences), list(range(len(sentences)))).to(device)
        with torch.no_grad():
            diff = float((fused.model.emissions(batch) - scratch.model.emissions(batch)).abs().max())
        same_tags = fused.predict_tokens(sentences) == scratch.predict_tokens(sentences)
        ok = diff < 1e-4 and same_tags
        print(f"fused vs scratch on {device}: max |emission difference| {diff:.2e}, same tags {same_tags} {'ok' if ok else 'FAILED'}")
        if not ok:
            failures.append("fused vs scratch")

        on_device = fused.predict_tokens(sentences)
        on_cpu = Tagger.load(models["fp32"], device="cpu").predict_tokens(sentences)
        back = Tagger.load(models["fp32"], device=device).predict_tokens(sentences)
        ok = on_device == on_cpu == back
        print(f"round trip {device} -> cpu -> {device}: identical tags {ok} {'ok' if ok else 'FAILED'}")
        if not ok:
            failures.append("round trip")
    print("all checks passed" if not failures else f"FAILED: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
