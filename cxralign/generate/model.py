"""The generator network: a selection head and a sentence decoder over one slot.

Each slot (a region, or the whole image) is described by three memory tokens the decoder
attends to: the slot's frozen feature, the image's global feature (context: a right effusion
reads differently beside cardiomegaly) and a learnt embedding of the slot's identity (the
region's name decides the words: "left costophrenic angle" -> "left pleural effusion"). The
selection head reads the same three tokens. With ``keywords`` set a fourth token carries the
image's predicted finding probabilities (a keyword head on the global feature, AdaMatch's
keywords), so every slot's sentence can draw on what the whole image shows.

The decoder is one of two behind :class:`SentenceDecoder`: the offline default, a small
transformer trained from scratch (:class:`TransformerSentenceDecoder`), or a pretrained
language model (:mod:`cxralign.generate.language_model`); training and generation only use the
interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from cxralign.generate.settings import GeneratorSettings
from cxralign.vocabulary import FINDINGS


class SentenceDecoder(nn.Module, ABC):
    """Writes a slot's sentence from its memory ``(M, K, width)``: next-token logits of a
    prefix (teacher forcing) and greedy decoding up to ``max_tokens`` tokens."""

    def __init__(self, max_tokens: int) -> None:
        super().__init__()
        self.max_tokens = max_tokens

    @abstractmethod
    def token_logits(self, memory: torch.Tensor, tokens: torch.Tensor,
                     padding: torch.Tensor | None = None) -> torch.Tensor:
        """``(M, T, vocab)`` next-token logits of token prefixes ``tokens`` (M, T) (causal;
        ``padding`` True marks pad positions)."""

    @abstractmethod
    def extend(self, memory: torch.Tensor, start: torch.Tensor, eos: int) -> torch.Tensor:
        """``(M, ≤ max_tokens)`` greedy continuations of the one-token prefixes ``start``
        (M, 1); a row may go on (with anything) after its ``eos``."""

    def pretrained_parameters(self) -> list[nn.Parameter]:
        """Parameters loaded from a pretrained checkpoint (fine-tuned gently); none here."""
        return []

    @torch.no_grad()
    def greedy(self, memory: torch.Tensor, bos: int, eos: int) -> list[list[int]]:
        """Greedy decoding of every slot in ``memory`` until ``eos`` or ``max_tokens`` tokens
        (``bos`` included); the ids after ``bos`` and before ``eos``."""
        if not len(memory):
            return []
        start = torch.full((len(memory), 1), bos, dtype=torch.long, device=memory.device)
        rows = self.extend(memory, start, eos)[:, 1:].tolist()
        return [row[:row.index(eos)] if eos in row else row for row in rows]


class TransformerSentenceDecoder(SentenceDecoder):
    """The offline decoder: token and position embeddings, a pre-norm transformer decoder
    and an output layer over a vocabulary learnt from the reports, all trained from scratch."""

    def __init__(self, vocab_size: int, settings: GeneratorSettings) -> None:
        super().__init__(settings.max_tokens)
        width = settings.width
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.position_embedding = nn.Embedding(settings.max_tokens, width)
        layer = nn.TransformerDecoderLayer(width, settings.heads, 2 * width, settings.dropout,
                                           batch_first=True, norm_first=True)
        self.layers = nn.TransformerDecoder(layer, settings.layers)
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, vocab_size))

    def token_logits(self, memory: torch.Tensor, tokens: torch.Tensor,
                     padding: torch.Tensor | None = None) -> torch.Tensor:
        length = tokens.shape[1]
        positions = torch.arange(length, device=tokens.device)
        hidden = self.token_embedding(tokens) + self.position_embedding(positions)[None]
        causal = torch.ones(length, length, dtype=torch.bool, device=tokens.device).triu(1)
        hidden = self.layers(hidden, memory, tgt_mask=causal, tgt_is_causal=True,
                             tgt_key_padding_mask=padding)
        return self.out(hidden)

    def extend(self, memory: torch.Tensor, start: torch.Tensor, eos: int) -> torch.Tensor:
        tokens = start
        finished = torch.zeros(len(memory), dtype=torch.bool, device=memory.device)
        while tokens.shape[1] < self.max_tokens and not bool(finished.all()):
            step = self.token_logits(memory, tokens)[:, -1].argmax(dim=-1)
            tokens = torch.cat([tokens, step[:, None]], dim=1)
            finished |= step == eos
        return tokens


class RegionSentenceGenerator(nn.Module):
    """Slot memory, selection logits, and the sentence decoder that reads the memory."""

    def __init__(self, feature_dim: int, slots: int, settings: GeneratorSettings,
                 decoder: SentenceDecoder) -> None:
        super().__init__()
        width = settings.width
        self.feature_in = nn.Sequential(nn.LayerNorm(feature_dim), nn.Linear(feature_dim, width))
        self.global_in = nn.Sequential(nn.LayerNorm(feature_dim), nn.Linear(feature_dim, width))
        self.slot_embedding = nn.Embedding(slots, width)
        self.keyword_head = self.keyword_in = None
        if settings.keywords:
            self.keyword_head = nn.Sequential(nn.LayerNorm(feature_dim),
                                              nn.Linear(feature_dim, len(FINDINGS)))
            self.keyword_in = nn.Linear(len(FINDINGS), width)
        tokens = 3 if self.keyword_head is None else 4
        self.select = nn.Sequential(nn.Linear(tokens * width, width), nn.GELU(),
                                    nn.Linear(width, 1))
        self.decoder = decoder

    @property
    def feature_dim(self) -> int:
        """Width of the frozen features the network reads."""
        return self.feature_in[1].in_features

    def memory(self, features: torch.Tensor, global_: torch.Tensor, slots: torch.Tensor
               ) -> torch.Tensor:
        """``(M, K, width)`` memory of M slots: feature, global feature, slot identity and,
        with keywords, the predicted finding probabilities (K = 3 or 4)."""
        tokens = [self.feature_in(features), self.global_in(global_), self.slot_embedding(slots)]
        if self.keyword_in is not None:
            tokens.append(self.keyword_in(torch.sigmoid(self.keyword_logits(global_))))
        return torch.stack(tokens, dim=1)

    def keyword_logits(self, global_: torch.Tensor) -> torch.Tensor:
        """``(N, len(FINDINGS))`` logit that each finding is positive in the image."""
        if self.keyword_head is None:
            raise ValueError("this generator was trained without keywords")
        return self.keyword_head(global_)

    def selection_logits(self, memory: torch.Tensor) -> torch.Tensor:
        """``(M,)`` logit that each slot has a sentence."""
        return self.select(memory.flatten(1)).squeeze(-1)

    def parameter_groups(self, learning_rate: float, pretrained_scale: float) -> list[dict]:
        """AdamW groups: pretrained decoder weights at ``learning_rate × pretrained_scale``
        (a warm start is kept, not overwritten), everything new at ``learning_rate``."""
        pretrained = self.decoder.pretrained_parameters()
        kept = {id(p) for p in pretrained}
        groups = [{"params": [p for p in self.parameters() if id(p) not in kept],
                   "lr": learning_rate},
                  {"params": pretrained, "lr": learning_rate * pretrained_scale}]
        return [group for group in groups if group["params"]]
