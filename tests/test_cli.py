"""The command line end to end (train → evaluate → predict) and its one-line errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqlab.cli.main import main
from tests.conftest import tiny_overrides

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def trained(tiny_data, tmp_path) -> Path:
    out = tmp_path / "model"
    args = ["train", "--config", str(ROOT / "configs" / "apple_lstm.yaml")]
    for override in tiny_overrides(tiny_data, out):
        args += ["--set", override]
    assert main(["-q", *args, "--set", "model.embedding.word_dropout=0"]) == 0
    return out


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_train_evaluate_predict(trained, tiny_data, capsys):
    code, out, _ = run(capsys, "evaluate", "--model", str(trained), "--data", str(tiny_data["test"]), "--json")
    assert code == 0
    report = json.loads(out)
    for key in ("precision", "recall", "f1", "accuracy", "ambiguous_accuracy", "oov_accuracy"):
        assert 0.0 <= report[key] <= 1.0
    assert set(report["per_type"]) == {"FRUIT", "ORG"}
    assert report["per_type"]["ORG"]["support"] > 0

    code, out, _ = run(capsys, "evaluate", "--model", str(trained), "--data", str(tiny_data["test"]))
    assert code == 0 and "F1" in out and "FRUIT" in out

    code, out, _ = run(capsys, "predict", "--model", str(trained), "--text", "I eat the apple!")
    assert code == 0
    rows = [line.split("\t") for line in out.strip().split("\n")]
    assert [r[0] for r in rows] == ["I", "eat", "the", "apple", "!"]
    assert all(len(r) == 2 for r in rows)

    code, out, _ = run(capsys, "predict", "--model", str(trained), "--text", "the Apple shares rose", "--format", "jsonl")
    record = json.loads(out)
    assert record["tokens"] == ["the", "Apple", "shares", "rose"] and len(record["tags"]) == 4


def test_predict_file_keeps_order_and_empty_lines(trained, tmp_path, capsys):
    lines = ["I eat the apple .", "", "the Apple shares rose today .", "ok"]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "predict", "--model", str(trained), "--input", str(source), "--format", "jsonl")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["tokens"] for r in records] == [line.split() for line in lines]
    assert all(len(r["tokens"]) == len(r["tags"]) for r in records)


def test_predict_conll_input_and_text_output(trained, tiny_data, capsys):
    code, out, _ = run(capsys, "predict", "--model", str(trained), "--input", str(tiny_data["test"]), "--input-format", "conll", "--format", "text")
    assert code == 0 and len(out.splitlines()) == 20


def test_predict_from_stdin_subprocess(trained):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "seqlab", "-q", "predict", "--model", str(trained), "--input", "-"],
        input="I eat the apple .\n", capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert [line.split("\t")[0] for line in proc.stdout.strip().splitlines()] == ["I", "eat", "the", "apple", "."]


def test_dry_run_prints_config_and_parameter_count(tiny_data, tmp_path, capsys):
    args = ["train", "--config", str(ROOT / "configs" / "apple_gru.yaml"), "--dry-run"]
    for override in tiny_overrides(tiny_data, tmp_path / "m"):
        args += ["--set", override]
    code, out, _ = run(capsys, *args)
    assert code == 0 and "cell: gru" in out and "# parameters:" in out
    assert not (tmp_path / "m").exists()
    # The count is the trained model's (tags converted to the model's scheme first, as training does).
    code, _, _ = run(capsys, *[a for a in args if a != "--dry-run"], "--set", "train.epochs=1")
    trained = json.loads((tmp_path / "m" / "metrics.json").read_text())["parameters"]
    assert f"# parameters: {trained}" in out


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0]


def test_error_wrong_column_count(tiny_data, tmp_path, capsys):
    bad = tmp_path / "bad.conll"
    bad.write_text("a\tO\nb\tX\tY\n", encoding="utf-8")
    code, _, err = run(capsys, "-q", "train", "--config", str(ROOT / "configs" / "apple_lstm.yaml"), "--set", f"data.train={bad}", "--output", str(tmp_path / "m"))
    assert_one_line_error(code, err, f"{bad}:2", "columns")


def test_error_empty_data_file(tmp_path, capsys):
    empty = tmp_path / "empty.conll"
    empty.write_text("", encoding="utf-8")
    code, _, err = run(capsys, "-q", "train", "--config", str(ROOT / "configs" / "apple_lstm.yaml"), "--set", f"data.train={empty}", "--output", str(tmp_path / "m"))
    assert_one_line_error(code, err, str(empty), "no sentences")


def test_error_non_utf8_file(trained, tmp_path, capsys):
    bad = tmp_path / "latin.conll"
    bad.write_bytes("caf\xe9\tO\n".encode("latin-1"))
    code, _, err = run(capsys, "evaluate", "--model", str(trained), "--data", str(bad))
    assert_one_line_error(code, err, f"{bad}:1", "UTF-8")


def test_error_unknown_config_key_with_suggestion(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("model:\n  encoder:\n    cel: gru\n", encoding="utf-8")
    code, _, err = run(capsys, "train", "--config", str(config))
    assert_one_line_error(code, err, str(config), "model.encoder.cel", "did you mean 'model.encoder.cell'")


def test_error_missing_model_directory(tmp_path, capsys):
    code, _, err = run(capsys, "predict", "--model", str(tmp_path / "nope"), "--text", "hello")
    assert_one_line_error(code, err, str(tmp_path / "nope"), "not found")


def test_error_empty_text(trained, capsys):
    code, _, err = run(capsys, "predict", "--model", str(trained), "--text", "")
    assert_one_line_error(code, err, "--text is empty")


def test_unknown_gold_tags_are_reported_not_a_crash(trained, tmp_path, capsys, caplog):
    data = tmp_path / "new.conll"
    data.write_text("Paris\tB-LOC\nis\tO\n", encoding="utf-8")
    code, out, err = run(capsys, "evaluate", "--model", str(trained), "--data", str(data), "--json")
    assert code == 0 and "B-LOC" in caplog.text
    assert json.loads(out)["recall"] == 0.0


def test_python_api_predict(trained):
    from seqlab import Tagger

    tagged = Tagger.load(trained).predict(["I eat the apple!", "the Apple shares rose"])
    assert tagged[0].tokens == ("I", "eat", "the", "apple", "!")
    assert len(tagged[1].tags) == 4
    with pytest.raises(Exception, match="list of texts"):
        Tagger.load(trained).predict("one string")  # type: ignore[arg-type]


def test_predict_batch_size_and_device_flags(tiny_config, capsys):
    from seqlab.cli.main import main
    from seqlab.train.run import train

    train(tiny_config, progress=False)
    model = str(tiny_config.output_dir)
    outputs = []
    for size in ("1", "64"):
        assert main(["predict", "--model", model, "--text", "I eat the apple .", "--batch-size", size, "--device", "cpu"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and outputs[0].count("\n") == 6
    assert main(["predict", "--model", model, "--text", "x", "--device", "gpu"]) == 1
    assert "--device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got 'gpu'" in capsys.readouterr().err
    assert main(["predict", "--model", model, "--text", "x", "--batch-size", "0"]) == 1
    assert "--batch-size: expected a number >= 1 or auto, got 0" in capsys.readouterr().err
    assert main(["predict", "--model", model, "--text", "x", "--batch-size", "big"]) == 1
    assert "--batch-size: expected a number >= 1 or auto, got big" in capsys.readouterr().err


def test_auto_batch_size_is_measured_and_changes_no_tag(tiny_config, monkeypatch, caplog):
    import logging

    import seqlab.tagger.predict as predict
    from seqlab.data.readers import Sentence
    from seqlab.tagger.inference import Tagger
    from seqlab.train.run import train
    from tests.conftest import tiny_sentences

    tagger = Tagger.load(train(tiny_config, progress=False).output_dir)
    sentences = [tuple(tokens) for tokens, _ in tiny_sentences(300, 7)]
    decode = lambda block, size: tagger.predict_tokens([s.tokens for s in block], size)  # noqa: E731
    results, best, rates = predict.tune_batch_size(decode, [Sentence(tokens, None) for tokens in sentences], candidates=(4, 32, 64))
    assert results == tagger.predict_tokens(sentences, 16)  # every sentence once, in order
    assert set(rates) == {4, 32, 64} and rates[best] == max(rates.values()) and all(0 < r < float("inf") for r in rates.values())
    monkeypatch.setattr(predict, "TUNE_MIN", 200)  # tune on this small input
    seen: list[int | None] = []
    real = tagger.tag
    monkeypatch.setattr(tagger, "tag", lambda block, batch_size=None, **options: seen.append(batch_size) or real(block, batch_size=batch_size, **options))
    with caplog.at_level(logging.INFO, logger="seqlab"):
        auto = [a.tags for a in predict.tag_stream(tagger, sentences, chunk=250, batch_size="auto")]
    auto_sizes = list(seen)
    fixed = [a.tags for a in predict.tag_stream(tagger, sentences, chunk=250, batch_size=32)]
    assert auto == fixed
    chosen = int(next(r.message for r in caplog.records if "decode batch size" in r.message).split()[3])
    assert chosen in predict.CANDIDATES and auto_sizes[-1] == chosen  # the chunk after the tuned one: the measured size


def test_help_version_and_argument_errors_need_no_torch():
    """The command line answers --help, --version and a bad argument before anything imports torch."""
    probe = (
        "import sys\n"
        "from seqlab.cli.main import main\n"
        "for argv in (['--help'], ['--version'], ['train'], ['predict', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.stdout.strip().splitlines()[-1] == "False", done.stdout + done.stderr
    version = subprocess.run([sys.executable, "-m", "seqlab", "--version"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert version.returncode == 0 and version.stdout.strip().startswith("seqlab ")


def test_dry_run_shows_the_output_it_would_write_to(tiny_data, tmp_path, capsys):
    args = ["train", "--config", str(ROOT / "configs" / "apple_gru.yaml"), "--dry-run", "--output", str(tmp_path / "elsewhere")]
    for override in tiny_overrides(tiny_data, tmp_path / "m"):
        args += ["--set", override]
    code, out, _ = run(capsys, *args)
    assert code == 0 and f"output_dir: {tmp_path / 'elsewhere'}" in out


def test_a_copied_config_pointing_at_a_model_is_refused_before_any_data_is_read(trained, tmp_path, capsys):
    copied = tmp_path / "copy.yaml"
    copied.write_text(f"output_dir: {trained}\ndata:\n  train: {tmp_path / 'not-there.conll'}\n", encoding="utf-8")
    code, _, err = run(capsys, "train", "--config", str(copied))
    assert_one_line_error(code, err, "already holds a model; pass --overwrite")  # not "file not found": nothing was read


def test_resuming_a_finished_run_says_so_and_trains_and_tests_nothing(trained, capsys, caplog):
    import logging

    summary = trained / "metrics.json"
    before = summary.read_bytes(), summary.stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="seqlab"):
        code, out, _ = run(capsys, "train", "--resume", str(trained))
    assert code == 0 and "training already finished" in caplog.text and out.startswith(f"saved {trained}")
    assert (summary.read_bytes(), summary.stat().st_mtime_ns) == before


def test_a_bare_tag_in_the_training_file_is_one_line_naming_it(tiny_data, tmp_path, capsys):
    bad = tmp_path / "bare.conll"
    bad.write_text("Apple\tB-ORG\nrose\tO\n\nan\tO\napple\tFRUIT\n", encoding="utf-8")  # BIO, detected, and one bare tag
    code, _, err = run(capsys, "train", "--config", str(ROOT / "configs" / "apple_gru.yaml"), "--set", f"data.train={bad}",
                       "--set", "data.dev=null", "--set", "data.test=null", "--output", str(tmp_path / "m"))
    assert_one_line_error(code, err, f"{bad}:4: tag 'FRUIT'", "data.tag_scheme: none")


def test_plain_labels_train_as_scheme_none_and_come_back_unchanged(tmp_path, capsys):
    from seqlab.tagger.bundle import load_bundle
    from seqlab.tagger.inference import Tagger

    pos = tmp_path / "pos.conll"
    pos.write_text("I\tPRON\neat\tVERB\napples\tNOUN\n.\tPUNCT\n\nThey\tPRON\nrun\tVERB\n\n" * 20, encoding="utf-8")
    config = tmp_path / "pos.yaml"
    config.write_text(f"data: {{train: {pos}}}\nmodel: {{embedding: {{dim: 8}}, encoder: {{hidden: 8}}}}\ntrain: {{epochs: 2}}\n", encoding="utf-8")
    code, _, err = run(capsys, "-q", "train", "--config", str(config), "--output", str(tmp_path / "pos"))
    assert code == 0, err
    assert load_bundle(tmp_path / "pos").config.data.tag_scheme == "none"
    tagger = Tagger.load(tmp_path / "pos")
    assert set(tagger.tags) == {"PRON", "VERB", "NOUN", "PUNCT"}
    assert all(t in tagger.tags for t in tagger.predict_tokens([["I", "run", "."]])[0])


def test_reports_say_n_a_for_an_empty_subset_and_counts_read_well(trained, tmp_path, capsys, caplog):
    import logging

    gold = tmp_path / "known.conll"
    gold.write_text("the\tO\n.\tO\n\n", encoding="utf-8")  # every word known, none ambiguous
    code, out, _ = run(capsys, "evaluate", "--model", str(trained), "--data", str(gold))
    assert code == 0 and "OOV accuracy n/a (0 tokens)" in out
    with caplog.at_level(logging.INFO, logger="seqlab"):
        run(capsys, "predict", "--model", str(trained), "--text", "I eat the apple")
    assert "tagged 1 sentence in" in caplog.text and "(0 sentences/s)" not in caplog.text


def test_predict_reads_a_conll_file_as_conll_and_says_so(trained, tiny_data, capsys, caplog):
    import logging

    args = ["predict", "--model", str(trained), "--input", str(tiny_data["test"]), "--format", "jsonl"]
    with caplog.at_level(logging.WARNING, logger="seqlab"):
        code, detected, _ = run(capsys, *args)
    assert code == 0 and "as conll (its name ends in .conll)" in caplog.text
    code, explicit, _ = run(capsys, *args, "--input-format", "conll")
    assert detected == explicit and json.loads(detected.splitlines()[0])["tokens"] == tiny_data["test"].read_text().split("\n\n")[0].split()[::2]
    code, as_text, _ = run(capsys, *args, "--input-format", "text")  # asked for: every line is a raw sentence
    assert json.loads(as_text.splitlines()[0])["tokens"] == tiny_data["test"].read_text().splitlines()[0].split()


@pytest.mark.parametrize("case", ["nbest", "export-dir", "plot-not-utf8"])
def test_crafted_arguments_and_files_are_one_line_errors(trained, tmp_path, capsys, case):
    if case == "nbest":
        code, _, err = run(capsys, "predict", "--model", str(trained), "--text", "apple", "--nbest", "100000000")
        assert_one_line_error(code, err, "--nbest: expected a number from 0 to 100")
    elif case == "export-dir":
        code, _, err = run(capsys, "export", "--model", str(trained), "--out", str(tmp_path))
        assert_one_line_error(code, err, "is a directory; --out names the file to write")
    else:
        (trained / "metrics.jsonl").write_bytes(b'{"epoch": 1, "loss": \xff}\n')
        code, _, err = run(capsys, "plot", "--model", str(trained))
        assert_one_line_error(code, err, "metrics.jsonl: cannot be read")


def test_predict_and_evaluate_take_a_thread_count(trained, tiny_data, capsys):
    import torch

    before = torch.get_num_threads()
    try:
        code, out, _ = run(capsys, "predict", "--model", str(trained), "--text", "I eat the apple", "--threads", "1")
        assert code == 0 and torch.get_num_threads() == 1 and out
        code, _, err = run(capsys, "evaluate", "--model", str(trained), "--data", str(tiny_data["test"]), "--threads", "0")
        assert_one_line_error(code, err, "--threads: expected a number from 1 to 1024, got 0")
    finally:
        torch.set_num_threads(before)


def test_evaluate_takes_a_device(trained, tiny_data, capsys):
    import torch

    code, on_cpu, _ = run(capsys, "evaluate", "--model", str(trained), "--data", str(tiny_data["test"]), "--json", "--device", "cpu")
    assert code == 0
    code, default, _ = run(capsys, "evaluate", "--model", str(trained), "--data", str(tiny_data["test"]), "--json")
    assert code == 0 and json.loads(default) == json.loads(on_cpu)
    code, _, err = run(capsys, "evaluate", "--model", str(trained), "--data", str(tiny_data["test"]), "--device", "gpu")
    assert_one_line_error(code, err, "--device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got 'gpu'")
    if not torch.cuda.is_available():
        code, _, err = run(capsys, "evaluate", "--model", str(trained), "--data", str(tiny_data["test"]), "--device", "cuda")
        assert_one_line_error(code, err, "--device: 'cuda' requested but CUDA is not available")
