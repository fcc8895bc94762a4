from __future__ import annotations

import pickle

import pytest
import torch

from seqlab.config.settings import replace_in
from seqlab.errors import ModelError
from seqlab.files import write_atomic
from seqlab.tagger.bundle import CONFIG, VOCAB, WEIGHTS, load_bundle, load_weights
from seqlab.tagger.inference import Tagger
from seqlab.train.run import train


@pytest.fixture
def model_dir(tiny_config):
    return train(tiny_config, progress=False).output_dir


def test_saved_model_reloads_with_identical_weights_and_predictions(model_dir, tiny_config):
    tagger = Tagger.load(model_dir)
    again = Tagger.load(model_dir)
    for (name, a), (_, b) in zip(tagger.model.state_dict().items(), again.model.state_dict().items()):
        assert torch.equal(a, b), name
    saved = load_bundle(model_dir).config
    assert saved.data.tag_scheme == "bio" and saved.train.metric == "f1"  # "auto" is resolved from the training tags and saved
    assert replace_in(replace_in(saved, "data.tag_scheme", "auto"), "train.metric", "auto") == tiny_config
    text = ["I eat the apple .", "the Apple shares rose today ."]
    assert [t.tags for t in tagger.predict(text)] == [t.tags for t in again.predict(text)]


def test_missing_directory():
    with pytest.raises(ModelError, match="model directory not found"):
        Tagger.load("/nonexistent/model")


def test_a_file_given_as_the_model_says_so(model_dir):
    with pytest.raises(ModelError, match=r"weights.safetensors: is a file; expected a model directory"):
        Tagger.load(model_dir / WEIGHTS)


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_get_the_permissions_the_umask_gives(tmp_path, umask, mode):
    """A model can be shared with a group as any other file can: not the temporary file's private 0600."""
    import os

    previous = os.umask(umask)
    try:
        write_atomic(tmp_path / "f.json", b"{}")
    finally:
        os.umask(previous)
    assert (tmp_path / "f.json").stat().st_mode & 0o777 == mode


@pytest.mark.parametrize("name", [CONFIG, VOCAB, WEIGHTS])
def test_missing_file_is_named(model_dir, name):
    (model_dir / name).unlink()
    with pytest.raises(ModelError, match=name):
        Tagger.load(model_dir)


def test_truncated_weights(model_dir):
    data = (model_dir / WEIGHTS).read_bytes()
    (model_dir / WEIGHTS).write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="weights.safetensors: not a valid safetensors file"):
        Tagger.load(model_dir)


def test_wrong_shape_weights(model_dir):
    text = (model_dir / CONFIG).read_text().replace("hidden: 16", "hidden: 17")
    (model_dir / CONFIG).write_text(text)
    with pytest.raises(ModelError, match="weights.safetensors: .* shape"):
        Tagger.load(model_dir)


def test_corrupt_vocab_json(model_dir):
    (model_dir / VOCAB).write_text("{not json")
    with pytest.raises(ModelError, match="vocab.json: invalid JSON"):
        Tagger.load(model_dir)


def test_a_pickle_in_place_of_the_weights_is_refused_and_runs_nothing(model_dir, tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (model_dir / WEIGHTS).write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(ModelError, match="weights.safetensors"):
        Tagger.load(model_dir)
    assert not marker.exists()


def test_write_atomic_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"
    write_atomic(target, b"old")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", broken_fsync)
    with pytest.raises(ModelError, match=r"f\.bin: cannot write \(No space left on device\); the previous version is kept"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_load_weights_rejects_wrong_names(model_dir):
    tagger = Tagger.load(model_dir)
    from safetensors.torch import save_file

    save_file({"bogus": torch.zeros(1)}, str(model_dir / WEIGHTS))
    with pytest.raises(ModelError, match="do not match"):
        load_weights(model_dir, tagger.model)


def test_a_vocabulary_with_absurdly_many_tags_is_refused_before_building(model_dir):
    import json

    from seqlab.tagger.bundle import MAX_TAGS

    vocab = json.loads((model_dir / VOCAB).read_text())
    vocab["tags"]["items"] = [f"B-T{k}" for k in range(MAX_TAGS + 1)]
    (model_dir / VOCAB).write_text(json.dumps(vocab))
    with pytest.raises(ModelError, match=r"vocab.json: 10,001 tags, more than a seqlab model holds"):
        Tagger.load(model_dir)


def test_weights_that_disagree_with_the_vocabularies_are_refused_before_building(model_dir, monkeypatch):
    import json

    import seqlab.tagger.bundle as bundle

    vocab = json.loads((model_dir / VOCAB).read_text())
    vocab["words"]["items"] += [f"extra{k}" for k in range(1000)]  # a crafted vocabulary: a bigger model than the file
    (model_dir / VOCAB).write_text(json.dumps(vocab))
    built = []
    monkeypatch.setattr("seqlab.tagger.inference.build_model", lambda *a: built.append(a))
    with pytest.raises(ModelError, match=r"vocab.json: not the file these weights were saved with"):
        Tagger.load(model_dir)
    from safetensors.torch import load_file, save_file

    save_file(load_file(str(model_dir / "weights.safetensors")), str(model_dir / "weights.safetensors"))  # no recorded sha256: the sizes decide
    with pytest.raises(ModelError, match=r"'embedding.words.weight' is \(\d+, 16\), the vocabularies imply \d+ rows"):
        Tagger.load(model_dir)
    assert not built
    monkeypatch.setattr(bundle, "MAX_PARAMETERS", 100)
    with pytest.raises(ModelError, match=r"weights.safetensors: declares [\d,]+ numbers, more than a seqlab model holds \(100\)"):
        bundle.check_sizes(model_dir, load_bundle(model_dir))


def test_deeply_nested_json_is_a_model_error(model_dir):
    (model_dir / VOCAB).write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelError, match="vocab.json: invalid JSON"):
        Tagger.load(model_dir)


def test_a_config_that_would_build_a_huge_model_is_refused(model_dir):
    text = (model_dir / CONFIG).read_text().replace("layers: 1", "layers: 100000")
    (model_dir / CONFIG).write_text(text)
    with pytest.raises(ModelError, match=r"'model.encoder.layers': 100000 is out of range \[1, 16\]"):
        Tagger.load(model_dir)


@pytest.mark.parametrize("name", ["config.yaml", "vocab.json", "lexicon.json"])
def test_a_model_file_that_is_a_fifo_or_a_device_is_refused_without_blocking(model_dir, tmp_path, name):
    import os
    import shutil

    from seqlab.tagger.bundle import load_bundle

    model = tmp_path / "m"
    shutil.copytree(model_dir, model)
    (model / name).unlink()
    os.mkfifo(model / name)
    with pytest.raises(ModelError, match=f"{name}: not a regular file"):
        load_bundle(model)
    (model / name).unlink()
    (model / name).symlink_to("/dev/zero")
    with pytest.raises(ModelError, match=f"{name}: not a regular file"):
        load_bundle(model)


def test_weights_with_nan_or_infinity_are_refused_on_load_as_on_save(model_dir, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    model = tmp_path / "m"
    shutil.copytree(model_dir, model)
    tensors = load_file(str(model / "weights.safetensors"))
    for bad in (float("nan"), float("inf")):
        poisoned = {name: t.clone() for name, t in tensors.items()}
        poisoned["projection.weight"][0, 0] = bad
        save_file(poisoned, str(model / "weights.safetensors"))
        with pytest.raises(ModelError, match=r"weights.safetensors: 'projection.weight' holds NaN or infinite values"):
            Tagger.load(model)


def test_a_tag_outside_the_models_scheme_in_vocab_json_is_refused(model_dir, tmp_path):
    import json
    import shutil

    model = tmp_path / "m"
    shutil.copytree(model_dir, model)
    vocab = json.loads((model / "vocab.json").read_text(encoding="utf-8"))
    vocab["tags"]["items"][-1] = "Q-FRUIT"
    (model / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    with pytest.raises(ModelError, match=r"vocab.json: tag 'Q-FRUIT' is neither O nor one of B, I, E, S-TYPE"):
        Tagger.load(model)


def test_vocabularies_of_another_model_of_the_same_shapes_are_refused(tiny_config, tmp_path):
    import shutil

    from seqlab.config.settings import replace_in

    first = train(replace_in(tiny_config, "output_dir", str(tmp_path / "a")), progress=False).output_dir
    second = train(replace_in(replace_in(tiny_config, "output_dir", str(tmp_path / "b")), "seed", 7), progress=False).output_dir
    for name in ("vocab.json", "lexicon.json"):
        mixed = tmp_path / f"mixed-{name}"
        shutil.copytree(first, mixed)
        tampered = (second / name).read_text(encoding="utf-8").replace('"B-FRUIT"', '"B-XXX"').replace('"B-ORG"', '"B-FRUIT"').replace('"B-XXX"', '"B-ORG"')
        (mixed / name).write_text(tampered if name == "vocab.json" else tampered + " ", encoding="utf-8")
        with pytest.raises(ModelError, match=f"{name}: not the file these weights were saved with"):
            Tagger.load(mixed)


def test_a_saved_config_that_lost_a_key_is_refused_not_read_as_the_default(model_dir):
    import re

    path = model_dir / "config.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"\n *lowercase: \w+", "", text, count=1), encoding="utf-8")
    with pytest.raises(ModelError, match=r"config.yaml: 'data.lowercase' is missing \(1 key\(s\) in all\); a saved config holds every key"):
        Tagger.load(model_dir)
