#!/usr/bin/env python3
"""seqlab's training step and decode on a GPU, by recurrent path and precision, on CoNLL-2003.

For the BiLSTM-CNN-CRF of configs/conll2003_bilstm_crf.yaml, on the batches seqlab trains and decodes
(the same set-up as scripts/bench/bench_limit.py), in one process on --device, each figure timed with the
device synchronised:

- **training** at each of --batch-sizes, fp32 and bf16 (``train.precision``), over --train-sents
  sentences after 20 warm-up batches, with the encoder's three paths:
  ``packed`` (torch's fused module over packed sequences, as cuDNN runs it),
  ``unpacked`` (the same module one direction per call on the padded batch, ``seqlab.nn.encoder.unpacked``,
  seqlab's default on the CPU and CUDA) and ``scratch`` (``model.encoder.impl=scratch``, seqlab's own cells);
  beside them the **limit**, the fused LSTM alone on inputs of those batches' shapes (forward + backward).
  Non-finite batches are skipped (``train.skip_nonfinite``) and counted, with the mean training loss.
- **decoding** the test set at each of --decode-sizes (``Tagger.infer``, fp32 as evaluation always is):
  a first pass (every batch shape new) and a second, for each path, beside the LSTM-alone forward.

The table gives seconds, sentences/s and path/limit; the paths are interleaved per batch size so drift
hits them alike. Usage:

    python scripts/bench/bench_gpu.py [--device cuda] [--data ../shared/data/conll2003] [--batch-sizes 10 32 128]
                                [--decode-sizes 64 256 1024] [--train-sents 3000] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_limit, beside this script
from bench_limit import (  # noqa: E402
    ROOT,
    decode_shapes,
    limit_seconds,
    lstm_module,
    setup,
    synchronise,
    train_shapes,
)

PATHS = ("packed", "unpacked", "scratch")


def use_path(path: str, device: str) -> list[str]:
    """Point ``seqlab.nn.encoder`` at ``path`` and return the config overrides it needs."""
    import seqlab.nn.encoder as encoder

    kind = device.split(":")[0]
    encoder.UNPACKED_DEVICES = frozenset({"cpu", kind}) if path == "unpacked" else frozenset({"cpu"} - {kind})
    return ["model.encoder.impl=scratch"] if path == "scratch" else []


def train_seconds(args: argparse.Namespace, batch_size: int, path: str, precision: str) -> dict:
    """Seconds of the timed training batches, sentences, mean loss and skipped (non-finite) batches."""
    from seqlab.train.checkpoint import Progress
    from seqlab.train.loop import train_epoch

    extra = (*use_path(path, args.device), f"train.precision={precision}", "train.skip_nonfinite=true")
    run, warmup, timed, _ = setup(args, batch_size, args.device, extra)
    train_epoch(run, warmup, 0, False, [])
    run.progress = Progress()
    synchronise(args.device)
    start = time.perf_counter()
    train_epoch(run, timed, 1, False, [])
    synchronise(args.device)
    seconds, state = time.perf_counter() - start, run.progress
    return {"seconds": seconds, "sents_per_s": sum(map(len, timed)) / seconds, "loss": state.loss_sum / max(state.seen, 1), "skipped": state.skipped}


def decode_seconds(args: argparse.Namespace, size: int, path: str) -> tuple[float, float, int]:
    """First-pass and second-pass seconds of ``Tagger.infer`` over the test set at batch ``size``."""
    run, _, _, test = setup(args, 10, args.device, tuple(use_path(path, args.device)))
    passes = []
    for _ in range(2):
        synchronise(args.device)
        start = time.perf_counter()
        run.tagger.infer(test, size)
        passes.append(time.perf_counter() - start)
    return passes[0], passes[1], len(test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "conll2003"))
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[10, 32, 128])
    parser.add_argument("--decode-sizes", type=int, nargs="*", default=[64, 256, 1024])
    parser.add_argument("--train-sents", type=int, default=3000)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--paths", nargs="+", default=list(PATHS), choices=PATHS)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (batching, host-side work)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args()
    import torch

    name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu"
    print(f"torch {torch.__version__}, {args.device} ({name}), cuDNN {torch.backends.cudnn.version()}, {args.train_sents} timed training sentences", flush=True)
    figures: list[dict] = []

    def report(row: dict) -> None:
        figures.append(row)
        print("  " + "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)

    lstm, width = lstm_module(args)
    for size in args.batch_sizes:
        run, warmup, timed, _ = setup(args, size, args.device)
        warm, shapes = train_shapes(run, warmup), train_shapes(run, timed)
        del run
        for precision in args.precisions:
            limit_seconds(lstm, warm, width, True, args.device, precision)
            limit = limit_seconds(lstm, shapes, width, True, args.device, precision)
            report({"part": "train", "batch": size, "precision": precision, "path": "limit", "seconds": limit, "sents_per_s": sum(n for n, _ in shapes) / limit})
            for path in args.paths:
                timing = train_seconds(args, size, path, precision)
                report({"part": "train", "batch": size, "precision": precision, "path": path, **timing, "vs_limit": timing["seconds"] / limit})
    if args.decode_sizes:
        run, _, _, test = setup(args, 10, args.device)
        run.tagger.infer(test[:256], 64)  # the device's start-up (context, libraries) before any clock
        del run
    for size in args.decode_sizes:
        shapes = decode_shapes(test, size)
        limit_seconds(lstm, shapes, width, False, args.device)
        limit = limit_seconds(lstm, shapes, width, False, args.device)
        report({"part": "decode", "batch": size, "path": "limit", "seconds": limit, "sents_per_s": len(test) / limit})
        for path in args.paths:
            first, second, sents = decode_seconds(args, size, path)
            report({"part": "decode", "batch": size, "path": path, "seconds": first, "second_pass_s": second, "sents_per_s": sents / first, "vs_limit": first / limit})
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
