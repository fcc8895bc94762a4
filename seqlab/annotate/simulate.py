"""``seqlab active simulate``: active learning replayed on a labelled corpus, its gold tags answering in
place of an annotator, through the same retraining and scoring code as ``seqlab annotate``
(``seqlab.annotate.learner``).

A run starts from ``start`` of the pool's tokens drawn at random, then, round after round, retrains
(warm, from the previous round's weights), scores the sentences not yet labelled with the strategy and
labels the highest-scoring ones until ``step`` more of the tokens are labelled, up to ``until``. Each
round's test score is recorded against the share of tokens and of sentences labelled. A round trains for
``round_epochs`` (a warm start needs few), while ``final`` and ``full`` train with the config's own epochs
and early stopping: ``final`` from scratch on what the last round labelled, the model a user trains once
labelling stops; ``full`` on the whole pool, the reference a curve is read against.

Everything is written under ``out``: ``STRATEGY/seedN/state.json`` after every round (atomically; a
killed run continues from its last finished round; a run with a lower ``until`` reads the rounds it
shares with a longer one), ``STRATEGY/seedN/final.json``, ``curve.json`` and ``curve.png`` at the end.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqlab.annotate.learner import (
    Labelled,
    Retraining,
    label_tags,
    pool_vocabularies,
    score_pool,
)
from seqlab.annotate.strategies import NAMES, random_scores, ranked
from seqlab.config.settings import Config
from seqlab.data.readers import read_corpus
from seqlab.data.schemes import SCHEMES, detect_scheme, split_tag
from seqlab.errors import ConfigError
from seqlab.files import write_json
from seqlab.plots import PlotUnavailable, lines
from seqlab.tagger.inference import Tagger
from seqlab.train.loop import TrainResult


@dataclass(frozen=True)
class Plan:
    """What a simulation runs (shares are fractions of the pool's tokens)."""

    strategies: tuple[str, ...]
    start: float = 0.01
    step: float = 0.02
    until: float = 0.5
    seeds: tuple[int, ...] = (1, 2, 3)
    """The seeds each strategy runs with (processes given disjoint seeds and one ``out`` share the work; a
    run with all of them then reads their rounds back and writes the whole curve)."""
    full: bool = False
    """Also train on the whole pool (per seed): the reference the curves are read against."""
    round_epochs: int | None = None
    """Epochs of each round (``None``: the config's ``train.epochs``)."""
    final: bool = False
    """After the last round, also train from scratch on its labelled sentences with the config's epochs."""

    def problems(self) -> list[str]:
        found = [f"--strategy: unknown '{s}'; expected one of {', '.join(NAMES)}" for s in self.strategies if s not in NAMES]
        if not (0 < self.start <= self.until <= 1) or not 0 < self.step <= 1:
            found.append(f"expected 0 < start ≤ until ≤ 100% and 0 < step ≤ 100%, got start {self.start:.2%}, step {self.step:.2%}, until {self.until:.2%}")
        if not self.seeds or any(seed < 1 for seed in self.seeds) or len(set(self.seeds)) != len(self.seeds):
            found.append(f"--seeds/--seed: expected distinct seeds of at least 1, got {', '.join(map(str, self.seeds)) or 'none'}")
        if self.round_epochs is not None and self.round_epochs < 1:
            found.append(f"--round-epochs: expected at least 1, got {self.round_epochs}")
        return found


def targets(plan: Plan) -> list[float]:
    """The token shares after each round: start, start + step, …, until (the last one exactly)."""
    shares, share = [], plan.start
    while share < plan.until - 1e-9:
        shares.append(share)
        share += plan.step
    return shares + [plan.until]


def take(order: Sequence[int], lengths: Sequence[int], have: int, goal: int) -> list[int]:
    """The first sentences of ``order`` whose tokens bring ``have`` up to at least ``goal``."""
    chosen = []
    for k in order:
        if have >= goal:
            break
        chosen.append(k)
        have += lengths[k]
    return chosen


def outcome(result: TrainResult, metric: str) -> dict[str, Any]:
    """A training's test and dev scores under ``metric`` (``None`` without the file), epochs and seconds."""
    def value(split):
        return None if split is None else split.f1 if metric == "f1" else split.accuracy

    return {"test": value(result.test), "dev": value(result.dev), "epochs": result.epochs_run, "seconds": round(result.seconds, 2)}


def simulate(config: Config, pool_path: str, plan: Plan, out: Path, say: Callable[[str], object] = print) -> dict[str, Any]:
    """Run ``plan`` over ``pool_path`` (labelled) with ``config`` (its ``data.dev``/``data.test`` score the
    rounds) and write the results under ``out``; returns what ``curve.json`` holds."""
    problems = plan.problems()
    if problems:
        raise ConfigError(problems)
    pool = read_corpus(pool_path, config.data)
    scheme = config.data.tag_scheme if config.data.tag_scheme != "auto" else detect_scheme(s.tags or () for s in pool)
    metric = "f1" if scheme in SCHEMES else "accuracy"
    types = sorted({split_tag(t)[1] for s in pool for t in (s.tags or ()) if t != "O"})
    tags = label_tags(types, config.model.decoder.scheme) if scheme in SCHEMES else types
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, tag_scheme=scheme))
    retraining = Retraining(config, pool_vocabularies([s.tokens for s in pool], tags, config.data), scheme)
    gold: list[Labelled] = [(s.tokens, tuple(s.tags or ())) for s in pool]
    lengths = [len(s.tokens) for s in pool]
    total = sum(lengths)
    per_round = retraining if plan.round_epochs is None else dataclasses.replace(
        retraining, config=dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=plan.round_epochs)))
    curves: dict[str, dict[int, list[dict]]] = {}
    finals: dict[str, dict[int, dict]] = {}
    for strategy in plan.strategies:
        for seed in plan.seeds:
            where = out / strategy / f"seed{seed}"
            rounds = _curve(_seeded(per_round, seed), gold, lengths, total, strategy, seed, plan, where, metric, say)
            curves.setdefault(strategy, {})[seed] = [{key: value for key, value in r.items() if key != "labelled"} for r in rounds]
            if plan.final:
                finals.setdefault(strategy, {})[seed] = final = _final(_seeded(retraining, seed), gold, rounds[-1], where, metric, total)
                say(f"{strategy} seed {seed} final: {final['token_share']:.1%} of tokens, test {metric} {final['test']}")
    full = {}
    if plan.full:
        for seed in plan.seeds:
            full[seed] = _full(_seeded(retraining, seed), gold, out / "full" / f"seed{seed}", metric)
            say(f"full pool, seed {seed}: test {metric} {full[seed]:.4f}")
    result = {"pool": pool_path, "sentences": len(pool), "tokens": total, "metric": metric, "plan": dataclasses.asdict(plan), "curves": curves,
              "final": finals, "full": full}
    write_json(out / "curve.json", result)
    _figure(result, out / "curve.png", say)
    return result


def _seeded(retraining: Retraining, seed: int) -> Retraining:
    return dataclasses.replace(retraining, config=dataclasses.replace(retraining.config, seed=seed))


def _curve(
    retraining: Retraining, gold: list[Labelled], lengths: list[int], total: int, strategy: str, seed: int, plan: Plan, where: Path, metric: str,
    say: Callable[[str], object],
) -> list[dict]:
    """The rounds of one strategy and seed (each with its ``labelled`` sentence ids), run or read back."""
    state_path = where / "state.json"
    shares = targets(plan)
    rounds: list[dict] = json.loads(state_path.read_text(encoding="utf-8"))["rounds"] if state_path.is_file() else []
    _check_rounds(rounds, shares, total, state_path)
    rounds = rounds[: len(shares)]  # a longer run's first rounds are this plan's rounds
    labelled: list[int] = list(rounds[-1]["labelled"]) if rounds else []
    previous = where / f"round{len(rounds)}" if rounds else None
    for k in range(len(rounds), len(shares)):
        goal = round(shares[k] * total)
        have = sum(lengths[i] for i in labelled)
        taken = set(labelled)
        rest = [i for i in range(len(gold)) if i not in taken]
        if k == 0 or strategy == "random":
            scores = random_scores(rest, seed)
        else:
            assert previous is not None
            found = score_pool(Tagger.load(previous), [gold[i][0] for i in rest], strategy, seed)
            scores = {i: value for i, (value, _) in zip(rest, found)}
        labelled += take(ranked(scores), lengths, have, goal)
        directory = where / f"round{k + 1}"
        result = retraining.run([gold[i] for i in labelled], directory, previous)
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)  # only the latest model is needed to go on
        tokens = sum(lengths[i] for i in labelled)
        rounds.append({
            "round": k + 1, "target": shares[k], "sentences": len(labelled), "tokens": tokens, "token_share": tokens / total,
            "sentence_share": len(labelled) / len(gold), **outcome(result, metric), "labelled": list(labelled),  # a copy: the list grows on
        })
        write_json(state_path, {"strategy": strategy, "seed": seed, "rounds": rounds})
        previous = directory
        say(f"{strategy} seed {seed} round {k + 1}: {tokens / total:.1%} of tokens, test {metric} {rounds[-1]['test']}")
    return rounds


def _check_rounds(rounds: Sequence[dict], shares: Sequence[float], total: int, path: Path) -> None:
    """Stored rounds must list as many labelled sentences as they count, and be those of a plan with the
    same start and step: round k aimed at ``shares[k]`` (older states, without ``target``, must at least
    reach its goal in round k and not before)."""
    for k, stored in enumerate(rounds):
        if len(stored["labelled"]) != stored["sentences"]:  # states written before each round kept its own list
            raise ConfigError([(f"{path}: round {k + 1} lists {len(stored['labelled'])} labelled sentences for its {stored['sentences']}; "
                                "the state cannot be resumed: give this plan another --out")])
    for k, (stored, share) in enumerate(zip(rounds, shares)):
        aimed, goal = stored.get("target"), round(share * total)
        before = rounds[k - 1]["tokens"] if k else 0
        if (abs(aimed - share) > 1e-9) if aimed is not None else not (before < goal <= stored["tokens"]):
            raise ConfigError([(f"{path}: round {k + 1} was run for another plan (start, step or until differ from this run's); "
                                "give this plan another --out")])


def _final(retraining: Retraining, gold: list[Labelled], last: dict, where: Path, metric: str, total: int) -> dict:
    """Train from scratch on the last round's sentences with the config's own epochs (read back if done)."""
    done = where / "final.json"
    if done.is_file():
        stored = json.loads(done.read_text(encoding="utf-8"))
        if stored["sentences"] == last["sentences"]:
            return stored
    chosen = last["labelled"]
    result = retraining.run([gold[i] for i in chosen], where / "final", None)
    final = {"round": last["round"], "sentences": len(chosen), "tokens": last["tokens"], "token_share": last["tokens"] / total,
             "sentence_share": last["sentence_share"], **outcome(result, metric)}
    write_json(done, final)
    return final


def _full(retraining: Retraining, gold: list[Labelled], where: Path, metric: str) -> float | None:
    done = where / "full.json"
    if done.is_file():
        return json.loads(done.read_text(encoding="utf-8"))["test"]
    test = outcome(retraining.run(gold, where / "model", None), metric)["test"]
    write_json(done, {"test": test})
    return test


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summary(result: dict[str, Any]) -> dict[str, list[tuple[float, float, float]]]:
    """Per strategy: ``(token share, mean test score, std)`` over the seeds, for rounds every seed finished."""
    out = {}
    for strategy, seeds in result["curves"].items():
        count = min(len(r) for r in seeds.values())
        rows = []
        for k in range(count):
            values = [seeds[s][k]["test"] for s in seeds if seeds[s][k]["test"] is not None]
            if values:
                rows.append((statistics.fmean(seeds[s][k]["token_share"] for s in seeds), *mean_std(values)))
        out[strategy] = rows
    return out


def final_summary(result: dict[str, Any]) -> dict[str, tuple[float, float, float]]:
    """Per strategy with final models: ``(token share, mean test score, std)`` over the seeds."""
    out = {}
    for strategy, seeds in result["final"].items():
        values = [f["test"] for f in seeds.values() if f["test"] is not None]
        if values:
            out[strategy] = (statistics.fmean(f["token_share"] for f in seeds.values()), *mean_std(values))
    return out


def _figure(result: dict[str, Any], path: Path, say: Callable[[str], object]) -> None:
    series = {name: ([100 * x for x, _, _ in rows], [m for _, m, _ in rows], [s for _, _, s in rows]) for name, rows in summary(result).items() if rows}
    if not series:
        return
    finals = {f"{name}, final model": ([100 * x], [m], [s]) for name, (x, m, s) in final_summary(result).items()}
    full = list(result["full"].values())
    hline = ("full pool", statistics.fmean(full)) if full and all(v is not None for v in full) else None
    try:
        lines(path, f"Active learning on {Path(result['pool']).name}", {**series, **finals}, "% of the pool's tokens labelled",
              f"test {result['metric']}", hline=hline, styles=dict.fromkeys(finals, "s"))
    except PlotUnavailable as err:
        say(f"no figure: {err}")

