"""How high can a linear probe go on the phantom? The tower the recipes use, trained with the
ground-truth finding labels themselves, scored by AUC on the held-out split.

A diagnostic for issue 12's probe target: the pre-trained encoder's probe cannot be expected to
beat a network that was shown the answers with the same input size, start and budget. The tower
is the recipes' (their image encoder, output stride, batch size, learning rate and weight decay
by default), or the detector's backbone when it starts from an anatomy detector; the head is one
linear layer on the mean-pooled map; the loss is binary cross-entropy with ``pos_weight``
(negatives / positives, capped at 10) over the findings the probe would score (its
``probe_min_positives``); no augmentation; AdamW. Images go through the evaluation's input
path (:func:`cxralign.eval.encode.model_inputs`) and labels from the evaluation's own
ground-truth reader (:func:`cxralign.eval.evaluate.ground_truth_source`), so the split, labels
and AUC are the probe's.

Run: ``CXRALIGN_DEID_KEY=phantom-comparison python benchmarks/supervised_ceiling.py --data DATA
--ground-truth-dir DATA/../incoming/ground_truth --detector DET --size 64 --steps 400``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cxralign.eval.auc import auc_per_finding, macro
from cxralign.eval.data import load_splits
from cxralign.eval.encode import model_inputs
from cxralign.eval.evaluate import ground_truth_source
from cxralign.eval.settings import EvaluationSettings
from cxralign.io.catalog import Catalog
from cxralign.models.image_encoder import (
    create_image_backbone,
    detector_backbone,
    load_detector_backbone,
)
from cxralign.models.recipes import RecipeConfig
from cxralign.models.text_encoder import load_tokenizer
from cxralign.vocabulary import FINDINGS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="phantom catalog directory")
    parser.add_argument("--ground-truth-dir", required=True, help="the phantom's ground truth")
    parser.add_argument("--detector", default="", help="anatomy model directory to start from")
    parser.add_argument("--size", type=int, default=64, help="model input side in pixels")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    catalog = Catalog(args.data)
    settings = EvaluationSettings(ground_truth_dirs=[args.ground_truth_dir])
    recipe = RecipeConfig()
    tokenizer = load_tokenizer(recipe.text_encoder)
    test, train = load_splits(catalog, tokenizer, recipe, settings)
    truth = ground_truth_source(catalog, test, train, settings)
    train_labels = torch.tensor(truth.train == 1, dtype=torch.float32)
    columns = [c for c in range(len(FINDINGS))
               if train_labels[:, c].sum() >= settings.probe_min_positives]
    encoder = detector_backbone(args.detector) if args.detector else recipe.image_encoder
    backbone = create_image_backbone(encoder, args.size, output_stride=recipe.image_output_stride)
    if args.detector:
        load_detector_backbone(backbone, args.detector)
    head = nn.Linear(backbone.num_features, len(columns))
    optimiser = torch.optim.AdamW([*backbone.parameters(), *head.parameters()],
                                  lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    train_images, test_images = np.stack(train.examples.staged), np.stack(test.examples.staged)
    prevalence = train_labels[:, columns].mean(0).clamp(min=1e-3)
    pos_weight = ((1 - prevalence) / prevalence).clamp(max=10)
    started = time.perf_counter()
    for step in range(args.steps):
        rows = np.random.default_rng(step).choice(len(train_images), recipe.batch_size,
                                                  replace=False)
        images, _ = model_inputs(train_images[rows], args.size)
        logits = head(backbone.forward_features(images).mean((2, 3)))
        loss = F.binary_cross_entropy_with_logits(logits, train_labels[rows][:, columns],
                                                  pos_weight=pos_weight)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    backbone.eval()
    with torch.no_grad():
        scores = torch.cat([
            head(backbone.forward_features(model_inputs(test_images[i:i + 64], args.size)[0])
                 .mean((2, 3))) for i in range(0, len(test_images), 64)])
    per_finding = auc_per_finding(scores.numpy(), truth.test[:, columns],
                                  [FINDINGS[c] for c in columns])
    print(f"{args.size} px, {args.steps} steps: macro AUC {macro(per_finding):.3f} "
          f"({time.perf_counter() - started:.0f} s)")
    for name, value in per_finding.items():
        print(f"  {name}: {value:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
