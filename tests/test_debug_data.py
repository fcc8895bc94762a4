"""``seqlab debug data``: every planted problem is found at its line, the counts match a direct count,
and the exit status says whether training on the files would fail or be wrong."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqlab.cli.debug_data import LONG_SENTENCE, RARE_TYPE, debug_data, percentiles
from seqlab.cli.main import main
from tests.conftest import tiny_sentences, write_conll


def _finding(report, kind: str):
    return next(f for f in report.findings if f.kind == kind)


def clean(tmp_path: Path) -> dict[str, Path]:
    """Train/dev/test with nothing wrong (every type frequent, dev/test sentences not in train)."""
    train = tiny_sentences(60, 1)
    seen = {tuple(w) for w, _ in train}
    held = [s for s in tiny_sentences(200, 2) if tuple(s[0]) not in seen]
    return {
        "train": write_conll(tmp_path / "train.conll", train),
        "dev": write_conll(tmp_path / "dev.conll", held[:10]),
        "test": write_conll(tmp_path / "test.conll", held[10:20]),
    }


def test_a_clean_corpus_has_no_findings_and_its_counts_are_right(tmp_path: Path) -> None:
    files = clean(tmp_path)
    report = debug_data(str(files["train"]), str(files["dev"]), str(files["test"]))
    assert report.format == "conll" and report.scheme == "bio"
    assert not [f for f in report.findings if f.count], [f.to_json() for f in report.findings if f.count]
    train = tiny_sentences(60, 1)
    split = report.splits[0]
    assert (split.sentences, split.tokens) == (60, sum(len(w) for w, _ in train))
    assert split.tags == {t: sum(ts.count(t) for _, ts in train) for t in {t for _, ts in train for t in ts}}
    assert split.entities["FRUIT"] == sum(ts.count("B-FRUIT") for _, ts in train)
    assert split.entities["ORG"] == sum(ts.count("B-ORG") for _, ts in train)
    words = {w for ws, _ in train for w in ws}
    dev = [w for ws, _ in tiny_sentences(200, 2) if tuple(ws) not in {tuple(x) for x, _ in train} for w in ws]
    assert report.oov["dev"]["tokens"] == pytest.approx(sum(w not in words for w in dev[: report.splits[1].tokens]) / report.splits[1].tokens)
    assert main(["debug", "data", "--train", str(files["train"]), "--dev", str(files["dev"])]) == 0


@given(st.lists(st.integers(1, 500), min_size=1, max_size=200))
def test_percentiles_are_nearest_rank(lengths: list[int]) -> None:
    got = percentiles(lengths)
    ordered = sorted(lengths)
    for key, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        # nearest rank: the smallest value with at least q·n values at or below it
        assert got[key] == min(v for v in ordered if sum(x <= v for x in ordered) >= math.ceil(q * len(ordered)))
    assert got["max"] == max(lengths)


def _plant(tmp_path: Path, lines: list[str], name: str = "train.conll") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_unreadable_lines_are_all_listed_with_their_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = [f"{w}\t{t}" for w, t in zip(*tiny_sentences(1, 1)[0])]
    lines = base + ["", "bad\tcolumns\tthree", "fine\tO", "\tO", "lonely", "", *base]
    path = _plant(tmp_path, lines)
    report = debug_data(str(path))
    found = _finding(report, "unreadable")
    assert found.count == 3 and found.severity == "error"
    numbers = [int(e.split(":")[1]) for e in found.examples]
    assert numbers == [len(base) + 2, len(base) + 4, len(base) + 5]
    assert main(["debug", "data", "--train", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:{len(base) + 2}: expected 2 columns" in out and "error(s)" in out


def test_bare_tags_are_errors_at_their_token_line(tmp_path: Path) -> None:
    files = clean(tmp_path)
    lines = files["train"].read_text().splitlines()
    lines[3] = lines[3].split("\t")[0] + "\tFRUIT"  # the 4th line: a bare tag
    path = _plant(tmp_path, lines, "bare.conll")
    report = debug_data(str(path), str(files["dev"]), data=scheme_data("bio"))
    found = _finding(report, "bare-tag")
    assert found.count == 1 and found.examples == [f"{path}:4: 'FRUIT'"]
    assert report.errors


def scheme_data(scheme: str):
    from seqlab.config.settings import load_config

    return load_config(None, [f"data.tag_scheme={scheme}"]).data


def test_dev_tags_of_a_type_training_never_saw_are_errors(tmp_path: Path) -> None:
    files = clean(tmp_path)
    path = write_conll(tmp_path / "dev2.conll", [(["Paris", "is", "big"], ["B-LOC", "O", "O"]), (["apple", "pie"], ["B-FRUIT", "O"])])
    report = debug_data(str(files["train"]), str(path))
    found = _finding(report, "unseen-tag")
    assert found.count == 1 and found.examples == [f"{path}:1: 'B-LOC'"]
    # a known type under another prefix is not unseen: training rewrites prefixes
    again = write_conll(tmp_path / "dev3.conll", [(["Apple", "pie"], ["I-ORG", "O"])])
    assert _finding(debug_data(str(files["train"]), str(again)), "unseen-tag").count == 0


def test_invalid_sequences_duplicates_long_sentences_and_swapped_columns_are_found(tmp_path: Path) -> None:
    train = tiny_sentences(60, 1)
    invalid = (["the", "Apple", "shares"], ["O", "I-ORG", "O"])  # I- after O is not valid BIO
    long = (["word"] * (LONG_SENTENCE + 1), ["O"] * (LONG_SENTENCE + 1))
    swapped = (["O", "B-ORG"], ["the", "Apple"])
    train_path = write_conll(tmp_path / "t.conll", [*train, invalid, long])
    dev_path = write_conll(tmp_path / "d.conll", [train[5], swapped])
    report = debug_data(str(train_path), str(dev_path), data=scheme_data("bio"))  # declared: auto would read I- after O as IOB1
    assert _finding(report, "invalid-sequence").count == 1
    assert _finding(report, "long-sentence").count == 1 and f"{LONG_SENTENCE + 1} tokens" in _finding(report, "long-sentence").examples[0]
    duplicate = _finding(report, "duplicate")
    assert duplicate.count == 1 and duplicate.examples[0].startswith(f"{dev_path}:1:")
    assert _finding(report, "token-like-tag").count == 1  # B-ORG as a token: the hint (a token "O" may be a real word)
    assert [f.kind for f in report.errors] == ["bare-tag"] and _finding(report, "bare-tag").count == 2


def test_rare_types_are_warned_about(tmp_path: Path) -> None:
    sentences = tiny_sentences(60, 1) + [(["Paris"], ["B-LOC"])] * (RARE_TYPE - 1)
    report = debug_data(str(write_conll(tmp_path / "t.conll", sentences)))
    rare = _finding(report, "rare-type")
    assert rare.count == 1 and rare.examples[0].startswith(f"LOC: {RARE_TYPE - 1}")


def test_json_output_and_config_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = clean(tmp_path)
    config = tmp_path / "c.yaml"
    config.write_text(f"data:\n  train: {files['train']}\n  dev: {files['dev']}\n", encoding="utf-8")
    assert main(["debug", "data", "--config", str(config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in report["splits"]] == ["train", "dev"] and report["findings"] == []
    assert main(["debug", "data"]) == 1
    assert "--train: required" in capsys.readouterr().err
    assert main(["debug", "data", "--train", str(tmp_path / "missing.conll")]) == 1


def test_a_jsonl_file_is_read_up_to_its_first_bad_line(tmp_path: Path) -> None:
    path = _plant(tmp_path, ['{"tokens": ["I", "eat", "apple"], "tags": ["O", "O", "B-FRUIT"]}', '{"tokens": ["x"], "tags": []}'], "t.jsonl")
    report = debug_data(str(path))
    assert report.format == "jsonl" and report.splits[0].sentences == 1
    assert _finding(report, "unreadable").examples == [f"{path}:2: 1 tokens but 0 tags"]


def test_a_file_with_no_sentence_is_an_error_not_a_clean_bill(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from seqlab.cli.main import main

    docstart = tmp_path / "docstart.conll"
    docstart.write_text("-DOCSTART- -X- O O\n\n\n", encoding="utf-8")
    empty = tmp_path / "empty.conll"
    empty.write_text("", encoding="utf-8")
    report = debug_data(str(docstart), str(empty))
    assert [(f.kind, f.count, f.examples) for f in report.errors] == [("no-sentences", 2, [str(docstart), str(empty)])]
    assert main(["debug", "data", "--train", str(docstart)]) == 1
    assert "error: no-sentences: 1 files with no sentence at all" in capsys.readouterr().out


def test_tags_without_prefixes_are_said_to_be_read_as_plain_labels(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from seqlab.config.settings import load_config
    from seqlab.train.prepare import prepare_run

    path = _plant(tmp_path, ["I\tO", "eat\tO", "apple\tFRUIT", ""])
    assert _finding(debug_data(str(path)), "no-prefixes").examples == [str(path)]
    with caplog.at_level(logging.WARNING, logger="seqlab"):
        prepare_run(load_config(None, [f"data.train={path}"]))
    assert any("no B-/I- prefixes: read as one label per token" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="seqlab"):
        prepare_run(load_config(None, [f"data.train={path}", "data.tag_scheme=none"]))  # said explicitly: silent
    assert not any("prefixes" in r.getMessage() for r in caplog.records)
    assert not _finding(debug_data(str(_plant(tmp_path, ["I\tO", "apple\tB-FRUIT", ""], "bio.conll"))), "no-prefixes").count
