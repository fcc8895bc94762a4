"""A pretrained transformer and its tokenizer, loaded from a local directory, the Hugging Face hub, or a
seqlab model directory; saved beside a model's weights (``transformer/``: config, tokenizer, origin).

Nothing in a transformer's directory runs code or asks a question: a config or tokenizer that names
custom code (``auto_map``) is refused before transformers reads it, every load passes
``trust_remote_code=False`` with standard input out of its reach, weights are read from safetensors only
(a directory with only pickled ``pytorch_model.bin`` is refused), and the network a config describes is
counted on the meta device before it is built: at most ``MAX_PARAMETERS`` numbers, and for a saved model
exactly as many as its weights file holds.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seqlab.config.model import MAX_PARAMETERS, TransformerConfig
from seqlab.errors import ModelError
from seqlab.files import read_limited

SUBDIRECTORY = "transformer"
"""Where a model directory keeps the transformer's config and tokenizer (its weights are in the model's)."""
ORIGIN = "origin.json"
JSON_LIMIT = 16 << 20
"""The most bytes a transformer's ``config.json`` or ``tokenizer_config.json`` may hold."""
PREFIX = "embedding.transformer."
"""Parameter names of the transformer inside a ``TaggerModel``."""


def _library() -> Any:
    try:
        import transformers
    except ImportError:
        raise ModelError("model.embedding.transformer needs the transformers package: pip install 'seqlab[transformers]'") from None
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    return transformers


@dataclass(frozen=True)
class Backbone:
    """A transformer and its tokenizer, with where they came from."""

    tokenizer: Any
    """A fast (Rust) tokenizer: it maps subwords back to words."""
    network: nn.Module
    """The transformer (``transformers.AutoModel``), returning every layer's hidden states."""
    source: str
    """``model.embedding.transformer.model`` as configured."""
    revision: str | None
    """The hub commit the weights came from, when they came from the hub."""


@contextlib.contextmanager
def _no_prompt() -> Iterator[None]:
    """Standard input is an empty stream while transformers runs: a question it might ask reads end of
    file at once, never the user's input (``seqlab predict --input -`` keeps its first line)."""
    kept = sys.stdin
    sys.stdin = io.StringIO()
    try:
        yield
    finally:
        sys.stdin = kept


def refuse_unsafe(directory: Path) -> None:
    """A local transformer directory must not name custom code (``auto_map`` in ``config.json`` or
    ``tokenizer_config.json``) and must hold its weights as safetensors when it holds any; else a
    ``ModelError``. JSON files are read as regular files of bounded size."""
    for name in ("config.json", "tokenizer_config.json"):
        path = directory / name
        try:
            raw = read_limited(path, JSON_LIMIT)
        except FileNotFoundError:
            continue
        try:
            content = json.loads(raw)
        except (ValueError, RecursionError):
            raise ModelError(f"{path}: not JSON") from None
        if not isinstance(content, dict):
            raise ModelError(f"{path}: expected a JSON object")
        if "auto_map" in content:
            raise ModelError(f"{path}: names custom code (auto_map); seqlab never runs code from a model directory")
    pickled = sorted(p.name for p in directory.glob("*.bin")) + sorted(p.name for p in directory.glob("*.pt")) + sorted(p.name for p in directory.glob("*.pth"))
    if pickled and not any(directory.glob("*.safetensors")):
        raise ModelError(
            f"{directory}: holds only pickled weights ({pickled[0]}), which seqlab never loads; convert them to model.safetensors "
            "with a tool you trust (transformers: load it, then save_pretrained(DIR, safe_serialization=True))"
        )


def count_numbers(library: Any, network_config: Any) -> dict[str, int]:
    """The numbers in each tensor of the state of the network ``network_config`` describes, counted on
    the meta device (nothing is allocated)."""
    with torch.device("meta"), _no_prompt():
        probe = library.AutoModel.from_config(network_config, trust_remote_code=False)
    return {name: math.prod(tensor.shape) for name, tensor in probe.state_dict().items()}


def _check_size(library: Any, network_config: Any, where: str, declared: Mapping[str, tuple[int, ...]] | None) -> None:
    """Refuse a config that describes more than ``MAX_PARAMETERS`` numbers or, for a saved model, a
    network other than the one its weights file declares (``declared``: the file's transformer shapes)."""
    counts = count_numbers(library, network_config)
    total = sum(counts.values())
    if total > MAX_PARAMETERS:
        raise ModelError(f"{where}: describes a network of {total:,} numbers, more than a seqlab model holds ({MAX_PARAMETERS:,})")
    if declared is not None:
        held = sum(math.prod(shape) for shape in declared.values())
        if total != held:
            raise ModelError(f"{where}: describes a network of {total:,} numbers, the model's weights file holds {held:,}")


def _check_tokenizer(tokenizer: Any, network_config: Any, where: str) -> None:
    """The tokenizer must fit the network's token table: no id beyond it, and not a small fraction of it
    (a directory without its tokenizer files gives a tokenizer of a handful of special tokens)."""
    table = getattr(network_config, "vocab_size", None)
    if isinstance(table, int) and not table // 2 <= len(tokenizer) <= table:
        raise ModelError(f"model.embedding.transformer.model: '{where}': its tokenizer has {len(tokenizer):,} tokens, its network's table {table:,}: "
                         "not the tokenizer it was trained with (are the tokenizer files there?)")


def _tokenizer(library: Any, where: str, revision: str | None, local: bool) -> Any:
    def load(**extra: Any) -> Any:
        try:
            with _no_prompt():
                return library.AutoTokenizer.from_pretrained(where, revision=revision, local_files_only=local, trust_remote_code=False, **extra)
        except (TypeError, ValueError, OSError, ImportError, AttributeError) as err:  # e.g. a slow-only tokenizer with no files to convert
            raise ModelError(f"model.embedding.transformer.model: '{where}': no fast tokenizer (tokenizer.json) could be loaded or built from its files, "
                             f"and word alignment needs one ({_first_line(err)})") from None

    tokenizer = load()
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"model.embedding.transformer.model: '{where}' has no fast tokenizer (tokenizer.json), which word alignment needs")
    try:
        tokenizer(["a", "b"], is_split_into_words=True, add_special_tokens=False)
    except (ValueError, AssertionError):  # byte-level BPE wants a space before pre-split words
        tokenizer = load(add_prefix_space=True)
    return tokenizer


def load_backbone(config: TransformerConfig, saved: Path | None = None, declared: Mapping[str, tuple[int, ...]] | None = None) -> Backbone:
    """The pretrained transformer ``config.model`` (a local directory, or a hub name through the Hugging
    Face cache), or, with ``saved``, the one a seqlab model directory was trained with: built from its
    saved config and tokenizer, its weights to come from the model's weights file, whose transformer
    tensors ``declared`` gives (names under ``PREFIX``, shapes from the file's header)."""
    library = _library()
    name = config.model
    assert name is not None, "load_backbone needs model.embedding.transformer.model"
    with torch.random.fork_rng(devices=[]):  # building it never shifts the seeded initialisation of the rest
        if saved is not None:
            where = saved / SUBDIRECTORY
            if not (where / "config.json").exists():
                raise ModelError(f"{where}: missing; this model was trained with a transformer and its directory is incomplete")
            refuse_unsafe(where)
            origin = _origin(where)
            try:
                with _no_prompt():
                    network_config = library.AutoConfig.from_pretrained(str(where), local_files_only=True, trust_remote_code=False)
                _check_size(library, network_config, str(where / "config.json"), declared)
                tokenizer = _tokenizer(library, str(where), None, local=True)
                _check_tokenizer(tokenizer, network_config, str(where))
                with _no_prompt():
                    network = library.AutoModel.from_config(network_config, trust_remote_code=False)
            except ModelError:
                raise
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
                raise ModelError(f"{where}: cannot be read ({_first_line(err)})") from None
            return Backbone(tokenizer, network.eval(), name, origin.get("revision"))
        local = Path(name).expanduser().is_dir()
        where = str(Path(name).expanduser()) if local else name
        if local:
            refuse_unsafe(Path(where))
        try:
            with _no_prompt():
                network_config = library.AutoConfig.from_pretrained(where, revision=config.revision, local_files_only=local, trust_remote_code=False)
            _check_size(library, network_config, f"model.embedding.transformer.model: '{name}'", None)
            tokenizer = _tokenizer(library, where, config.revision, local)
            _check_tokenizer(tokenizer, network_config, name)
            with _no_prompt():
                network = library.AutoModel.from_pretrained(where, trust_remote_code=False, use_safetensors=True, config=network_config, revision=config.revision, local_files_only=local)
        except ModelError:
            raise
        except Exception as err:  # noqa: BLE001 - transformers and huggingface_hub raise many kinds; each is "cannot load"
            place = "the directory" if local else f"not a local directory, and neither in the Hugging Face cache ({_cache()}) nor downloadable"
            raise ModelError(f"model.embedding.transformer.model: cannot load '{name}': {place} ({_first_line(err)})") from None
    revision = getattr(network.config, "_commit_hash", None)
    return Backbone(tokenizer, network.eval(), name, revision if isinstance(revision, str) else None)


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return (lines[0] if lines else type(err).__name__)[:160]


def saved_backbone(config: TransformerConfig, directory: Path, declared: Mapping[str, tuple[int, ...]]) -> Backbone | None:
    """The transformer of the model saved in ``directory``, when its config has one; ``declared``: the
    shapes the model's weights file declares (all of them; the transformer's are picked out here)."""
    if config.model is None:
        return None
    mine = {name: shape for name, shape in declared.items() if name.startswith(PREFIX)}
    return load_backbone(config, saved=directory, declared=mine)


def _cache() -> str:
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:
        return "~/.cache/huggingface/hub"
    return str(HF_HUB_CACHE)


def _origin(where: Path) -> dict[str, Any]:
    try:
        origin = json.loads(read_limited(where / ORIGIN, JSON_LIMIT))
    except (OSError, ValueError, RecursionError):
        raise ModelError(f"{where / ORIGIN}: missing or not JSON") from None
    if not isinstance(origin, dict):
        raise ModelError(f"{where / ORIGIN}: expected an object")
    return origin


def save_backbone(directory: Path, backbone: Backbone) -> None:
    """Write the transformer's config and tokenizer under ``directory/transformer`` (JSON and vocabulary
    files: no pickle) and ``origin.json``: the configured name, the hub revision and the sha256 of the
    pretrained weights as loaded. The weights themselves are saved with the model's."""
    where = directory / SUBDIRECTORY
    try:
        where.mkdir(parents=True, exist_ok=True)
        backbone.network.config.save_pretrained(str(where))
        backbone.tokenizer.save_pretrained(str(where))
    except OSError as err:
        raise ModelError(f"{where}: cannot write ({err.strerror or err})") from None
    digest = hashlib.sha256()
    for name, tensor in backbone.network.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    origin = {"model": backbone.source, "revision": backbone.revision, "weights_sha256": digest.hexdigest()}
    (where / ORIGIN).write_text(json.dumps(origin, indent=1) + "\n", encoding="utf-8")


def copy_backbone(backbone: Backbone) -> Backbone:
    """The same architecture and tokenizer with fresh weights (to receive another model's by ``load_state_dict``)."""
    library = _library()
    with torch.random.fork_rng(devices=[]), _no_prompt():
        network = library.AutoModel.from_config(backbone.network.config, trust_remote_code=False)
    return Backbone(backbone.tokenizer, network.eval(), backbone.source, backbone.revision)
