"""Prediction across processes: stripes joined back in input order, nothing lost or repeated, and
torchrun's output equal to one process's."""
from __future__ import annotations

import json
import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from seqlab.cli.main import main
from seqlab.distributed import Context
from seqlab.tagger.shard import merge_parts, part_path, stripe, write_part
from seqlab.train.run import train
from tests.conftest import tiny_sentences, write_conll
from tests.test_distributed import run

texts = st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20).map(lambda t: t + "\n"), max_size=40)


@given(records=texts, world=st.integers(1, 5))
def test_stripes_join_back_in_input_order(tmp_path_factory, records: list[str], world: int) -> None:
    directory = tmp_path_factory.mktemp("parts")
    output = directory / "out.txt"
    counts = [write_part(stripe(iter(records), Context(rank, world)), part_path(output, rank)) for rank in range(world)]
    assert sum(counts) == len(records)  # every record in exactly one stripe
    assert merge_parts(output, world) == len(records)
    assert output.read_bytes().decode("utf-8") == "".join(records)  # bytes: no newline translation
    assert not list(directory.glob("*.part-*"))


def test_torchrun_predict_writes_what_one_process_writes(tiny_config, tmp_path: Path) -> None:
    train(tiny_config, progress=False)
    model = tiny_config.output_dir
    data = write_conll(tmp_path / "input.conll", tiny_sentences(7, 9))  # 7 sentences: 2 and 3 processes do not divide them
    common = ["-q", "predict", "--model", model, "--input", str(data), "--input-format", "conll", "--batch-size", "4"]
    for fmt, procs in (("conll", 2), ("jsonl", 3)):
        assert run([*common, "--format", fmt, "--output", str(tmp_path / f"one.{fmt}")], tmp_path).returncode == 0
        done = run([*common, "--format", fmt, "--output", str(tmp_path / f"{procs}.{fmt}")], tmp_path, torchrun=procs)
        assert done.returncode == 0, done.stderr[-2000:]
        assert (tmp_path / f"{procs}.{fmt}").read_text() == (tmp_path / f"one.{fmt}").read_text()
    assert len((tmp_path / "one.jsonl").read_text().splitlines()) == 7
    assert [json.loads(line)["tokens"] for line in (tmp_path / "3.jsonl").read_text().splitlines()] == [w for w, _ in tiny_sentences(7, 9)]
    assert not list(tmp_path.glob("*.part-*"))


def test_under_torchrun_predict_needs_files(tiny_config, monkeypatch, capsys) -> None:
    train(tiny_config, progress=False)
    monkeypatch.setitem(os.environ, "WORLD_SIZE", "2")
    assert main(["predict", "--model", tiny_config.output_dir, "--text", "I eat the apple ."]) == 1
    assert "under torchrun, predict reads --input FILE and writes --output FILE" in capsys.readouterr().err
