#!/usr/bin/env python3
"""seqlab against the raw-PyTorch floor (../shared/bench/floor.py) on CoNLL-2003, side by side.

Both train the same BiLSTM-CNN-CRF (configs/conll2003_bilstm_crf.yaml; the floor is that model written
directly in PyTorch) and are timed the same way: 20 warm-up batches, then --train-sents sentences of
training (forward, CRF loss, backward, clipping, SGD step), then decoding the whole test set at
--decode-batch-size. Each measurement runs in its own process (so peak RSS is its own), and the runs
are interleaved (floor, seqlab, floor, seqlab, …) for --rounds rounds, because these machines drift by
±30% between runs; the table gives medians and the seqlab/floor ratios.

seqlab is timed through its own training loop (``seqlab.train.loop.train_epoch``: batching, device moves,
the model's loss, clipping, the optimizer) and its inference path (``Tagger.infer``: batching by
length, Viterbi), on data read and encoded by its readers, outside the timed regions like the floor's.
floor.py builds its decode batches before starting the clock; seqlab's ``decode_sents_per_s`` includes
building them (what a user waits for), and the extra row ``decode, prebatched`` times seqlab the
floor's way. ``decode, second pass`` decodes the test set again (same batch shapes, kernels built).
``--decode-sweep 32 64 …`` adds decoding alone at those batch sizes, two passes each for both.

Usage: python scripts/bench/benchmark.py [--data ../shared/data/conll2003] [--batch-sizes 10 32] [--rounds 3]
                                   [--train-sents 3000] [--decode-batch-size 32] [--threads 2]
                                   [--decode-sweep N ...]
                                   [--set KEY=VALUE ...]   (seqlab side only, e.g. model.encoder.impl=scratch)
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLOOR = ROOT.parent / "shared" / "bench" / "floor.py"
KEYS = ("train_sents_per_s", "train_tokens_per_s", "decode_sents_per_s", "peak_rss_mb")


def seqlab_worker(args: argparse.Namespace) -> dict:
    """One seqlab measurement, in this process; mirrors floor.py's protocol."""
    sys.path.insert(0, str(ROOT))
    import torch

    from seqlab.config.settings import load_config
    from seqlab.data.batches import bucketed_order
    from seqlab.data.readers import read_corpus
    from seqlab.tagger.inference import batched
    from seqlab.train.checkpoint import Progress
    from seqlab.train.loop import Clock, Place, train_epoch
    from seqlab.train.prepare import prepare_run
    from seqlab.train.run import start_run

    data = Path(args.data)
    overrides = [f"data.train={data / 'train.txt'}", "data.test=null", "data.dev=null", f"train.batch_size={args.batch_size}", f"train.threads={args.threads}"]
    config = load_config(ROOT / "configs" / "conll2003_bilstm_crf.yaml", [*overrides, *args.overrides])
    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    prepared = prepare_run(config, device=device)  # seeds and builds as training does
    encoded = prepared.corpus.encoded
    # no checkpoint is written: train.checkpoint_every is null and no stop is requested
    run = start_run(prepared, Place(Path("unused"), device), Progress(), random.Random(0), Clock(time.perf_counter()))
    tagger = run.tagger
    test = tagger.encode_tokens([s.tokens for s in read_corpus(data / "test.txt", prepared.config.data)])
    order = bucketed_order([len(e.words) for e in encoded], args.batch_size, config.train.bucket_batches, random.Random(config.seed))
    warmup, timed = order[:20], order[20 : 20 + max(1, args.train_sents // args.batch_size)]
    train_epoch(run, warmup, 0, False, [])
    sents = sum(len(b) for b in timed)
    tokens = sum(len(encoded[k].words) for b in timed for k in b)
    run.progress = Progress()
    start = time.perf_counter()
    train_epoch(run, timed, 1, False, [])
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    tagger.infer(test, args.decode_batch_size)
    decode_s = time.perf_counter() - start
    batches = list(batched(test, args.decode_batch_size))  # built before the timer, as floor.py does
    model = tagger.model.eval()
    with torch.no_grad():
        start = time.perf_counter()
        for batch, _ in batches:
            model.decode(batch).tolist()
        prebatched_s = time.perf_counter() - start
    start = time.perf_counter()
    tagger.infer(test, args.decode_batch_size)  # the same shapes again
    second_s = time.perf_counter() - start
    return {
        "train_sents_per_s": round(sents / train_s, 1),
        "train_tokens_per_s": round(tokens / train_s, 1),
        "decode_sents_per_s": round(len(test) / decode_s, 1),
        "decode_prebatched": round(len(test) / prebatched_s, 1),
        "decode_second_pass": round(len(test) / second_s, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def floor_decode_seconds(data: str, threads: int, size: int, passes: int) -> tuple[list[float], int]:
    """Seconds of each of ``passes`` decodes of the test set by the floor's own model, batching and
    Viterbi (imported from floor.py), batches of ``size`` built first as floor.py builds them; and the
    number of sentences."""
    import importlib.util

    import torch

    spec = importlib.util.spec_from_file_location("floor", FLOOR)
    floor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(floor)
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    train = floor.read_conll(str(Path(data) / "train.txt"))
    test = floor.read_conll(str(Path(data) / "test.txt"))
    word_ids, char_ids, tag_ids = floor.build_vocab(train)
    for _, tags in test:
        for tag in floor.iob1_to_bioes(tags):
            tag_ids.setdefault(tag, len(tag_ids))
    items = floor.Encoded(test, word_ids, char_ids, tag_ids).items
    model = floor.Tagger(len(word_ids), len(char_ids), len(tag_ids), 100).eval()
    order = sorted(range(len(items)), key=lambda k: len(items[k][0]))
    batches = [floor.collate([items[k] for k in order[i : i + size]]) for i in range(0, len(order), size)]
    seconds = []
    with torch.no_grad():
        for _ in range(passes):
            start = time.perf_counter()
            for words, chars, _, mask, lengths in batches:
                paths = model.crf.decode(model.emissions(words, chars, lengths), mask)
                [p[:n] for p, n in zip(paths.tolist(), lengths.tolist())]
            seconds.append(time.perf_counter() - start)
    return seconds, len(items)


def floor_worker(args: argparse.Namespace) -> dict:
    """The floor's decode timed over two passes of the test set (floor.py itself times one)."""
    (first, second), sentences = floor_decode_seconds(args.data, args.threads, args.decode_batch_size, 2)
    return {"decode_sents_per_s": round(sentences / first, 1), "decode_second_pass": round(sentences / second, 1)}


def measure(kind: str, args: argparse.Namespace, batch_size: int) -> dict:
    common = ["--batch-size", str(batch_size), "--train-sents", str(args.train_sents), "--decode-batch-size", str(args.decode_batch_size), "--threads", str(args.threads)]
    if kind == "floor":
        command = [sys.executable, str(FLOOR), "--data", args.data, "--json", *common]
    elif kind == "floor-decode":
        command = [sys.executable, __file__, "--floor-worker", "--data", args.data, *common]
    else:
        command = [sys.executable, __file__, "--worker", "--data", args.data, *common, *(f"--set={o}" for o in args.overrides)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{kind} run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "conll2003"))
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[10, 32])
    parser.add_argument("--batch-size", type=int, default=10, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--train-sents", type=int, default=3000)
    parser.add_argument("--decode-batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--decode-sweep", type=int, nargs="*", default=[], metavar="N", help="also time decoding alone, two passes, at these batch sizes")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a key of seqlab's config (e.g. model.encoder.impl=scratch)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--floor-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(seqlab_worker(args)))
        return
    if args.floor_worker:
        print(json.dumps(floor_worker(args)))
        return
    import torch

    print(f"torch {torch.__version__}, {args.threads} threads, {args.rounds} interleaved rounds, {args.train_sents} timed training sentences, decode batch {args.decode_batch_size}, seqlab overrides {args.overrides}")
    results: dict[tuple[str, int], list[dict]] = {}
    for round_ in range(args.rounds):
        for batch_size in args.batch_sizes:
            for kind in ("floor", "seqlab"):
                results.setdefault((kind, batch_size), []).append(measure(kind, args, batch_size))
        print(f"  round {round_ + 1} done", file=sys.stderr)
    print(f"{'batch':>5} {'figure':<20} {'floor':>10} {'seqlab':>10} {'seqlab/floor':>13}")
    for batch_size in args.batch_sizes:
        for key in KEYS:
            floor = statistics.median(r[key] for r in results[("floor", batch_size)])
            ours = statistics.median(r[key] for r in results[("seqlab", batch_size)])
            print(f"{batch_size:>5} {key:<20} {floor:>10.1f} {ours:>10.1f} {ours / floor:>13.2f}")
        floor = statistics.median(r["decode_sents_per_s"] for r in results[("floor", batch_size)])
        ours = statistics.median(r["decode_prebatched"] for r in results[("seqlab", batch_size)])
        print(f"{batch_size:>5} {'decode, prebatched':<20} {floor:>10.1f} {ours:>10.1f} {ours / floor:>13.2f}")
        ours = statistics.median(r["decode_second_pass"] for r in results[("seqlab", batch_size)])
        print(f"{batch_size:>5} {'decode, second pass':<20} {floor:>10.1f} {ours:>10.1f} {ours / floor:>13.2f}")
    print("(medians; per-round values:", json.dumps({f"{k}@{b}": [r['train_sents_per_s'] for r in v] for (k, b), v in results.items()}), ")")
    if args.decode_sweep:
        decode_sweep(args)


def decode_sweep(args: argparse.Namespace) -> None:
    """Decoding alone at each of ``--decode-sweep``'s batch sizes, floor and seqlab interleaved, two passes
    over the test set each: the first with every batch shape new (what floor.py's protocol times), the
    second with the same shapes again (oneDNN builds a kernel per new shape; a long input or a second
    evaluation repeats shapes). The floor's passes run its own model code imported from floor.py with its
    batches built before the clock; seqlab's worker trains on 10 sentences first (its protocol always
    trains) and builds its batches inside each timed pass."""
    runs: dict[tuple[str, int], list[dict]] = {}
    for round_ in range(args.rounds):
        for size in args.decode_sweep:
            sweep = argparse.Namespace(**{**vars(args), "train_sents": 10, "decode_batch_size": size})
            for kind in ("floor-decode", "seqlab"):
                runs.setdefault((kind, size), []).append(measure(kind, sweep, 32))
        print(f"  decode sweep round {round_ + 1} done", file=sys.stderr)
    print(f"{'decode batch':>12} {'pass':>5} {'floor':>10} {'seqlab':>10} {'seqlab/floor':>13}")
    best: dict[str, tuple[float, int]] = {}
    for size in args.decode_sweep:
        for pass_, key in ((1, "decode_sents_per_s"), (2, "decode_second_pass")):
            floor = statistics.median(r[key] for r in runs[("floor-decode", size)])
            ours = statistics.median(r[key] for r in runs[("seqlab", size)])
            print(f"{size:>12} {pass_:>5} {floor:>10.1f} {ours:>10.1f} {ours / floor:>13.2f}")
            for name, value in ((f"floor pass {pass_}", floor), (f"seqlab pass {pass_}", ours)):
                best[name] = max(best.get(name, (0.0, 0)), (value, size))
    print("best: " + ", ".join(f"{name} {value:.1f} sentences/s at batch {size}" for name, (value, size) in best.items()))


if __name__ == "__main__":
    main()
