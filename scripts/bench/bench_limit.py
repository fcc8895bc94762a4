#!/usr/bin/env python3
"""How close seqlab's training step and decode come to the recurrent layer's own cost, on CoNLL-2003.

For the BiLSTM-CNN-CRF of configs/conll2003_bilstm_crf.yaml, on the batches seqlab itself trains and
decodes (its bucketing, batch sizes --batch-sizes; the test set sorted by length at each
--decode-sizes), three things are timed, each in its own process, interleaved for --rounds rounds:

- **limit**: the recurrent layer alone, torch's fused ``nn.LSTM`` (input 150 = 100 word + 50 char
  features, 100 units per direction, bidirectional) run unpacked on inputs of those batches' shapes:
  forward + backward (with the input's gradient, which the embeddings need) for training, forward
  under ``no_grad`` for decoding. No implementation of this model can avoid this arithmetic.
- **seqlab**: its training loop (``seqlab.train.loop.train_epoch``: batching, the model's loss, backward,
  the optimizer) over the same batches, and ``Tagger.infer`` over the test set (one first pass: every
  batch shape new, batches built inside the clock).
- **floor**: ../shared/bench/floor.py, the same model written directly in PyTorch (packed LSTM).

It prints seqlab/limit (lower is better; 1.0 is the limit) and seqlab/floor throughput (higher is
better), then a breakdown of seqlab's training step from the profiler: each operator's self time,
forward and backward, is charged to the part of the model that ran it (backward operators through
the autograd sequence number of the forward operator that created them).

Usage: python scripts/bench/bench_limit.py [--data ../shared/data/conll2003] [--rounds 3] [--batch-sizes 10 32]
                                     [--decode-sizes 64 128 256] [--train-sents 3000] [--threads 2]
                                     [--runtimes torch onnxruntime torch-int8 onnxruntime-int8] [--no-profile]
                                     [--set KEY=VALUE ...]   (seqlab and limit side, e.g. model.encoder.hidden=200)
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLOOR = ROOT.parent / "shared" / "bench" / "floor.py"
CONFIG = ROOT / "configs" / "conll2003_bilstm_crf.yaml"
PARTS = ("batching", "chars", "embedding", "encoder", "head", "optimizer")
OPTIMIZER_EVENTS = ("Optimizer.step", "Optimizer.zero_grad", "clip")


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def setup(args: argparse.Namespace, batch_size: int, device: str = "cpu", extra: tuple[str, ...] = ()):
    """seqlab's run for the benchmark config on ``device`` (no dev/test, nothing written; ``extra``
    overrides after ``--set``'s), its training batches (the warm-up and the timed ones) and the encoded
    test set."""
    sys.path.insert(0, str(ROOT))
    import torch

    from seqlab.config.settings import load_config
    from seqlab.data.batches import bucketed_order
    from seqlab.data.readers import read_corpus
    from seqlab.train.checkpoint import Progress
    from seqlab.train.loop import Clock, Place
    from seqlab.train.prepare import prepare_run
    from seqlab.train.run import start_run

    data = Path(args.data)
    overrides = [f"data.train={data / 'train.txt'}", "data.test=null", "data.dev=null", f"train.batch_size={batch_size}", f"train.threads={args.threads}"]
    config = load_config(CONFIG, [*overrides, *args.overrides, *extra])
    torch.set_num_threads(args.threads)
    prepared = prepare_run(config, device=torch.device(device))
    run = start_run(prepared, Place(Path("unused"), torch.device(device)), Progress(), random.Random(0), Clock(time.perf_counter()))
    encoded = prepared.corpus.encoded
    order = bucketed_order([len(e.words) for e in encoded], batch_size, config.train.bucket_batches, random.Random(config.seed))
    timed = order[20 : 20 + max(1, args.train_sents // batch_size)]
    test = run.tagger.encode_tokens([s.tokens for s in read_corpus(data / "test.txt", prepared.config.data)])
    return run, order[:20], timed, test


def seqlab_train(args: argparse.Namespace) -> dict:
    from seqlab.train.checkpoint import Progress
    from seqlab.train.loop import train_epoch

    run, warmup, timed, _ = setup(args, args.batch_size)
    train_epoch(run, warmup, 0, False, [])
    run.progress = Progress()
    start = time.perf_counter()
    train_epoch(run, timed, 1, False, [])
    seconds = time.perf_counter() - start
    return {"train_s": seconds, "sents": sum(map(len, timed)), "peak_rss_mb": peak_rss_mb()}


def seqlab_decode(args: argparse.Namespace) -> dict:
    from seqlab.export.runtime import with_runtime

    run, _, _, test = setup(args, 10)
    runtime, _, quantize = args.runtime.partition("-")
    tagger = with_runtime(run.tagger, runtime, quantize or None)
    start = time.perf_counter()
    tagger.infer(test, args.batch_size)
    return {"decode_s": time.perf_counter() - start, "sents": len(test)}


def lstm_module(args: argparse.Namespace):
    """The recurrent layer of the benchmark config as torch's fused module, and its input width."""
    import torch

    sys.path.insert(0, str(ROOT))
    from seqlab.config.settings import load_config

    model = load_config(CONFIG, ["data.train=unused", *args.overrides]).model
    width = model.embedding.dim + (model.embedding.char.filters if model.embedding.char.kind == "cnn" else 2 * model.embedding.char.hidden)
    lstm = torch.nn.LSTM(width, model.encoder.hidden, num_layers=model.encoder.layers, bidirectional=model.encoder.bidirectional, batch_first=True)
    return lstm, width


def limit_seconds(lstm, shapes: list[tuple[int, int]], width: int, train: bool, device: str = "cpu", precision: str = "fp32") -> float:
    """Seconds for ``lstm`` (unpacked, on ``device``) over random inputs of the batch ``shapes`` (batch,
    length): forward + backward with the input's gradient when ``train``, else forward under ``no_grad``.
    Inputs are built before the clock: the limit is the recurrent arithmetic alone."""
    import torch

    from seqlab.nn.fp32 import fp32_lstm_on_cpu
    from seqlab.train.amp import autocast

    place = torch.device(device)
    lstm = lstm.to(place).train(train)
    xs = [torch.randn(n, length, width, device=place, requires_grad=train) for n, length in shapes]  # [(B, L, D)]
    synchronise(device)
    start = time.perf_counter()
    with torch.set_grad_enabled(train), autocast(place, precision):
        for x in xs:
            with fp32_lstm_on_cpu(x) as x:  # as seqlab's encoder runs it
                out, _ = lstm(x)  # (B, L, 2H)
            if train:
                out.float().sum().backward()
    synchronise(device)
    return time.perf_counter() - start


def synchronise(device: str) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously; the CPU needs nothing)."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def train_shapes(run, batches: list[list[int]]) -> list[tuple[int, int]]:
    """(batch size, longest sentence) of each training batch."""
    return [(len(b), max(len(run.corpus.encoded[k].words) for k in b)) for b in batches]


def decode_shapes(test, batch_size: int) -> list[tuple[int, int]]:
    """(batch size, longest sentence) of each of seqlab's decode batches over the encoded ``test`` set."""
    from seqlab.data.batches import sorted_order

    lengths = [len(e.words) for e in test if len(e.words)]
    return [(len(batch), max(lengths[k] for k in batch)) for batch in sorted_order(lengths, batch_size)]


def limit_train(args: argparse.Namespace) -> dict:
    import torch

    run, warmup, timed, _ = setup(args, args.batch_size)
    warm, shapes = train_shapes(run, warmup), train_shapes(run, timed)
    lstm, width = lstm_module(args)
    del run
    torch.set_num_threads(args.threads)
    limit_seconds(lstm, warm, width, train=True)
    seconds = limit_seconds(lstm, shapes, width, train=True)
    return {"train_s": seconds, "sents": sum(n for n, _ in shapes), "peak_rss_mb": peak_rss_mb()}


def limit_decode(args: argparse.Namespace) -> dict:
    run, _, _, test = setup(args, 10)
    lstm, width = lstm_module(args)
    return {"decode_s": limit_seconds(lstm, decode_shapes(test, args.batch_size), width, train=False), "sents": len(test)}


def floor_train(args: argparse.Namespace) -> dict:
    command = [sys.executable, str(FLOOR), "--data", args.data, "--json", "--batch-size", str(args.batch_size), "--train-sents", str(args.train_sents), "--threads", str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"train_sents_per_s": result["train_sents_per_s"], "peak_rss_mb": result["peak_rss_mb"]}


def floor_decode(args: argparse.Namespace) -> dict:
    """floor.py's model and Viterbi over the test set at this batch size, batches built first (its way)."""
    from benchmark import (
        floor_decode_seconds,  # scripts/bench/benchmark.py, beside this script
    )

    (seconds,), sentences = floor_decode_seconds(args.data, args.threads, args.batch_size, 1)
    return {"decode_s": seconds, "sents": sentences}


def profile_train(args: argparse.Namespace) -> dict:
    """Seconds of self CPU time per part of seqlab's training step over the timed batches, from
    ``torch.profiler``; the wall time of the profiled pass is ``total``."""
    import torch
    from torch.autograd.profiler import record_function

    import seqlab.train.loop as loop_module
    from seqlab.train.checkpoint import Progress

    run, warmup, timed, _ = setup(args, args.batch_size)
    model = run.tagger.model
    loop_module.train_epoch(run, warmup, 0, False, [])
    open_scopes: list = []

    def enter(name):
        def hook(*_):
            scope = record_function(name)
            scope.__enter__()
            open_scopes.append(scope)
        return hook

    def leave(*_):
        open_scopes.pop().__exit__(None, None, None)

    def scoped(name, function):
        def wrapper(*a, **k):
            with record_function(name):
                return function(*a, **k)
        return wrapper

    if model.embedding.char is not None:
        model.embedding.char.register_forward_pre_hook(enter("chars"))
        model.embedding.char.register_forward_hook(leave)
    for name, module in (("embedding", model.embedding), ("encoder", model.encoder), ("head", model.projection)):
        module.register_forward_pre_hook(enter(name))
        module.register_forward_hook(leave)
    model.head.loss = scoped("head", model.head.loss)
    loop_module.collate = scoped("batching", loop_module.collate)
    torch.nn.utils.clip_grad_norm_ = scoped("clip", torch.nn.utils.clip_grad_norm_)
    run.progress = Progress()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        loop_module.train_epoch(run, timed, 1, False, [])
        total = time.perf_counter() - start
    events = prof.events()

    def part_of(event) -> str | None:
        node = event
        while node is not None:
            if node.name in PARTS:
                return node.name
            if node.name.startswith(OPTIMIZER_EVENTS):
                return "optimizer"
            node = node.cpu_parent
        return None

    forward_part = {e.sequence_nr: part_of(e) for e in events if e.sequence_nr >= 0 and not e.name.startswith("autograd::") and part_of(e)}
    seconds: dict[str, float] = defaultdict(float)
    for event in events:
        if event.name in PARTS or event.name.startswith(OPTIMIZER_EVENTS):
            continue  # scopes: their operators are counted
        part = part_of(event)
        if part is None:
            node = event
            while node is not None and not node.name.startswith("autograd::engine::evaluate_function"):
                node = node.cpu_parent
            if node is not None:
                part = forward_part.get(node.sequence_nr)
        if part is not None:
            seconds[part] += event.self_cpu_time_total / 1e6
    seconds["other"] = total - sum(seconds.values())  # operators of no part, Python, the profiler's own cost
    seconds["total"] = total
    return dict(seconds)


WORKERS = {
    "seqlab-train": seqlab_train, "limit-train": limit_train, "floor-train": floor_train,
    "seqlab-decode": seqlab_decode, "limit-decode": limit_decode, "floor-decode": floor_decode,
    "profile": profile_train,
}


def measure(kind: str, args: argparse.Namespace, batch_size: int, runtime: str = "torch") -> dict:
    command = [sys.executable, __file__, "--worker", kind, "--batch-size", str(batch_size), "--data", args.data, "--runtime", runtime,
               "--train-sents", str(args.train_sents), "--threads", str(args.threads), *(f"--set={o}" for o in args.overrides)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{kind} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "conll2003"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[10, 32], help="training batch sizes (none: decoding only)")
    parser.add_argument("--decode-sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--train-sents", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--runtimes", nargs="+", default=["torch"], help="seqlab decode runtimes: torch, onnxruntime, torch-int8, onnxruntime-int8")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled breakdown")
    parser.add_argument("--runtime", default="torch", help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, default=10, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args)))
        return
    import torch

    print(f"torch {torch.__version__}, {args.threads} threads, {args.rounds} interleaved rounds, {args.train_sents} timed training sentences, overrides {args.overrides}")
    runs: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for round_ in range(args.rounds):
        for size in args.batch_sizes:
            for kind in ("limit-train", "seqlab-train", "floor-train"):
                runs[(kind, size)].append(measure(kind, args, size))
        for size in args.decode_sizes:
            for kind in ("limit-decode", "floor-decode"):
                runs[(kind, size)].append(measure(kind, args, size))
            for runtime in args.runtimes:
                runs[(f"seqlab-decode:{runtime}", size)].append(measure("seqlab-decode", args, size, runtime))
        print(f"  round {round_ + 1} done", file=sys.stderr)
    if args.batch_sizes:
        print(f"\n{'training':<10} {'batch':>5} {'limit s':>8} {'seqlab s':>9} {'sent/s':>8} {'floor sent/s':>13} {'seqlab/limit':>13} {'seqlab/floor':>13} {'RSS MB seqlab':>14} {'floor':>6}")
    for size in args.batch_sizes:
        limit, ours, floor = runs[("limit-train", size)], runs[("seqlab-train", size)], runs[("floor-train", size)]
        ours_rate = median(ours, "sents") / median(ours, "train_s")
        print(f"{'':<10} {size:>5} {median(limit, 'train_s'):>8.2f} {median(ours, 'train_s'):>9.2f} {ours_rate:>8.1f} {median(floor, 'train_sents_per_s'):>13.1f} "
              f"{median(ours, 'train_s') / median(limit, 'train_s'):>13.2f} {ours_rate / median(floor, 'train_sents_per_s'):>13.2f} "
              f"{median(ours, 'peak_rss_mb'):>14.1f} {median(floor, 'peak_rss_mb'):>6.1f}")
    print(f"\n{'decoding':<17} {'batch':>5} {'limit s':>8} {'seqlab s':>9} {'sent/s':>8} {'floor sent/s':>13} {'seqlab/limit':>13} {'seqlab/floor':>13}")
    best = {}
    for runtime in args.runtimes:
        for size in args.decode_sizes:
            limit, ours, floor = runs[("limit-decode", size)], runs[(f"seqlab-decode:{runtime}", size)], runs[("floor-decode", size)]
            rate, floor_rate = median(ours, "sents") / median(ours, "decode_s"), median(floor, "sents") / median(floor, "decode_s")
            best[runtime] = max(best.get(runtime, (0.0, 0)), (rate, size))
            best["floor"] = max(best.get("floor", (0.0, 0)), (floor_rate, size))
            print(f"{runtime:<17} {size:>5} {median(limit, 'decode_s'):>8.2f} {median(ours, 'decode_s'):>9.2f} {rate:>8.1f} {floor_rate:>13.1f} "
                  f"{median(ours, 'decode_s') / median(limit, 'decode_s'):>13.2f} {rate / floor_rate:>13.2f}")
    print("best: " + ", ".join(f"{name} {rate:.1f} sentences/s at batch {size}" for name, (rate, size) in best.items())
          + "; best / floor best: " + ", ".join(f"{name} {best[name][0] / best['floor'][0]:.2f}" for name in args.runtimes))
    print("(medians over rounds; per-round seconds: " + json.dumps({f"{k}@{b}": [round(r.get('train_s', r.get('decode_s', 0.0)), 2) for r in v] for (k, b), v in runs.items() if not k.startswith("floor-train")}) + ")")
    if args.no_profile:
        return
    print("\nseqlab training step, profiled (self CPU time per part, forward + backward; % of the profiled pass's wall time)")
    for size in args.batch_sizes:
        parts = measure("profile", args, size)
        total = parts.pop("total")
        shares = "  ".join(f"{name} {100 * parts.get(name, 0.0) / total:4.1f}%" for name in (*PARTS, "other"))
        print(f"  batch {size:>3}: {shares}   (profiled pass {total:.2f} s)")


if __name__ == "__main__":
    main()
