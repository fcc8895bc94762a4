"""The "apple" data set: sentences where *apple* is a fruit or a company, and only the context says which.

In "I like eating apple!" *apple* is a fruit; in "The Apple is a great company!" it is a company. The
generator writes sentences where the word *apple* appears in both senses equally often, with its
capitalisation (apple / Apple) drawn independently of its sense, so that only the context can decide.
Other fruits (banana, pear, …) and companies (Microsoft, General Motors, …) fill the same frames and
give unambiguous examples of both kinds of context.

Sentences come from frames (``seqlab.apple.words``): token sequences with slots filled from word lists
(hundreds of context words, drawn with Zipf weights so that common cues are frequent and rare ones still
occur). Each frame has a sense (food or company) and a cue position: ``before`` (a deciding word comes
before the entity) or ``after`` (everything before the entity is neutral: "Yesterday , apple shares
fell"). Frames are split between train, dev and test, so the test sentences use frames never seen in
training; the two sentences of the notes belong to test frames and never occur in training.

Tags are BIO: B-FRUIT, B-ORG, I-ORG (multi-word companies). Each ``.meta.jsonl`` line describes the
sentence at the same position: ``{"sense", "cue", "frame", "apple"}`` (``apple``: the index of the
apple token, or null when another entity fills the slot). The output is a deterministic function of the
arguments: ``data/apple/`` in the repository is ``write_apple_data`` with the defaults, byte for byte.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from seqlab.apple.words import COMPANIES, FRAMES, FRUITS, NEUTRAL, NP_PATTERNS, WORDS

SIZES = {"train": 4000, "dev": 600, "test": 1200}
"""Sentences per split."""
SEED = 13


def split_frames() -> dict[str, list[tuple[str, str, str]]]:
    splits: dict[str, list[tuple[str, str, str]]] = {"train": [], "dev": [], "test": []}
    for sense in ("food", "org"):
        splits["train"] += [(sense, "np", text) for text in NEUTRAL]
    for (sense, cue), frames in FRAMES.items():
        for k, text in enumerate(frames):
            from_end = len(frames) - k
            split = "test" if from_end <= 3 else "dev" if from_end <= 5 else "train"
            splits[split].append((sense, cue, text))
    return splits


def pick(options: list[str], rng: random.Random) -> str:
    """A Zipf-weighted choice: the k-th option (0-based) has weight 1 / (k + 1). Each list starts with its
    most common words, so *eating* or *shares* are frequent cues while the long tail still occurs."""
    return rng.choices(options, weights=[1.0 / (k + 1) for k in range(len(options))])[0]


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def render(frame: str, sense: str, entity: str | None, rng: random.Random) -> tuple[list[str], list[str], int | None]:
    """Fill a frame: returns tokens, BIO tags, and the index of the apple token (None if not apple)."""
    tokens: list[str] = []
    tags: list[str] = []
    apple_at = None
    pending_article = False
    parts = frame.split()
    if "{NP}" in parts:
        expanded = []
        slots = parts.count("{NP}")
        entity_slot = rng.randrange(slots)  # which noun phrase holds {E}; the others hold another entity
        seen = 0
        for part in parts:
            if part == "{NP}":
                pattern = rng.choice(NP_PATTERNS[(sense, rng.choice(("before", "after")))])
                if seen != entity_slot:
                    pattern = pattern.replace("{E}", "{F}" if sense == "food" else "{C}")
                seen += 1
                expanded += pattern.split()
            else:
                expanded.append(part)
        parts = expanded
    if parts[-1] == "{END}" and rng.random() < 0.35:
        parts = parts[:-1] + ["{POST}", "{END}"]
    for part in parts:
        if part == "{a}":
            pending_article = True
            continue
        if part in ("{E}", "{F}", "{C}"):
            if part == "{E}":
                is_apple = entity is None
                words = ["apple" if rng.random() < 0.5 else "Apple"] if is_apple else entity.split()
                label = "FRUIT" if sense == "food" else "ORG"
            else:
                is_apple = False
                label = "FRUIT" if part == "{F}" else "ORG"
                words = rng.choice(FRUITS if part == "{F}" else COMPANIES).split()
            if pending_article:
                tokens.append(_article(words[0]))
                tags.append("O")
                pending_article = False
            if is_apple:
                apple_at = len(tokens)
            tokens += words
            tags += [f"B-{label}"] + [f"I-{label}"] * (len(words) - 1)
            continue
        if part.startswith("{") and part.endswith("}"):
            words = pick(WORDS[part[1:-1]], rng).split()
        else:
            words = [part]
        if not words:
            continue
        if pending_article:
            tokens.append(_article(words[0]))
            tags.append("O")
            pending_article = False
        tokens += words
        tags += ["O"] * len(words)
    if tokens and tokens[0][:1].islower() and tokens[0] not in ("apple",):
        tokens[0] = tokens[0][0].upper() + tokens[0][1:]
    return tokens, tags, apple_at


NOTES = {("i", "like", "eating", "apple"), ("the", "apple", "is", "a", "great", "company")}
"""The notes' two sentences (lowercased, without the final punctuation): they never occur in train or dev."""


def render_with_cue(frame: str, sense: str, cue: str, entity: str | None, rng: random.Random) -> tuple[list[str], list[str], int | None, str]:
    """``render`` plus the cue position; for neutral frames it is that of the first noun phrase's pattern."""
    tokens, tags, apple_at = render(frame, sense, entity, rng)
    if cue == "np":
        # the words before the entity are neutral unless the pattern put its cue there
        at = apple_at if apple_at is not None else next(k for k, t in enumerate(tags) if t.startswith("B-"))
        before = {w.lower() for w in tokens[:at]}
        cue_words = {w for key in ("FOOD_ADJ", "BIZ_NOUN", "BIZ_ADJ", "BIZ_PEOPLE") for x in WORDS[key] for w in x.lower().split()}
        other_entity_before = any(t != "O" for t in tags[:at])
        cue = "before" if before & cue_words or other_entity_before else "after"
    return tokens, tags, apple_at, cue


def generate(frames: list[tuple[str, str, str]], count: int, rng: random.Random, allow_notes: bool) -> list[dict]:
    """``count`` sentences: half with apple in the entity slot (half of those per sense), half with others."""
    by_sense = {s: [f for f in frames if f[0] == s] for s in ("food", "org")}
    records = []
    for k in range(count):
        sense = ("food", "org")[k % 2]
        use_apple = (k // 2) % 2 == 0
        _, cue, frame = rng.choice(by_sense[sense])
        entity = None if use_apple else rng.choice(FRUITS if sense == "food" else COMPANIES)
        if frame.startswith("I like eating") or frame.startswith("The {E} is a great"):
            entity = None  # the notes' frames always hold apple
        tokens, tags, apple_at, cue = render_with_cue(frame, sense, cue, entity, rng)
        while not allow_notes and tuple(t.lower() for t in tokens[:-1]) in NOTES:
            tokens, tags, apple_at, cue = render_with_cue(frame, sense, cue, entity, rng)
        records.append({"tokens": tokens, "tags": tags, "sense": sense, "cue": cue, "frame": frame, "apple": apple_at})
    rng.shuffle(records)
    return records


def write_apple_data(out: str | Path, seed: int = SEED, sizes: dict[str, int] | None = None) -> list[str]:
    """Write ``{split}.conll`` and ``{split}.meta.jsonl`` for train, dev and test into ``out``; returns one
    summary line per split."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    splits = split_frames()
    summary = []
    for name, count in (sizes or SIZES).items():
        records = generate(splits[name], count, rng, allow_notes=name == "test")
        with open(out / f"{name}.conll", "w", encoding="utf-8") as conll, open(out / f"{name}.meta.jsonl", "w", encoding="utf-8") as meta:
            for r in records:
                conll.write("".join(f"{t}\t{g}\n" for t, g in zip(r["tokens"], r["tags"])) + "\n")
                meta.write(json.dumps({"sense": r["sense"], "cue": r["cue"], "frame": r["frame"], "apple": r["apple"]}) + "\n")
        apples = sum(r["apple"] is not None for r in records)
        summary.append(f"{name}: {len(records)} sentences, {apples} with apple, {len(splits[name])} frames -> {out / name}.conll")
    return summary
