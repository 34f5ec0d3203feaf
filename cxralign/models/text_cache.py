"""Outputs of a frozen text encoder, computed once per distinct text and reused.

When the text tower is frozen (the default: a pretrained MiniLM next to an image tower trained
from scratch), its output for a report or sentence never changes during a run, yet the training
loop would run the transformer on every report and sentence of every batch: most of a CPU step.
The cache keys each row by its token ids (what the encoder sees), computes the rows it has not
met in one batched forward pass, and serves every later request from memory. The result is
exactly what the encoder would return (same dtype, same padding width), so callers cannot tell
the difference except by the time it takes.

Rows are stored without their padding and, for token states, in half precision: a run over a
few thousand reports and their sentences then needs a few hundred MB, not gigabytes.
"""

from __future__ import annotations

import torch

from cxralign.models.text_encoder import TextEncoder, TextOutput

_Row = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]
"""(tokens (L, H) half, pooled (H,), word_mask (L,), cls_attention (L,) or None)."""


class FrozenTextCache:
    """``cache(encoder, ids, mask) -> TextOutput`` for a frozen ``encoder`` (module docstring).

    ``misses`` counts the rows that had to be encoded, ``hits`` those served from memory.
    """

    def __init__(self) -> None:
        self._rows: dict[bytes, _Row] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._rows)

    def __call__(self, encoder: TextEncoder, ids: torch.Tensor, mask: torch.Tensor
                 ) -> TextOutput:
        if len(ids) == 0:
            return encoder(ids, mask)
        lengths = mask.sum(dim=1).tolist()
        keys = [_key(row[:length]) for row, length in zip(ids, lengths, strict=True)]
        wanted = [key for key in dict.fromkeys(keys) if key not in self._rows]
        self.misses += len(wanted)
        self.hits += len(keys) - len(wanted)
        if wanted:
            self._encode(encoder, ids, mask, wanted, keys, lengths)
        return _assemble([self._rows[key] for key in keys], ids, encoder.cls_attention)

    def _encode(self, encoder: TextEncoder, ids: torch.Tensor, mask: torch.Tensor,
                wanted: list[bytes], keys: list[bytes], lengths: list[int]) -> None:
        first = {key: position for position, key in reversed(list(enumerate(keys)))}
        rows = [first[key] for key in wanted]
        width = max(lengths[row] for row in rows)
        with torch.no_grad():
            output = encoder(ids[rows, :width], mask[rows, :width])
        for position, (key, row) in enumerate(zip(wanted, rows, strict=True)):
            length = lengths[row]
            attention = output.cls_attention
            self._rows[key] = (
                output.tokens[position, :length].detach().to("cpu", torch.float16),
                output.pooled[position].detach().cpu(),
                output.word_mask[position, :length].cpu(),
                None if attention is None else attention[position, :length].detach().cpu())


def _key(ids: torch.Tensor) -> bytes:
    return ids.to("cpu", torch.int64).numpy().tobytes()


def _assemble(rows: list[_Row], ids: torch.Tensor, with_attention: bool) -> TextOutput:
    """Stack cached rows back into ``ids``' shape (right padding, as the tokenizer pads)."""
    count, width = ids.shape
    hidden = rows[0][1].shape[-1]
    dtype = rows[0][1].dtype
    tokens = torch.zeros((count, width, hidden), dtype=dtype)
    word_mask = torch.zeros((count, width), dtype=torch.bool)
    attention = torch.zeros((count, width), dtype=dtype) if with_attention else None
    for position, (row_tokens, _, row_words, row_attention) in enumerate(rows):
        length = len(row_words)
        tokens[position, :length] = row_tokens.to(dtype)
        word_mask[position, :length] = row_words
        if attention is not None and row_attention is not None:
            attention[position, :length] = row_attention
    pooled = torch.stack([row[1] for row in rows])
    device = ids.device
    return TextOutput(tokens=tokens.to(device), pooled=pooled.to(device),
                      word_mask=word_mask.to(device),
                      cls_attention=None if attention is None else attention.to(device))
