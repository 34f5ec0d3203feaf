"""Training the selection head and the decoder on cached slot features.

The image encoder is frozen and its features are computed once (:mod:`cxralign.generate.data`),
so a step costs only the small heads: each step draws ``batch_images`` training images, scores
every slot of theirs for selection (binary cross-entropy against "has a paired sentence") and
teacher-forces the paired sentences (cross-entropy of the next token, padding ignored); with
keywords it also fits the keyword head to the findings of the image's report (binary
cross-entropy per finding).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from cxralign.eval.clinical import finding_sets, report_labels
from cxralign.generate.data import SLOTS, SlotFeatures
from cxralign.generate.language_model import PRETRAINED_LR_SCALE
from cxralign.generate.model import RegionSentenceGenerator, SentenceDecoder
from cxralign.generate.settings import GeneratorSettings
from cxralign.progress import Emit, Progress
from cxralign.text.pipeline import TripletParser
from cxralign.train.collate import pad_ids
from cxralign.vocabulary import FINDINGS


def slot_memory(network: RegionSentenceGenerator, features: torch.Tensor,
                rows: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
    """Memory of the (row, slot) pairs of ``features`` (N, S, D); the last slot is the global
    feature."""
    return network.memory(features[rows, slots], features[rows, -1], slots)


def keyword_targets(reports: Sequence[str], parser: TripletParser) -> torch.Tensor:
    """``(N, len(FINDINGS))``: 1 where ``parser`` reads the finding as present or uncertain
    in the report (what clinical efficacy scores), else 0."""
    column = {finding: i for i, finding in enumerate(FINDINGS)}
    targets = torch.zeros(len(reports), len(FINDINGS))
    for row, found in enumerate(finding_sets(report_labels(reports, parser))):
        targets[row, [column[f] for f in found if f in column]] = 1.0
    return targets


def train_network(
    encoded: SlotFeatures, targets: Sequence[dict[int, Sequence[int]]], decoder: SentenceDecoder,
    pad_id: int, settings: GeneratorSettings, progress: Emit | None = None,
    keywords: torch.Tensor | None = None,
) -> tuple[RegionSentenceGenerator, list[float]]:
    """A generator with sentence ``decoder`` trained on ``encoded`` with per-image slot ->
    token ids ``targets`` (start ... end, :func:`~cxralign.generate.tokens.sentence_ids`)
    and, when ``settings.keywords``, per-image finding ``keywords``
    (:func:`keyword_targets`); returns it in eval mode and the loss of every step."""
    if settings.keywords and keywords is None:
        raise ValueError("a generator with keywords needs keyword targets")
    torch.manual_seed(settings.seed)
    network = RegionSentenceGenerator(encoded.features.shape[-1], len(SLOTS), settings, decoder)
    optimiser = torch.optim.AdamW(
        network.parameter_groups(settings.learning_rate, PRETRAINED_LR_SCALE), weight_decay=0.01)
    labels = torch.zeros(encoded.mask.shape)
    for row, found in enumerate(targets):
        labels[row, list(found)] = 1.0
    draw = torch.Generator().manual_seed(settings.seed)
    steps = settings.step_count(len(targets))
    meter = Progress(steps, "generator training (steps)", emit=progress)
    losses = []
    network.train()
    for _ in range(steps):
        batch = torch.randperm(len(targets), generator=draw)[:settings.batch_images]
        loss = _step_loss(network, encoded, labels, targets, batch, pad_id)
        if settings.keywords:
            loss = loss + F.binary_cross_entropy_with_logits(
                network.keyword_logits(encoded.features[batch, -1]), keywords[batch])
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(network.parameters(), 1.0)
        optimiser.step()
        losses.append(loss.item())
        meter.advance(detail=f"loss {losses[-1]:.3f}")
    return network.eval(), losses


def _step_loss(network: RegionSentenceGenerator, encoded: SlotFeatures, labels: torch.Tensor,
               targets: Sequence[dict[int, Sequence[int]]], batch: torch.Tensor,
               pad_id: int) -> torch.Tensor:
    rows, slots = encoded.mask[batch].nonzero(as_tuple=True)
    rows = batch[rows]
    selection = F.binary_cross_entropy_with_logits(
        network.selection_logits(slot_memory(network, encoded.features, rows, slots)),
        labels[rows, slots])
    pairs = [(int(row), slot, ids) for row in batch.tolist()
             for slot, ids in targets[row].items()]
    if not pairs:
        return selection
    ids, mask = pad_ids([ids for _, _, ids in pairs], pad_id)
    memory = slot_memory(network, encoded.features, torch.tensor([p[0] for p in pairs]),
                         torch.tensor([p[1] for p in pairs]))
    logits = network.decoder.token_logits(memory, ids[:, :-1], padding=~mask[:, :-1].bool())
    gold = ids[:, 1:].masked_fill(~mask[:, 1:].bool(), -100)
    return selection + F.cross_entropy(logits.flatten(0, 1), gold.flatten(), ignore_index=-100)
