"""A saved model is a directory; nothing in it is ever unpickled.

    config.yaml          the resolved config (every key)
    vocab.json           word, character and tag vocabularies
    lexicon.json         training-data facts the metrics need (words seen with more than one tag)
    weights.safetensors  the parameters
    metrics.jsonl        one JSON line per training epoch (written by training)
    metrics.json         the final summary (written by training)

Every file is written atomically (temporary file in the same directory, fsync, rename), so a crash
leaves the previous version or the new one, never a torn file.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_safetensors

from seqlab.config.model import MAX_PARAMETERS, MAX_TAGS
from seqlab.config.settings import Config, config_from_dict, dump_config, fill_later_keys, missing_keys
from seqlab.config.typecheck import load_yaml
from seqlab.data.batches import Vocabularies
from seqlab.data.schemes import PREFIXES, SCHEMES
from seqlab.data.vocab import Vocab
from seqlab.errors import ConfigError, ModelError
from seqlab.files import read_limited, write_atomic, write_json

CONFIG = "config.yaml"
VOCAB = "vocab.json"
LEXICON = "lexicon.json"
WEIGHTS = "weights.safetensors"
METRICS = "metrics.json"
HISTORY = "metrics.jsonl"


@dataclass(frozen=True)
class Bundle:
    config: Config
    vocabs: Vocabularies
    ambiguous: frozenset[str]
    """Word forms seen with more than one tag in training."""


def save_bundle(directory: Path, bundle: Bundle) -> None:
    """Write config, vocabularies and lexicon (the weights are written by ``save_weights``)."""
    write_atomic(directory / CONFIG, dump_config(bundle.config).encode("utf-8"))
    vocab = {"words": bundle.vocabs.words.to_json(), "chars": bundle.vocabs.chars.to_json(), "tags": bundle.vocabs.tags.to_json()}
    write_json(directory / VOCAB, vocab)
    write_json(directory / LEXICON, {"ambiguous": sorted(bundle.ambiguous)})


def state_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Every tensor of ``model.state_dict()`` on the CPU, ready for safetensors: one that shares its
    storage with a tensor already taken (as tied transformer weights do) is a copy of its own."""
    tensors: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous()
        key = t.untyped_storage().data_ptr()
        tensors[name] = t.clone() if key in seen and t.numel() else t
        seen.add(key)
    return tensors


BOUND = (VOCAB, LEXICON)
"""The files whose sha256 the weights file records: vocabularies from another model of the same shapes
would silently swap the labels."""


FINGERPRINTS = "seqlab.sha256"
"""The weights file's metadata key: one JSON object, file name → sha256 (one key, so the header's bytes
do not depend on the order safetensors writes several in)."""


def _fingerprints(directory: Path) -> dict[str, str]:
    """The sha256 of each of ``BOUND`` that the directory holds."""
    found = {}
    for name in BOUND:
        try:
            found[name] = hashlib.sha256(read_limited(directory / name, READ_LIMITS[name])).hexdigest()
        except FileNotFoundError:
            continue
    return found


def save_tensors(directory: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Write ``tensors`` as ``weights.safetensors``, its header recording the sha256 of the directory's
    vocabularies as they are now (write those first)."""
    metadata = {FINGERPRINTS: json.dumps(_fingerprints(directory), sort_keys=True)}
    write_atomic(directory / WEIGHTS, save_safetensors(tensors, metadata=metadata))


def save_weights(directory: Path, model: torch.nn.Module) -> None:
    save_tensors(directory, state_tensors(model))


READ_LIMITS = {CONFIG: 1 << 20, VOCAB: 256 << 20, LEXICON: 256 << 20, METRICS: 64 << 20, HISTORY: 256 << 20}
"""The most bytes each text file of a model directory may hold: anything larger, or not a regular file
(a FIFO, ``/dev/zero``), is refused before it is read."""


def _read_text(path: Path) -> str:
    try:
        return read_limited(path, READ_LIMITS.get(path.name, 64 << 20)).decode("utf-8")
    except FileNotFoundError:
        raise ModelError(f"{path}: missing (is this a seqlab model directory?)") from None
    except UnicodeDecodeError as err:
        raise ModelError(f"{path}: cannot be read ({err.__class__.__name__})") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as err:
        raise ModelError(f"{path}: invalid JSON ({err.msg} at line {err.lineno})") from None
    except (ValueError, RecursionError) as err:  # too deeply nested, or an integer of thousands of digits
        raise ModelError(f"{path}: invalid JSON ({str(err)[:80] or type(err).__name__})") from None


def read_history(directory: str | Path) -> list[dict[str, Any]]:
    """``metrics.jsonl``: one record per epoch, each with a whole ``epoch`` and a numeric ``loss``."""
    path = Path(directory) / HISTORY
    if not path.is_file():
        raise ModelError(f"{path}: not found; is {directory} a model directory written by seqlab train?")
    try:
        history = [json.loads(line) for line in _read_text(path).splitlines() if line.strip()]
    except (ValueError, RecursionError):
        raise ModelError(f"{path}: not JSON lines") from None
    numbers = (int, float)
    if not history or not all(
        isinstance(h, dict) and isinstance(h.get("epoch"), int) and isinstance(h.get("loss"), numbers) and not isinstance(h.get("loss"), bool)
        for h in history
    ):
        raise ModelError(f"{path}: expected one {{epoch, loss, ...}} object per line")
    return history


def read_summary(directory: str | Path) -> dict[str, Any]:
    """``metrics.json`` of a finished run (best epoch, epochs run, parameters, seconds, dev and test reports)."""
    path = Path(directory) / METRICS
    summary = _read_json(path)
    if not isinstance(summary, dict) or not {"best_epoch", "epochs_run", "parameters", "seconds"} <= set(summary):
        raise ModelError(f"{path}: not the summary seqlab train writes")
    return summary


def load_bundle(directory: str | Path) -> Bundle:
    directory = Path(directory)
    if directory.is_file():
        raise ModelError(f"{directory}: is a file; expected a model directory written by seqlab train")
    if not directory.is_dir():
        raise ModelError(f"{directory}: model directory not found")
    try:
        raw = load_yaml(_read_text(directory / CONFIG))
        absent = missing_keys(raw)
        if absent:
            raise ModelError(f"{directory / CONFIG}: '{absent[0]}' is missing ({len(absent)} key(s) in all); a saved config holds every key, so a lost one is not read as its default")
        config = config_from_dict(fill_later_keys(raw), str(directory / CONFIG))
    except yaml.YAMLError:
        raise ModelError(f"{directory / CONFIG}: invalid YAML") from None
    except ConfigError as err:
        raise ModelError(str(err)) from None
    vocab = _read_json(directory / VOCAB)
    if not isinstance(vocab, dict):
        raise ModelError(f"{directory / VOCAB}: expected an object with words, chars and tags")
    try:
        vocabs = Vocabularies(*(Vocab.from_json(vocab.get(name), name) for name in ("words", "chars", "tags")))
    except ModelError as err:
        raise ModelError(f"{directory / VOCAB}: {err}") from None
    if len(vocabs.tags) > MAX_TAGS:
        raise ModelError(f"{directory / VOCAB}: {len(vocabs.tags):,} tags, more than a seqlab model holds ({MAX_TAGS:,})")
    _check_tag_names(vocabs.tags.items, config, directory / VOCAB)
    lexicon = _read_json(directory / LEXICON)
    ambiguous = lexicon.get("ambiguous") if isinstance(lexicon, dict) else None
    if not isinstance(ambiguous, list) or not all(isinstance(w, str) for w in ambiguous):
        raise ModelError(f"{directory / LEXICON}: expected {{'ambiguous': [str, ...]}}")
    return Bundle(config, vocabs, frozenset(ambiguous))




def _check_tag_names(tags: list[str], config: Config, path: Path) -> None:
    """Under a span scheme every tag is ``O`` or ``PREFIX-TYPE`` with a prefix of the decoder's scheme (a
    ``Q-FRUIT`` would never be decoded into a span)."""
    if config.data.tag_scheme not in SCHEMES:
        return
    prefixes = PREFIXES[config.model.decoder.scheme]
    odd = [t for t in tags if t != "O" and (len(t) < 3 or t[1] != "-" or t[0] not in prefixes)]
    if odd:
        raise ModelError(f"{path}: tag '{odd[0][:40]}' is neither O nor one of {', '.join(prefixes)}-TYPE of the model's {config.model.decoder.scheme.upper()} tags")


@contextlib.contextmanager
def _open_weights(path: Path) -> Iterator[Any]:
    """``weights.safetensors`` opened lazily (shapes from its header, tensors read on demand); a missing or
    foreign file is a ``ModelError``."""
    if not path.is_file():
        raise ModelError(f"{path}: missing (the model was never saved, or the file was removed)")
    try:
        with safe_open(str(path), framework="pt") as handle:
            yield handle
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise ModelError(f"{path}: not a valid safetensors file ({str(err).splitlines()[0][:120]})") from None


def check_bound(directory: str | Path) -> None:
    """The vocabularies are the ones the weights were saved with (when the weights file records them;
    files written before it did are not checked)."""
    directory = Path(directory)
    with _open_weights(directory / WEIGHTS) as handle:
        raw = (handle.metadata() or {}).get(FINGERPRINTS)
    try:
        recorded = json.loads(raw) if raw is not None else {}
    except ValueError:
        recorded = None
    if not isinstance(recorded, dict):
        raise ModelError(f"{directory / WEIGHTS}: its header's {FINGERPRINTS} is not a JSON object")
    for name, digest in _fingerprints(directory).items():
        if name in recorded and recorded[name] != digest:
            raise ModelError(f"{directory / name}: not the file these weights were saved with (its sha256 differs from the one {WEIGHTS} records)")


def check_sizes(directory: str | Path, bundle: Bundle) -> dict[str, tuple[int, ...]]:
    """Before a model is built: the weights' header declares at most ``MAX_PARAMETERS`` numbers, and the
    word embedding and output layer it declares have the vocabularies' sizes (a crafted vocabulary or
    header cannot make the build allocate more than the file says). Returns the declared shapes by name,
    for the parts built from files of their own (a transformer's config) to be checked against."""
    path = Path(directory) / WEIGHTS
    with _open_weights(path) as handle:
        shapes = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
    total = sum(math.prod(shape) for shape in shapes.values())
    if total > MAX_PARAMETERS:
        raise ModelError(f"{path}: declares {total:,} numbers, more than a seqlab model holds ({MAX_PARAMETERS:,})")
    checked = [("projection.weight", bundle.vocabs.tags)]
    if bundle.config.model.embedding.dim > 0:
        checked.append(("embedding.words.weight", bundle.vocabs.words))
    for name, vocab in checked:
        if shapes.get(name, (None,))[0] != len(vocab):
            raise ModelError(f"{path}: '{name}' is {shapes.get(name)}, the vocabularies imply {len(vocab)} rows")
    return shapes


def load_weights(directory: str | Path, model: torch.nn.Module) -> None:
    """Load ``weights.safetensors`` into ``model``; any mismatch is a ``ModelError`` naming the file."""
    path = Path(directory) / WEIGHTS
    expected = model.state_dict()
    with _open_weights(path) as handle:
        names = set(handle.keys())
        _check_names(expected, names, path)
        for name in names:
            shape = tuple(handle.get_slice(name).get_shape())
            if shape != tuple(expected[name].shape):
                raise ModelError(f"{path}: '{name}' has shape {shape}, the config implies {tuple(expected[name].shape)}")
        tensors = {name: handle.get_tensor(name) for name in names}
    load_state(model, tensors, path)


def _check_names(expected: dict[str, torch.Tensor], names: set[str], path: Path) -> None:
    missing = sorted(set(expected) - names)
    extra = sorted(names - set(expected))
    if missing or extra:
        raise ModelError(f"{path}: parameters do not match the config (missing: {missing[:3]}, unexpected: {extra[:3]})")


def load_state(model: torch.nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Copy ``tensors`` into ``model`` after checking names, shapes and dtypes (errors name ``path``)."""
    expected = model.state_dict()
    _check_names(expected, set(tensors), path)
    for name, tensor in tensors.items():
        if tensor.shape != expected[name].shape:
            raise ModelError(f"{path}: '{name}' has shape {tuple(tensor.shape)}, the config implies {tuple(expected[name].shape)}")
        if tensor.dtype != expected[name].dtype:
            raise ModelError(f"{path}: '{name}' has dtype {tensor.dtype}, expected {expected[name].dtype}")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelError(f"{path}: '{name}' holds NaN or infinite values (a model with them tags everything alike)")
    model.load_state_dict(tensors)
