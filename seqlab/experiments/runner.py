"""Training runs for the experiments, each trained once per invocation and shared between experiments.

A run is (base config, overrides, data, seed). ``seqlab experiment all`` asks for the same run from
several experiments (the long-range LSTM feeds long-range, vanishing, gates and lstm-vs-gru); the
runner trains it the first time and hands back the stored result afterwards.
"""
from __future__ import annotations

import functools
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from seqlab.apple import write_apple_data
from seqlab.config.settings import Config, load_config
from seqlab.data.readers import Sentence
from seqlab.errors import ConfigError, ModelError
from seqlab.experiments.settings import ExperimentConfig, Variant
from seqlab.experiments.tasks import long_range_sentences, write_long_range
from seqlab.tagger.bundle import WEIGHTS, read_history
from seqlab.tagger.inference import Tagger
from seqlab.train.run import TrainingError, TrainResult, quiet_training, train


@dataclass(frozen=True)
class Run:
    label: str
    directory: Path
    config: Config
    result: TrainResult | None
    """None when training failed (``error`` says why)."""
    history: tuple[dict, ...]
    """``metrics.jsonl``: one record per completed epoch."""
    error: str | None
    seconds: float

    @property
    def kept(self) -> bool:
        """Whether the run left a model to score: it finished, or it stopped with an error after saving
        its best weights (as a user would be left with)."""
        return self.result is not None or (self.directory / WEIGHTS).exists()

    @functools.cached_property
    def tagger(self) -> Tagger:
        """The trained model, loaded once (several experiments measure the same run)."""
        return Tagger.load(self.directory)


class Runner:
    """Trains runs under ``out/runs/`` and remembers them for the rest of the invocation."""

    def __init__(self, out: Path, quick: bool = False, echo: bool = True) -> None:
        self.out = out
        self.quick = quick
        """Whether experiments that read another experiment's YAML should take its ``quick`` section."""
        self.echo = echo
        self._runs: dict[str, Run] = {}

    @functools.cached_property
    def apple_data(self) -> Path:
        """The apple set (``seqlab.apple``), written once into ``out/data/apple``."""
        directory = self.out / "data" / "apple"
        write_apple_data(directory)
        return directory

    def long_range_data(self, experiment: ExperimentConfig, distance: int) -> dict[str, Path]:
        sizes = dict(experiment.sizes)
        tag = f"T{distance}-" + "-".join(str(sizes[k]) for k in ("train", "dev", "test"))
        return write_long_range(self.out / "data" / f"long_range_{tag}", distance, sizes)

    def long_range_test(self, experiment: ExperimentConfig, distance: int) -> list[Sentence]:
        return long_range_sentences(dict(experiment.sizes)["test"], distance, 2)

    def corpus_data(self, corpus: Path, sentences: int) -> dict[str, Path]:
        """``corpus/{train,dev,test}.*`` (CoNLL) with the training file cut to its first ``sentences``
        sentences, written once into ``out/data/``; dev and test are used as they are."""
        found = {split: sorted(corpus.glob(f"{split}.*")) for split in ("train", "dev", "test")}
        missing = [split for split, files in found.items() if len(files) != 1]
        if missing:
            raise ConfigError([f"--corpus {corpus}: expected one file named {split}.* (CoNLL), found {len(found[split])}" for split in missing])
        target = self.out / "data" / f"corpus-{hashlib.sha1(str(corpus.resolve()).encode()).hexdigest()[:8]}-{sentences}"
        target.mkdir(parents=True, exist_ok=True)
        train = target / "train.conll"
        if not train.exists():
            blocks = [b for b in found["train"][0].read_text(encoding="utf-8").split("\n\n") if b.strip() and not b.lstrip().startswith("-DOCSTART-")]
            train.write_text("\n\n".join(b.strip("\n") for b in blocks[:sentences]) + "\n", encoding="utf-8")
        return {"train": train, "dev": found["dev"][0], "test": found["test"][0]}

    def run(self, experiment: ExperimentConfig, variant: Variant, seed: int, distance: int | None = None, data: dict[str, Path] | None = None) -> Run:
        """Train ``variant`` of ``experiment`` with ``seed``: on ``data`` (split → file) when given, on the
        long-range task at ``distance`` when given, else on the apple set (``{apple}`` in the experiment's
        overrides is its directory)."""
        if data is not None:
            overrides = [*experiment.set, *variant.overrides, f"seed={seed}", *(f"data.{split}={path}" for split, path in data.items())]
        elif distance is not None:
            paths = self.long_range_data(experiment, distance)
            overrides = [*experiment.set, *variant.overrides, f"seed={seed}", *(f"data.{split}={path}" for split, path in paths.items())]
        else:
            apple = self.apple_data
            chosen = [f"data.{split}={apple / f'{split}.conll'}" for split in ("train", "dev", "test")]
            overrides = [*chosen, *(o.replace("{apple}", str(apple)) for o in experiment.set), *variant.overrides, f"seed={seed}"]
        key = json.dumps([str(experiment.base), overrides])
        if key in self._runs:
            return self._runs[key]
        try:
            config = load_config(experiment.base, overrides)
        except ConfigError as err:
            raise ConfigError([f"experiment '{experiment.name}', variant '{variant.name}': {p}" for p in err.problems], err.source) from None
        label = f"{variant.name}" + (f" T={distance}" if distance is not None else "") + f" seed {seed}"
        digest = hashlib.sha1(key.encode()).hexdigest()[:8]
        directory = self.out / "runs" / f"{variant.name}{'-T' + str(distance) if distance is not None else ''}-s{seed}-{digest}"
        start = time.perf_counter()
        result, error = None, None
        try:
            with quiet_training():
                result = train(config, directory, overwrite=True, progress=False)
        except TrainingError as err:
            error = str(err)
        seconds = time.perf_counter() - start
        try:
            history = tuple(read_history(directory))
        except ModelError:  # a run that stopped before its first epoch ended
            history = ()
        run = Run(label, directory, config, result, history, error, seconds)
        self._runs[key] = run
        if self.echo:
            status = f"failed: {error}" if error else f"dev F1 {result.dev.f1:.3f}" if result and result.dev else "done"
            print(f"  trained {experiment.name}: {label} ({seconds:.1f}s, {status})", file=sys.stderr)
        return run
