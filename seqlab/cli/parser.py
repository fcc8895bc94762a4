"""The command line's parser: every ``seqlab`` command and option (docs/cli.md is generated from it).
It imports nothing heavy, so ``seqlab --help`` answers at once."""
from __future__ import annotations

import argparse

from seqlab import __version__


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The ``seqlab`` parser and each command's own parser, by name (docs/cli.md is generated from them)."""
    parser = argparse.ArgumentParser(prog="seqlab", description="Sequence labelling with RNN/LSTM/GRU encoders and softmax/CRF heads.")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr")
    parser.add_argument("--version", action="version", version=f"seqlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model from a YAML config", description=(
        "Train a model as the config says and write its directory (config, vocabularies, best weights, per-epoch metrics, a "
        "resumable checkpoint). An existing model is kept unless --overwrite. --resume continues an interrupted run exactly, "
        "with its own config (--set may change e.g. train.epochs); the training file must be the one the run started with."))
    start = train.add_mutually_exclusive_group(required=True)
    start.add_argument("--config", help="YAML config file")
    start.add_argument("--resume", metavar="DIR", help="continue the run whose checkpoint is in DIR (its own config; --set may change e.g. train.epochs)")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a config key, e.g. model.encoder.cell=gru (repeatable)")
    train.add_argument("--output", help="model directory (overrides output_dir)")
    train.add_argument("--overwrite", action="store_true", help="replace a model already in the output directory")
    train.add_argument("--dry-run", action="store_true", help="print the resolved config and parameter count, then exit")

    evaluate = sub.add_parser("evaluate", help="score a model on a labelled file", description=(
        "Score a model on a labelled file in its data format: span precision/recall/F1 (conlleval's rules) overall and per type, "
        "token accuracy, accuracy on ambiguous and on out-of-vocabulary words, and the calibration of span confidences."))
    evaluate.add_argument("--model", required=True, help="model directory")
    evaluate.add_argument("--data", required=True, help="labelled file in the model's data format")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    evaluate.add_argument("--impl", choices=("fused", "scratch"), help="run the recurrent encoder with this implementation (same weights)")
    _runtime_options(evaluate)
    evaluate.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (a model trained anywhere runs anywhere)")
    evaluate.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch (default: torch's)")

    predict = sub.add_parser("predict", help="tag raw text or a file", description=(
        "Tag raw text or a file. Input is streamed in chunks and the output keeps the input order: conll prints token<TAB>tag "
        "lines and a blank line per sentence, jsonl one object per sentence, text the sentence with entities as [TYPE words]. "
        "Sentences/s on stderr at the end."))
    predict.add_argument("--model", required=True, help="model directory")
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="one raw sentence")
    source.add_argument("--input", help="a file, or - for stdin")
    predict.add_argument("--input-format", choices=("text", "conll", "conllu", "jsonl"),
                         help="text: one raw sentence per line; the others are read with the model's data settings. Default: text, "
                              "unless the file is plainly CoNLL, CoNLL-U or JSONL (said on stderr)")
    predict.add_argument("--format", choices=("conll", "jsonl", "text"), default="conll", help="output format")
    predict.add_argument("--output", help="file to write (default: standard output); required under torchrun, where each process "
                                          "tags a stripe of the input and the first joins them in input order")
    predict.add_argument("--probs", action="store_true", help="add each token's tag probability and each entity's confidence")
    predict.add_argument("--split-sentences", action="store_true",
                         help="raw text: cut each line (or --text) into sentences with a rule-based splitter (docs/guide.md); offsets stay in the line")
    predict.add_argument("--nbest", type=int, default=0, metavar="K", help="also give the K best tag sequences with their probabilities")
    predict.add_argument("--impl", choices=("fused", "scratch"), help="run the recurrent encoder with this implementation (same weights)")
    _runtime_options(predict)
    predict.add_argument("--batch-size", default="auto", metavar="N|auto",
                         help="at most N sentences per decode batch (fewer when they are long); auto (default): sizes 8-512 timed on parts of the input's first 2,048 sentences "
                              "and the fastest kept (inputs under 1,024 sentences: the model's train.eval_batch_size)")
    predict.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (a model trained anywhere runs anywhere)")
    predict.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch (default: torch's)")

    inspect = sub.add_parser("inspect", help="print the encoder's gate values and state norms token by token", description=(
        "Per token: the tag, each gate's mean over units (LSTM forget/input/output, GRU update/reset) and the state norms in each "
        "direction, for a model trained with either impl."))
    inspect.add_argument("--model", required=True, help="model directory (trained with either impl)")
    inspect.add_argument("--text", required=True, action="append", help="one raw sentence (repeatable)")
    inspect.add_argument("--layer", type=int, default=-1, help="encoder layer, 0-based; -1 is the last (default)")
    inspect.add_argument("--plot", metavar="FILE.png", help="also write a heatmap of each gate per unit and token (needs matplotlib)")

    experiment = sub.add_parser("experiment", help="check the notes' claims about RNN/LSTM/GRU on real runs", description=(
        "Run the notes' experiments (docs/experiments.md): each trains what its claim needs, writes OUT/NAME/results.json and "
        "figures, and prints one verdict per claim, decided by a stated rule on the measured means."))
    experiment.add_argument("names", nargs="+", metavar="NAME", help="all, or any of: context future long-range vanishing exploding gates lstm-vs-gru init-and-relu; long-range-budget (hours; not in all)")
    experiment.add_argument("--quick", action="store_true", help="few seeds, short runs: checks the pipeline in minutes, not the claims")
    experiment.add_argument("--out", default="runs/experiments", help="results.json and figures go to OUT/NAME/ (default runs/experiments)")
    experiment.add_argument("--seeds", type=int, help="seeds per variant (overrides the YAML)")
    experiment.add_argument("--configs", help="directory of the experiments' YAML files (default: the ones installed with seqlab)")
    experiment.add_argument("--corpus", metavar="DIR", help="lstm-vs-gru only: also compare on this CoNLL corpus (DIR/train.*, dev.*, test.*), e.g. CoNLL-2003")
    experiment.add_argument("--cell", metavar="SPEC", help="long-range-budget only: train just the one run SPEC names (VARIANT/KEY=VALUE.../BUDGET/T/seed, as docs/experiments.md lists)")

    sweep = sub.add_parser("sweep", help="train every combination of config values for several seeds and tabulate", description=(
        "Train every combination of the grid for each seed; print dev/test F1 mean ± std, parameters and training sentences/s "
        "per combination, and write OUT/sweep.json and OUT/sweep.csv."))
    sweep.add_argument("--config", required=True, help="YAML config every run starts from")
    sweep.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2", help="values to sweep for one key (repeatable: the grid is their product)")
    sweep.add_argument("--seeds", type=int, default=1, help="seeds per combination (1..N)")
    sweep.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a key for every run")
    sweep.add_argument("--out", default="runs/sweep", help="model directories, sweep.json and sweep.csv (default runs/sweep)")

    export = sub.add_parser("export", help="write the model as one TorchScript or torch.export program (ids in, tag ids out) or an ONNX file", description=(
        "torchscript: one program from word/char/casing ids and lengths to tag ids, Viterbi included. torch-export: the same as a "
        "torch.export program (.pt2, torch.export.load(F).module()), every loop over time a torch.scan, so it takes any batch, "
        "length and word width. onnx: the tag scores and the start/transition/end scores, decoded after onnxruntime by "
        "seqlab.export.onnx.OnnxTagger (pip install -e '.[export]')."))
    export.add_argument("--model", required=True, help="model directory")
    export.add_argument("--format", choices=("torchscript", "onnx", "torch-export"), default="torchscript",
                        help="torchscript / torch-export (.pt2): decode included; onnx: scores + transition scores, decoded by seqlab.export.onnx.OnnxTagger")
    export.add_argument("--out", required=True, help="file to write")
    export.add_argument("--check", action="store_true", help="run the export and the eager model on the dev data (or --data) and fail unless every tag is identical")
    export.add_argument("--data", help="labelled or unlabelled file for --check (default: the model's data.dev)")

    serve = sub.add_parser("serve", help="serve a model over HTTP: a JSON API with dynamic batching and an entity viewer page", description=(
        "Serve a model over HTTP (docs/serving.md): POST /v1/tag, GET /v1/model, /healthz, /readyz, /openapi.json, and the entity "
        "viewer page at /. Concurrent requests are decoded together. Needs pip install -e '.[serve]'."))
    serve.add_argument("--model", required=True, help="model directory")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback only)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--max-batch", type=int, default=64, metavar="N", help="sentences decoded together at most")
    serve.add_argument("--max-wait-ms", type=float, default=0.0, metavar="MS",
                       help="how long a request that finds the model idle waits for others (under load batches form while the model decodes)")
    serve.add_argument("--max-request-bytes", type=int, default=1 << 20, metavar="N", help="largest request body")
    serve.add_argument("--max-sentences", type=int, default=256, metavar="N", help="sentences per request at most (after splitting)")
    serve.add_argument("--max-tokens", type=int, default=1000, metavar="N", help="tokens per sentence at most")
    serve.add_argument("--request-timeout", type=float, default=30.0, metavar="S", help="seconds a request body may take to arrive (else 408)")
    serve.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    serve.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch in the decoding process (default 1: the HTTP process needs a core too)")

    debug = sub.add_parser("debug", help="check a corpus before training: seqlab debug data", description=(
        "Diagnostics. seqlab debug data reads the training, dev and test files as training would and reports the format, tag scheme, "
        "counts, sentence lengths, OOV rates and every problem found, with file:line examples; it exits 1 when training on them "
        "would fail or be wrong."))
    what = debug.add_subparsers(dest="what", required=True)
    data = what.add_parser("data", help="what is in a corpus and what is wrong with it")
    data.add_argument("--train", help="training file (default: the --config's data.train)")
    data.add_argument("--dev", help="dev file (default: the --config's data.dev)")
    data.add_argument("--test", help="test file (default: the --config's data.test)")
    data.add_argument("--config", help="YAML config whose data section (columns, separator, tag scheme, paths) applies")
    data.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key (repeatable)")
    data.add_argument("--format", choices=["conll", "conllu", "jsonl"], help="file format (default: detected from the training file, else the config's)")
    data.add_argument("--json", action="store_true", help="print the report as JSON")

    init = sub.add_parser("init", help="write a recommended config for a corpus: seqlab init config", description=(
        "seqlab init config reads the training file and writes a commented YAML config sized from it (format and tag scheme "
        "detected, hidden size and epochs from the corpus size, the metric from whether the tags have spans)."))
    init_what = init.add_subparsers(dest="what", required=True)
    config = init_what.add_parser("config", help="a commented config sized from the data")
    config.add_argument("--train", required=True, help="training file (CoNLL, CoNLL-U or JSONL)")
    config.add_argument("--dev", help="dev file (selects the best epoch and stops early)")
    config.add_argument("--test", help="test file (scored at the end)")
    config.add_argument("--task", choices=["ner", "pos"], help="ner: tags mark spans; pos: one label per token (default: from the tags)")
    goal = config.add_mutually_exclusive_group()
    goal.add_argument("--speed", action="store_true", help="a smaller, faster model")
    goal.add_argument("--accuracy", action="store_true", help="more patience before early stopping")
    config.add_argument("--out", help="YAML file to write (default: print it)")
    config.add_argument("--force", action="store_true", help="replace --out if it exists")

    _annotate_parsers(sub)

    plot = sub.add_parser("plot", help="draw a trained model's loss and dev-F1 curves from its metrics.jsonl", description=(
        "Draw the training-loss and dev-F1 curves of a model from its metrics.jsonl (needs matplotlib)."))
    plot.add_argument("--model", required=True, help="model directory")
    plot.add_argument("--out", help="PNG file (default MODEL/curves.png)")
    return parser, dict(sub.choices)


def _annotate_parsers(sub: argparse._SubParsersAction) -> None:
    """``seqlab annotate`` (the page; ``export``, ``stats``) and ``seqlab active simulate``."""
    strategies = ("random", "least-confidence", "mnlp", "token-entropy", "span-confidence")  # seqlab.annotate.strategies.NAMES
    annotate = sub.add_parser("annotate", help="label a corpus in the browser with the model in the loop (docs/annotate.md)", description=(
        "Serve a local page that shows each sentence with the current model's spans marked, asks first about the sentences the model is "
        "least sure of, stores every answer in SQLite and retrains in the background every --retrain-every answers. "
        "seqlab annotate export and seqlab annotate stats read the store. Needs pip install -e '.[serve]'."))
    annotate.add_argument("--source", help="what to annotate: raw text (one text per line, split into sentences), JSONL, CoNLL or CoNLL-U (tags ignored)")
    annotate.add_argument("--db", help="the SQLite store (created on first use; the same source and labels continue it)")
    annotate.add_argument("--labels", help="entity types, comma-separated (e.g. PER,ORG,LOC); default: the --model's")
    annotate.add_argument("--model", help="start from this model: its suggestions first, its weights under the first retraining")
    annotate.add_argument("--config", help="YAML config of the retrained models (default: the built-in defaults)")
    annotate.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a key of that config (repeatable)")
    annotate.add_argument("--dev", help="labelled file in the config's data format: each model's dev F1 is shown")
    annotate.add_argument("--seed-file", help="raw sentences (one per line) to ask about first, in their order, until the first model exists")
    annotate.add_argument("--strategy", choices=strategies, default="mnlp", help="which sentence to ask next (docs/active-learning.md)")
    annotate.add_argument("--retrain-every", type=int, default=20, metavar="N", help="retrain after every N new answers")
    annotate.add_argument("--per-sentence", type=int, default=1, metavar="K", help="annotators asked about each sentence (2 or more gives agreement figures)")
    annotate.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback only; any other needs the token)")
    annotate.add_argument("--port", type=int, default=8080, help="port to listen on")
    annotate.add_argument("--token", help="the token every request must carry (default: one is generated when not on loopback)")
    what = annotate.add_subparsers(dest="what")
    export = what.add_parser("export", help="write the answers as a training file")
    export.add_argument("--db", required=True, help="the SQLite store")
    export.add_argument("--format", choices=("conll", "jsonl"), default="conll", help="conll: token<TAB>tag lines (BIO); jsonl: tokens and tags")
    export.add_argument("--out", required=True, help="file to write")
    stats = what.add_parser("stats", help="answers per annotator and per type, and agreement between annotators")
    stats.add_argument("--db", required=True, help="the SQLite store")

    active = sub.add_parser("active", help="active learning replayed on a labelled corpus: seqlab active simulate", description=(
        "seqlab active simulate labels a labelled pool round by round as seqlab annotate would, the gold tags answering, and writes the "
        "learning curve (test score against the share of tokens and sentences labelled) as JSON and a figure; a killed run resumes."))
    how = active.add_subparsers(dest="what", required=True)
    simulate = how.add_parser("simulate", help="the learning curve of one or more strategies")
    simulate.add_argument("--config", help="YAML config every round trains with (default: the built-in defaults)")
    simulate.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a config key (repeatable)")
    simulate.add_argument("--pool", required=True, help="labelled file whose sentences are the pool (the config's data format)")
    simulate.add_argument("--dev", help="dev file (early stopping in each round)")
    simulate.add_argument("--test", required=True, help="test file: each round's score")
    simulate.add_argument("--strategy", default="mnlp", help=f"one or more of {', '.join(strategies)}, comma-separated")
    simulate.add_argument("--start", default="1%", help="share of the pool's tokens labelled at random first (e.g. 1%% or 0.01)")
    simulate.add_argument("--step", default="2%", help="share of tokens added each round")
    simulate.add_argument("--until", default="50%", help="share of tokens labelled in the last round")
    seeds = simulate.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", type=int, default=3, help="seeds 1..N per strategy")
    seeds.add_argument("--seed", type=int, action="append", metavar="K",
                       help="run seed K only (repeatable): processes given disjoint seeds and one --out share a run; --seeds N then writes the whole curve")
    simulate.add_argument("--round-epochs", type=int, help="epochs of each round (default: the config's train.epochs); --final and --full keep the config's")
    simulate.add_argument("--final", action="store_true", help="after the last round, also train from scratch on what it labelled, with the config's epochs")
    simulate.add_argument("--full", action="store_true", help="also train on the whole pool with the config's epochs (the reference the curves are read against)")
    simulate.add_argument("--out", required=True, help="directory for state, curve.json and curve.png")


def _runtime_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runtime", choices=("torch", "onnxruntime"), default="torch",
                        help="what computes the tag scores: torch (default) or ONNX Runtime on the model exported at load time (needs .[export]); "
                             "the decode is the model's own either way")
    parser.add_argument("--quantize", choices=("int8",), help="int8 dynamic quantization of the recurrent and linear layers (CPU; a few tags can change)")
