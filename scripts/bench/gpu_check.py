#!/usr/bin/env python3
"""Check the CUDA path in one short run and print its figures.

    python scripts/bench/gpu_check.py                 # on a machine with CUDA
    python scripts/bench/gpu_check.py --device cpu    # the same checks on the CPU (what the tests run)

1. Training steps in fp32 and bf16 (and fp16 with its scaler) on generated apple-style data: the loss
   falls, the weights stay finite, sentences/s for each.
2. Fused (cuDNN on CUDA) vs scratch cells on the device: the same weights give the same emissions
   (max |difference|, with TF32 off: cuDNN's default TF32 arithmetic is reported beside it) and the
   same Viterbi tags; and the fused layer ``unpacked`` (seqlab's path) vs packed (torch's): the same
   outputs and input gradients.
3. Round trip: a model trained on the device is saved, loaded on the CPU and tags identically; loaded
   back on the device, it tags identically again.
4. With ``--model M --data FILE`` (a saved model, a labelled file): the tokens whose tag differs between
   the CPU and the device, with TF32 on (torch's default for cuDNN) and off.
Exit status 1 when a check fails.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

from seqlab.config.settings import load_config  # noqa: E402
from seqlab.data.batches import collate  # noqa: E402
from seqlab.data.readers import read_corpus  # noqa: E402
from seqlab.nn.encoder import unpacked  # noqa: E402
from seqlab.tagger.inference import Tagger  # noqa: E402
from seqlab.train.run import train  # noqa: E402

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


@contextlib.contextmanager
def allow_tf32(on: bool) -> Iterator[None]:
    """cuDNN's and cuBLAS's TF32 arithmetic on (``on``) or off for the duration."""
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = on
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


def packed_vs_unpacked(device: torch.device) -> tuple[float, float]:
    """Max |difference| of the outputs and input gradients of a fused BiLSTM run by ``unpacked`` and packed."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(12, 16, num_layers=2, bidirectional=True, batch_first=True).to(device)
    lengths = torch.tensor([7, 3, 5, 1])
    x = torch.randn(4, 7, 12, device=device, requires_grad=True)  # (B, L, D)
    weights = torch.randn(4, 7, 32, device=device)  # (B, L, 2H): a loss that reads every output
    results = []
    with allow_tf32(False):
        for path in ("unpacked", "packed"):
            x.grad = None
            if path == "unpacked":
                h = unpacked(lstm, x, lengths)  # (B, L, 2H)
            else:
                packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
                h, _ = pad_packed_sequence(lstm(packed)[0], batch_first=True, total_length=7)  # (B, L, 2H)
            (h * weights).sum().backward()
            results.append((h.detach(), x.grad.clone()))
    (h1, g1), (h2, g2) = results
    return float((h1 - h2).abs().max()), float((g1 - g2).abs().max())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--model", help="a saved model: also compare its tags on the CPU and the device over --data")
    parser.add_argument("--data", help="the labelled file for --model")
    args = parser.parse_args()
    if bool(args.model) != bool(args.data):
        parser.error("--model and --data go together")
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
        diffs = {}
        for tf32 in (True, False):
            with torch.no_grad(), allow_tf32(tf32):
                diffs[tf32] = float((fused.model.emissions(batch) - scratch.model.emissions(batch)).abs().max())
        with allow_tf32(False):
            same_tags = fused.predict_tokens(sentences) == scratch.predict_tokens(sentences)
        ok = diffs[False] < 1e-4 and same_tags
        print(f"fused vs scratch on {device}: max |emission difference| {diffs[False]:.2e} ({diffs[True]:.2e} with TF32), "
              f"same tags {same_tags} {'ok' if ok else 'FAILED'}")
        if not ok:
            failures.append("fused vs scratch")
        out_diff, grad_diff = packed_vs_unpacked(device)
        ok = out_diff < 1e-5 and grad_diff < 1e-5
        print(f"unpacked vs packed fused BiLSTM on {device}: max |output difference| {out_diff:.2e}, max |input gradient difference| {grad_diff:.2e} {'ok' if ok else 'FAILED'}")
        if not ok:
            failures.append("unpacked vs packed")

        on_device = fused.predict_tokens(sentences)
        on_cpu = Tagger.load(models["fp32"], device="cpu").predict_tokens(sentences)
        back = Tagger.load(models["fp32"], device=device).predict_tokens(sentences)
        ok = on_device == on_cpu == back
        print(f"round trip {device} -> cpu -> {device}: identical tags {ok} {'ok' if ok else 'FAILED'}")
        if not ok:
            failures.append("round trip")
    if args.model:
        cpu_tagger, device_tagger = Tagger.load(args.model), Tagger.load(args.model, device=device)
        sents = [s.tokens for s in read_corpus(args.data, cpu_tagger.bundle.config.data)]
        on_cpu = cpu_tagger.predict_tokens(sents)
        for tf32 in (True, False):
            with allow_tf32(tf32):
                on_device = device_tagger.predict_tokens(sents)
            differ = sum(a != b for x, y in zip(on_cpu, on_device) for a, b in zip(x, y))
            print(f"{args.model} on {args.data}: {differ} of {sum(map(len, sents))} tags differ between cpu and {device} (TF32 {'on' if tf32 else 'off'})")
    print("all checks passed" if not failures else f"FAILED: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
