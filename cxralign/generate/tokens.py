"""A slot sentence as token ids, the same for the WordPiece vocabulary learnt from the
reports and a pretrained language model's tokenizer (which may be BERT's or GPT-2's kind)."""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase


def sentence_boundaries(tokenizer: PreTrainedTokenizerBase) -> tuple[int, int]:
    """``(start, end)`` token ids around a sentence: BERT's [CLS]/[SEP] where the tokenizer
    has them (the WordPiece vocabulary too), else its bos/eos."""
    start, end = tokenizer.cls_token_id, tokenizer.sep_token_id
    if start is None or end is None:
        start, end = tokenizer.bos_token_id, tokenizer.eos_token_id
    if start is None or end is None:
        raise ValueError(f"tokenizer {type(tokenizer).__name__} has neither cls/sep nor bos/eos")
    return start, end


def sentence_ids(tokenizer: PreTrainedTokenizerBase, text: str, max_tokens: int) -> list[int]:
    """``text``'s ids between the :func:`sentence_boundaries`, at most ``max_tokens`` in all."""
    start, end = sentence_boundaries(tokenizer)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"][:max_tokens - 2]
    return [start, *ids, end]
