"""The shipped apple data set: regenerated identically, balanced, and held out the way the README says."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from seqlab.config.settings import DataConfig
from seqlab.data.readers import read_corpus

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "apple"


def load(split: str):
    sentences = read_corpus(DATA / f"{split}.conll", DataConfig())
    meta = [json.loads(line) for line in (DATA / f"{split}.meta.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(sentences) == len(meta)
    return sentences, meta


def test_committed_files_are_the_generator_output(tmp_path):
    subprocess.run([sys.executable, "-m", "seqlab.apple", "--out", str(tmp_path)], check=True, capture_output=True)
    for name in ("train.conll", "dev.conll", "test.conll", "train.meta.jsonl", "test.meta.jsonl"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


def test_apple_senses_are_balanced_and_case_is_independent_of_sense():
    for split in ("train", "dev", "test"):
        sentences, meta = load(split)
        counts = Counter()
        for sentence, info in zip(sentences, meta):
            at = info["apple"]
            if at is None:
                continue
            word, tag = sentence.tokens[at], sentence.tags[at]
            assert word in ("apple", "Apple")
            counts[(word, tag)] += 1
        fruit = counts[("apple", "B-FRUIT")] + counts[("Apple", "B-FRUIT")]
        org = counts[("apple", "B-ORG")] + counts[("Apple", "B-ORG")]
        assert abs(fruit - org) <= 0.1 * (fruit + org), (split, counts)
        for tag in ("B-FRUIT", "B-ORG"):
            lower, upper = counts[("apple", tag)], counts[("Apple", tag)]
            assert abs(lower - upper) <= 0.15 * (lower + upper), (split, tag, counts)


def test_both_cue_positions_and_multiword_companies_occur():
    sentences, meta = load("train")
    assert {m["cue"] for m in meta} == {"before", "after"}
    assert any("I-ORG" in s.tags for s in sentences)
    vocabulary = {t.lower() for s in sentences for t in s.tokens}
    assert len(vocabulary) > 500


def test_test_frames_never_occur_in_training_and_nor_do_the_notes_sentences():
    _, train_meta = load("train")
    dev_sentences, dev_meta = load("dev")
    test_sentences, test_meta = load("test")
    train_frames = {m["frame"] for m in train_meta}
    assert not train_frames & {m["frame"] for m in test_meta}
    assert not train_frames & {m["frame"] for m in dev_meta}
    notes = {("i", "like", "eating", "apple"), ("the", "apple", "is", "a", "great", "company")}
    train_sentences, _ = load("train")
    for sentence in train_sentences + dev_sentences:
        assert tuple(t.lower() for t in sentence.tokens[:-1]) not in notes
    assert any(tuple(t.lower() for t in s.tokens[:-1]) in notes for s in test_sentences)


def test_the_same_verbs_and_relation_nouns_go_with_both_senses_so_the_other_words_decide():
    """The test frames "Investors love {E}" and "{C} is a rival of {E}" rely on the subject and on the
    other entity; training teaches these cues: each shared verb right before the entity occurs with both
    senses, after eaters for fruit and business people for companies, and each shared relation noun
    ("X is a partner of E") with both senses, after a fruit for fruit and a company for companies."""
    from seqlab.apple.words import COMPANIES, FRUITS, WORDS

    sentences, _ = load("train")
    verbs: dict[str, set[str]] = {verb: set() for verb in WORDS["AFFECT"]}
    nouns: dict[str, set[str]] = {noun: set() for noun in WORDS["TIE"]}
    subjects = {"FRUIT": {w.lower() for w in WORDS["EATERS"]}, "ORG": {w.lower() for w in WORDS["BIZ_PEOPLE"]}}
    others = {"FRUIT": {w.lower() for w in FRUITS}, "ORG": {w.lower() for w in COMPANIES}}
    for s in sentences:
        words = [t.lower() for t in s.tokens]
        for k, tag in enumerate(s.tags):
            if not tag.startswith("B-") or k < 2:
                continue
            before, sense = " ".join(words[: k - 1]), tag[2:]
            if words[k - 1] in verbs and any(before.endswith(subject) for subject in subjects[sense]):
                verbs[words[k - 1]].add(sense)
            relation = words[k - 1] == "of" and words[k - 2] in nouns or words[k - 1] == "the" and k >= 3 and words[k - 3] in nouns
            if relation:
                noun = words[k - 2] if words[k - 1] == "of" else words[k - 3]
                head = " ".join(words[: words.index("is")]) if "is" in words[:k] else ""
                if any(head.endswith(other) for other in others[sense]):
                    nouns[noun].add(sense)
    assert all(found == {"FRUIT", "ORG"} for found in verbs.values()), verbs
    assert all(found == {"FRUIT", "ORG"} for found in nouns.values()), nouns
