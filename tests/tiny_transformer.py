"""A tiny BERT written to disk for tests: a WordPiece tokenizer trained on the apple training words with
the ``tokenizers`` library and a 2-layer, 32-dim ``BertModel`` with random weights (no downloads)."""
from __future__ import annotations

from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tiny_transformer(out: Path, positions: int = 64, seed: int = 0) -> Path:
    """Write the tokenizer and the model to ``out`` with ``save_pretrained``; returns ``out``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast

    lines = (ROOT / "data" / "apple" / "train.conll").read_text(encoding="utf-8").splitlines()
    words = [line.split("\t")[0] for line in lines if line.strip()]
    backend = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=False)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=300, special_tokens=SPECIALS)
    backend.train_from_iterator((" ".join(words[i : i + 10]) for i in range(0, len(words), 10)), trainer)
    tokenizer = BertTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        config = BertConfig(
            vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, max_position_embeddings=positions,
        )
        BertModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def build_tiny_roberta(out: Path, positions: int = 66, seed: int = 0) -> Path:
    """A RoBERTa-style model: a byte-level BPE tokenizer (``<s> … </s>``, no unknown words) trained on the
    apple words, and a 2-layer, 32-dim ``RobertaModel`` whose position table holds 2 rows it never reads."""
    from tokenizers import ByteLevelBPETokenizer, processors
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaModel

    lines = (ROOT / "data" / "apple" / "train.conll").read_text(encoding="utf-8").splitlines()
    words = [line.split("\t")[0] for line in lines if line.strip()]
    bpe = ByteLevelBPETokenizer(add_prefix_space=False)
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    bpe.train_from_iterator((" ".join(words[i : i + 10]) for i in range(0, len(words), 10)), vocab_size=400, special_tokens=specials)
    bpe._tokenizer.post_processor = processors.RobertaProcessing(("</s>", bpe.token_to_id("</s>")), ("<s>", bpe.token_to_id("<s>")))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>",
        mask_token="<mask>", cls_token="<s>", sep_token="</s>",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        config = RobertaConfig(
            vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=positions, pad_token_id=tokenizer.pad_token_id,
        )
        RobertaModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
