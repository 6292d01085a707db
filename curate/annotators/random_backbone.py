"""A randomly initialised XLM-R-shaped backbone with a tokenizer trained on given texts: no download.

What for: measuring and testing the annotate path where nothing can be fetched (a GPU machine without
network, CI). Speed and memory depend on the model's shape, not on its weights, so a random model of the
real shape times like the real one (`bench/annotate_gpu.py`); a tiny one exercises every code path on a
CPU in seconds, including 8,192-token documents (`long`). The tokenizer is a byte-pair encoding trained with
the ``tokenizers`` library on the texts given (CJK ideographs one piece each, as sentencepiece mostly ends up
for rare ones), with XLM-R's special-token ids, so the token counts of a multilingual corpus are realistic.

The folder written is a plain transformers model (``config.json``, ``model.safetensors``, tokenizer files),
which `curate.annotators.embedders.make_embedder` loads with mean pooling.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")  # ids 0-4, as XLM-R
SHAPES: dict[str, dict[str, int]] = {
    # XLM-R base: 278M parameters with its 250,002-token vocabulary
    "base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
             "vocab_size": 250_002},
    "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128},
}


def train_tokenizer(texts: Sequence[str], vocab_size: int, max_tokens: int) -> Any:
    """A fast BPE tokenizer trained on ``texts``: ``<s> ... </s>`` around every text, XLM-R's special ids."""
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex("[\u4e00-\u9fff]"), behavior="isolated"),
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), min_frequency=2,
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                                       special_tokens=[("<s>", 0), ("</s>", 2)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", cls_token="<s>",
                                   sep_token="</s>", pad_token="<pad>", unk_token="<unk>", mask_token="<mask>",
                                   model_max_length=max_tokens)


def build_backbone(folder: str | Path, texts: Sequence[str], *, shape: str = "tiny", max_tokens: int = 512,
                   vocab_size: int = 8000, seed: int = 0) -> Path:
    """Write a random XLM-R-shaped model of ``shape`` (`SHAPES`) taking ``max_tokens`` tokens, with a
    tokenizer of about ``vocab_size`` pieces trained on ``texts``, to ``folder``; returns the folder."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    folder = Path(folder)
    tokenizer = train_tokenizer(texts, vocab_size, max_tokens)
    dims = {"vocab_size": len(tokenizer), **SHAPES[shape]}
    config = XLMRobertaConfig(**dims, max_position_embeddings=max_tokens + 2, type_vocab_size=1, pad_token_id=1,
                              bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5)
    torch.manual_seed(seed)
    model = XLMRobertaModel(config).eval()
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder
