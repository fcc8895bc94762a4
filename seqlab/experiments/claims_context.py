"""The apple claims: context decides (a per-token classifier only learns the majority sense) and an RNN
needs to read backwards to use a cue that comes after the word."""
from __future__ import annotations

from pathlib import Path

from seqlab import plots
from seqlab.experiments.measures import apple_accuracy
from seqlab.experiments.outcome import Outcome, draw, mean_std, pct, seed_range
from seqlab.experiments.runner import Runner
from seqlab.experiments.settings import ExperimentConfig


def _apple_scores(runner: Runner, exp: ExperimentConfig) -> dict[str, list[dict[str, float]]]:
    out: dict[str, list[dict[str, float]]] = {}
    for variant in exp.variants:
        for seed in seed_range(exp):
            run = runner.run(exp, variant, seed)
            data_dir = Path(run.config.data.test or "").parent
            out.setdefault(variant.name, []).append(apple_accuracy(run.tagger, data_dir))
    return out


def context(runner: Runner, exp: ExperimentConfig, out: Path) -> Outcome:
    """A per-token classifier can only learn the majority sense of *apple*; a recurrent encoder reads context."""
    scores = _apple_scores(runner, exp)
    cells = {v.name: runner.run(exp, v, 1).config.model.encoder.cell for v in exp.variants}
    majority = next(iter(scores.values()))[0]["majority"]
    outcome = Outcome({"majority_share": majority, "variants": {
        name: {"cell": cells[name], "apple_accuracy": [r["all"] for r in rows], "span_f1": [r["f1"] for r in rows]}
        for name, rows in scores.items()
    }})
    series = {"apple-token accuracy": [mean_std([r["all"] for r in rows]) for rows in scores.values()]}
    draw(lambda: plots.bars(out / "context.png", "Sense of 'apple' on unseen test frames", list(scores), series, "accuracy", baseline=("majority sense", majority)), outcome)
    plain = [mean_std([r["all"] for r in rows])[0] for name, rows in scores.items() if cells[name] == "none"]
    recurrent = {name: mean_std([r["all"] for r in rows])[0] for name, rows in scores.items() if cells[name] != "none"}
    measured = "; ".join(f"{name} {pct([r['all'] for r in rows])}" for name, rows in scores.items()) + f"; majority sense {100 * majority:.1f}%"
    held = None
    if plain and recurrent:
        held = plain[0] <= majority + 0.05 and min(recurrent.values()) >= plain[0] + 0.2
    outcome.verdict("per-token classifier ≈ majority sense (within 5 points); every recurrent cell ≥ 20 points above it", measured, held)
    return outcome


def future(runner: Runner, exp: ExperimentConfig, out: Path) -> Outcome:
    """A forward-only RNN cannot use a cue that comes after the word; reading backwards too fixes it."""
    scores = _apple_scores(runner, exp)
    directions = {v.name: runner.run(exp, v, 1).config.model.encoder.bidirectional for v in exp.variants}
    outcome = Outcome({"variants": {
        name: {"bidirectional": directions[name], "cue_before": [r["before"] for r in rows], "cue_after": [r["after"] for r in rows]}
        for name, rows in scores.items()
    }})
    series = {name: [mean_std([r[k] for r in rows]) for k in ("before", "after")] for name, rows in scores.items()}
    draw(lambda: plots.bars(out / "future.png", "Apple accuracy by where the deciding cue stands", ["cue before the word", "cue only after"], series, "accuracy"), outcome)
    uni = [n for n, bi in directions.items() if not bi]
    bi = [n for n, b in directions.items() if b]
    measured = "; ".join(f"{n}: before {pct([r['before'] for r in scores[n]])}, after {pct([r['after'] for r in scores[n]])}" for n in scores)
    held = None
    if uni and bi:
        after = lambda n: mean_std([r["after"] for r in scores[n]])[0]  # noqa: E731
        before = lambda n: mean_std([r["before"] for r in scores[n]])[0]  # noqa: E731
        held = all(before(u) - after(u) >= 0.15 for u in uni) and min(after(b) for b in bi) - max(after(u) for u in uni) >= 0.15
    outcome.verdict("forward-only: cue-after accuracy ≥ 15 points below cue-before; bidirectional ≥ 15 points above it on cue-after", measured, held)
    return outcome
