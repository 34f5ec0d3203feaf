"""The generator network: a selection head and a small transformer decoder over one slot.

Each slot (a region, or the whole image) is described by three memory tokens the decoder
attends to: the slot's frozen feature, the image's global feature (context: a right effusion
reads differently beside cardiomegaly) and a learnt embedding of the slot's identity (the
region's name decides the words: "left costophrenic angle" -> "left pleural effusion"). The
selection head reads the same three tokens.
"""

from __future__ import annotations

import torch
from torch import nn

from cxralign.generate.settings import GeneratorSettings


class RegionSentenceGenerator(nn.Module):
    """Selection logits and next-token logits for slots of frozen features."""

    def __init__(self, feature_dim: int, vocab_size: int, slots: int,
                 settings: GeneratorSettings) -> None:
        super().__init__()
        width = settings.width
        self.max_tokens = settings.max_tokens
        self.feature_in = nn.Sequential(nn.LayerNorm(feature_dim), nn.Linear(feature_dim, width))
        self.global_in = nn.Sequential(nn.LayerNorm(feature_dim), nn.Linear(feature_dim, width))
        self.slot_embedding = nn.Embedding(slots, width)
        self.select = nn.Sequential(nn.Linear(3 * width, width), nn.GELU(), nn.Linear(width, 1))
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.position_embedding = nn.Embedding(settings.max_tokens, width)
        layer = nn.TransformerDecoderLayer(width, settings.heads, 2 * width, settings.dropout,
                                           batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, settings.layers)
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, vocab_size))

    def memory(self, features: torch.Tensor, global_: torch.Tensor, slots: torch.Tensor
               ) -> torch.Tensor:
        """``(M, 3, width)`` memory of M slots: feature, global feature, slot identity."""
        return torch.stack([self.feature_in(features), self.global_in(global_),
                            self.slot_embedding(slots)], dim=1)

    def selection_logits(self, memory: torch.Tensor) -> torch.Tensor:
        """``(M,)`` logit that each slot has a sentence."""
        return self.select(memory.flatten(1)).squeeze(-1)

    def token_logits(self, memory: torch.Tensor, tokens: torch.Tensor,
                     padding: torch.Tensor | None = None) -> torch.Tensor:
        """``(M, T, vocab)`` next-token logits of token prefixes ``tokens`` (M, T) (causal;
        ``padding`` True marks pad positions)."""
        length = tokens.shape[1]
        positions = torch.arange(length, device=tokens.device)
        hidden = self.token_embedding(tokens) + self.position_embedding(positions)[None]
        causal = torch.ones(length, length, dtype=torch.bool, device=tokens.device).triu(1)
        hidden = self.decoder(hidden, memory, tgt_mask=causal, tgt_is_causal=True,
                              tgt_key_padding_mask=padding)
        return self.out(hidden)

    @torch.no_grad()
    def greedy(self, memory: torch.Tensor, bos: int, eos: int) -> list[list[int]]:
        """Greedy decoding of every slot in ``memory`` until ``eos`` or ``max_tokens`` tokens
        (``bos`` included); the ids after ``bos`` and before ``eos``."""
        tokens = torch.full((len(memory), 1), bos, dtype=torch.long, device=memory.device)
        finished = torch.zeros(len(memory), dtype=torch.bool, device=memory.device)
        while tokens.shape[1] < self.max_tokens and not bool(finished.all()):
            step = self.token_logits(memory, tokens)[:, -1].argmax(dim=-1)
            step = torch.where(finished, torch.full_like(step, eos), step)
            tokens = torch.cat([tokens, step[:, None]], dim=1)
            finished |= step == eos
        sequences = []
        for row in tokens[:, 1:].tolist():
            sequences.append(row[:row.index(eos)] if eos in row else row)
        return sequences
