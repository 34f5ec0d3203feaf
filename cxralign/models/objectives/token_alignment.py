"""MGCA cross-modal token-wise alignment (CTA), both directions.

MGCA (multi-granularity cross-modal alignment) aligns words with image patches without any box
supervision. For each word, cross-attention over the patches of *its own* image builds a visual
representation ``c_j`` of that word; a local InfoNCE then asks ``c_j`` to be closer to its word
``t_j`` than to the other words of the same report (and ``t_j`` to be closer to ``c_j`` than to
the other words' visual representations). Symmetrically, each patch attends to the words of its
report and is contrasted against the other patches of the same image. Negatives are tokens of the
same sample, so the objective teaches *which* word goes with *which* part of the image, not which
image goes with which report (the global loss does that).

Not all tokens matter equally ("the", "of", background patches), so MGCA weights each token's
loss by its importance: the attention of the encoder's [CLS]/global token to the token in the
last layer (head-averaged), clipped to its 10–90 % quantiles within the sample (so a few
tokens cannot dominate) and renormalised to sum to 1 over the sample's valid tokens. The caller
computes these weights from its encoders and passes them in; they are treated as constants
(no gradient), as in MGCA. An encoder without a [CLS] token (a CNN's patch grid) may pass ones:
clipping leaves equal weights equal, so every token then counts the same.

Public API (tensor-level)::

    loss_fn = TokenAlignmentLoss(dim=D, num_heads=1, temperature=0.1,
                                 clip_quantiles=(0.1, 0.9), weight=1.0)
    out = loss_fn(words,          # (B, T, D) word features (no [CLS]/padding rows required)
                  word_mask,      # (B, T) bool, True = real word
                  patches,        # (B, P, D) patch features
                  word_weights,   # (B, T) >= 0, importance of each word (e.g. CLS attention)
                  patch_weights,  # (B, P) >= 0, importance of each patch
                  patch_mask=None)  # optional (B, P) bool
    out.loss        # scalar: weight · ½ (word_loss + patch_loss)
    out.word_loss   # word-side (word → patch attention) local InfoNCE, unweighted
    out.patch_loss  # patch-side (patch → word attention) local InfoNCE, unweighted

Maths (word side; the patch side swaps the roles). Features are L2-normalised;
``c = normalize(MHA(query=t, key=v, value=v))``; ``s[j,k] = t_j·c_k / τ`` over the valid words
``j, k`` of one sample; with importance ``w_j`` (clipped, Σ_j w_j = 1)

    L_word = mean_b Σ_j w_j · ½ ( CE(s[j, :], j) + CE(s[:, j], j) ).

A sample with no valid token on either side is left out of both sides' means (nothing to
align); with no such sample at all the terms are 0 computed from the inputs (they keep a
``grad_fn``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class TokenAlignmentOutput:
    """Weighted total ``loss`` and the unweighted per-direction terms."""

    loss: torch.Tensor
    word_loss: torch.Tensor
    patch_loss: torch.Tensor


def importance_weights(weights: torch.Tensor, mask: torch.Tensor,
                       clip_quantiles: tuple[float, float] | None) -> torch.Tensor:
    """Per-sample token weights: clipped to the quantiles of the valid entries, zero on masked
    tokens, summing to 1 over the valid tokens (all-zero rows become uniform). No gradient."""
    with torch.no_grad():
        mask = mask.bool()
        weights = weights.detach().to(torch.float32).clamp_min(0.0) * mask
        if clip_quantiles is not None and weights.numel() > 0:
            values = weights.masked_fill(~mask, float("nan"))  # quantiles of valid tokens only
            low = torch.nanquantile(values, clip_quantiles[0], dim=1, keepdim=True)
            high = torch.nanquantile(values, clip_quantiles[1], dim=1, keepdim=True)
            clipped = torch.maximum(torch.minimum(weights, high), low)
            weights = torch.where(mask, clipped, weights)  # rows without tokens stay zero
        valid = mask.to(torch.float32)
        total = weights.sum(dim=1, keepdim=True)
        uniform = valid / valid.sum(dim=1, keepdim=True).clamp_min(1.0)
        return torch.where(total > 0, weights / total.clamp_min(1e-12), uniform)


def local_contrastive(tokens: torch.Tensor, attended: torch.Tensor, weights: torch.Tensor,
                      mask: torch.Tensor, temperature: float) -> torch.Tensor:
    """Importance-weighted symmetric InfoNCE between each token and its cross-attended
    counterpart, negatives being the other valid tokens of the same sample.

    ``tokens``, ``attended``: (B, N, D) (normalised here); ``weights``: (B, N) summing to 1 over
    the valid tokens (see :func:`importance_weights`); ``mask``: (B, N) bool. Returns the mean
    over samples that have at least one valid token (0 from the inputs if none has).
    """
    tokens = F.normalize(tokens, dim=-1)
    attended = F.normalize(attended, dim=-1)
    logits = tokens @ attended.transpose(1, 2) / temperature  # (B, N, N)
    pair_ok = mask[:, :, None] & mask[:, None, :]
    logits = logits.masked_fill(~pair_ok, torch.finfo(logits.dtype).min)
    diagonal = torch.arange(logits.shape[1], device=logits.device)
    token_to_attended = -F.log_softmax(logits, dim=2)[:, diagonal, diagonal]
    attended_to_token = -F.log_softmax(logits, dim=1)[:, diagonal, diagonal]
    per_token = 0.5 * (token_to_attended + attended_to_token)
    per_token = torch.where(mask, per_token, torch.zeros_like(per_token))
    per_sample = (per_token * weights).sum(dim=1)
    has_tokens = mask.any(dim=1)
    if not bool(has_tokens.any()):
        return (tokens.sum() + attended.sum()) * 0.0
    return per_sample[has_tokens].mean()


class TokenAlignmentLoss(nn.Module):
    """MGCA bidirectional token-wise alignment with its two cross-attention layers.

    Args:
        dim: feature width ``D`` of words and patches (already projected to a shared space).
        num_heads: heads of the word→patch and patch→word ``nn.MultiheadAttention`` (MGCA: 1).
        temperature: local InfoNCE temperature (MGCA ``local_temperature`` 0.1).
        clip_quantiles: (low, high) quantile clipping of the importance weights, or None.
        weight: factor applied to ``loss`` (MGCA weights the local terms by 1.0 each).
    """

    def __init__(self, dim: int, *, num_heads: int, temperature: float,
                 clip_quantiles: tuple[float, float] | None = (0.1, 0.9),
                 weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature
        self.clip_quantiles = clip_quantiles
        self.weight = weight
        self.word_to_patch = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.patch_to_word = nn.MultiheadAttention(dim, num_heads, batch_first=True)

    def forward(self, words: torch.Tensor, word_mask: torch.Tensor, patches: torch.Tensor,
                word_weights: torch.Tensor, patch_weights: torch.Tensor,
                patch_mask: torch.Tensor | None = None) -> TokenAlignmentOutput:
        """See the module docstring for shapes and meaning."""
        word_mask = word_mask.bool()
        patch_mask = (torch.ones(patches.shape[:2], dtype=torch.bool, device=patches.device)
                      if patch_mask is None else patch_mask.bool())
        words_n = F.normalize(words, dim=-1)
        patches_n = F.normalize(patches, dim=-1)
        # a sample without any valid key would give NaN attention: let it attend to everything;
        # its rows are masked out of the loss anyway
        word_keys_ok = word_mask | ~word_mask.any(dim=1, keepdim=True)
        patch_keys_ok = patch_mask | ~patch_mask.any(dim=1, keepdim=True)
        words_seen, _ = self.word_to_patch(words_n, patches_n, patches_n,
                                           key_padding_mask=~patch_keys_ok, need_weights=False)
        patches_read, _ = self.patch_to_word(patches_n, words_n, words_n,
                                             key_padding_mask=~word_keys_ok, need_weights=False)
        # a token is trained only if the other modality of its sample has something to attend to
        word_rows = word_mask & patch_mask.any(dim=1, keepdim=True)
        patch_rows = patch_mask & word_mask.any(dim=1, keepdim=True)
        word_w = importance_weights(word_weights, word_rows, self.clip_quantiles)
        patch_w = importance_weights(patch_weights, patch_rows, self.clip_quantiles)
        word_loss = local_contrastive(words_n, words_seen, word_w, word_rows, self.temperature)
        patch_loss = local_contrastive(patches_n, patches_read, patch_w, patch_rows,
                                       self.temperature)
        return TokenAlignmentOutput(loss=self.weight * 0.5 * (word_loss + patch_loss),
                                    word_loss=word_loss, patch_loss=patch_loss)
