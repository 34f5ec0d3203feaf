"""Where does zero-shot AUC lose what the image features hold? The prompts against the images
(the metric), against the reports, and the images against labelled report prototypes.

A diagnostic for issue 12's zero-shot target. Each row scores the held-out split per finding by
AUC against the phantom's ground truth (read as the evaluation reads it; the script stops,
saying why, when it is missing or the key does not match), with the
evaluation's prompt ensembles (:class:`cxralign.eval.settings.EvaluationSettings`):

- ``prompts -> images``: the metric itself (``zero_shot_auc``).
- ``prompts -> reports (head)``: each image's own report embedded by the model in place of the
  image. Low here means the text side does not put the prompt where reports stating the
  finding are; no image training can fix that.
- ``prompts -> reports (raw encoder)``: the same without the projection head (the text
  encoder's pooled features, prompts pooled the same way): what the head keeps or loses of the
  encoder's own geometry.
- ``report prototypes -> images``: the prompts replaced by the mean embedding of the training
  reports with and without the finding. It uses the training labels, so it is not zero-shot: it
  shows how much of the finding the image embeddings carry along the text space.
- ``positive prompts only -> images``: cosine to the positive ensemble alone.

Run: ``CXRALIGN_DEID_KEY=phantom-comparison python benchmarks/zero_shot_diagnosis.py --model
MODEL_DIR --data DATA --ground-truth-dir DATA/../incoming/ground_truth``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cxralign.eval.auc import auc_per_finding, macro
from cxralign.eval.data import load_splits
from cxralign.eval.encode import (
    encode_images,
    encode_strings,
    encode_token_rows,
    tokenize_strings,
)
from cxralign.eval.evaluate import ground_truth_source
from cxralign.eval.settings import EvaluationSettings
from cxralign.eval.zero_shot import prompt_ensembles, zero_shot_scores
from cxralign.io.catalog import Catalog
from cxralign.models.model import AlignmentModel
from cxralign.train.collate import pad_ids
from cxralign.vocabulary import FINDINGS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="pre-trained model directory")
    parser.add_argument("--data", type=Path, required=True, help="phantom catalog directory")
    parser.add_argument("--ground-truth-dir", required=True, help="the phantom's ground truth")
    args = parser.parse_args()
    model = AlignmentModel.load(args.model).eval()
    catalog = Catalog(args.data)
    settings = EvaluationSettings(ground_truth_dirs=[args.ground_truth_dir])
    recipe = model.recipe
    test, train = load_splits(catalog, model.tokenizer, recipe, settings)
    labels = ground_truth_source(catalog, test, train, settings)
    images = encode_images(model, test.examples.staged, None, settings.batch_size).global_

    def raw(rows: list[list[int]]) -> torch.Tensor:
        """The text encoder's pooled features, before the projection head."""
        ids, mask = pad_ids(rows, model.tokenizer.pad_token_id or 0)
        with torch.no_grad():
            return model.text_encoder(ids, mask).pooled

    def prompt_sides(embed: Callable[[list[str]], torch.Tensor]
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        return prompt_ensembles(embed, settings.positive_prompts, settings.negative_prompts,
                                FINDINGS)

    head_prompts = prompt_sides(lambda texts: encode_strings(
        model, texts, recipe.max_sentence_tokens, settings.batch_size))
    raw_prompts = prompt_sides(lambda texts: raw(tokenize_strings(
        model, texts, recipe.max_sentence_tokens)))
    reports = [example.report_ids for example in test.examples.examples]
    train_reports = F.normalize(encode_token_rows(
        model, [e.report_ids for e in train.examples.examples], settings.batch_size), dim=-1)
    rows = {
        "prompts -> images": zero_shot_scores(images, *head_prompts),
        "prompts -> reports (head)": zero_shot_scores(
            encode_token_rows(model, reports, settings.batch_size), *head_prompts),
        "prompts -> reports (raw encoder)": zero_shot_scores(raw(reports), *raw_prompts),
        "report prototypes -> images": zero_shot_scores(
            images, *_prototypes(train_reports, labels.train)),
        "positive prompts only -> images": (F.normalize(images, dim=-1)
                                            @ F.normalize(head_prompts[0], dim=-1).T),
    }
    scored = {name: auc_per_finding(scores, labels.test, FINDINGS)
              for name, scores in rows.items()}
    columns = list(scored["prompts -> images"])
    print(f"| scoring | macro AUC | {' | '.join(columns)} |")
    print(f"|---|---|{'---|' * len(columns)}")
    for name, per_finding in scored.items():
        cells = " | ".join(f"{per_finding[finding]:.2f}" for finding in columns)
        print(f"| {name} | {macro(per_finding):.3f} | {cells} |")
    return 0


def _prototypes(reports: torch.Tensor, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """``(F, D)`` mean report embedding with each finding present, and with it absent (zeros
    for a side no training report has, so that finding is scored by its other side alone)."""
    def mean(rows: np.ndarray) -> torch.Tensor:
        chosen = torch.from_numpy(rows)
        return reports[chosen].mean(dim=0) if chosen.any() else reports.new_zeros(reports.shape[1])
    return (torch.stack([mean(labels[:, j] == 1) for j in range(labels.shape[1])]),
            torch.stack([mean(labels[:, j] == 0) for j in range(labels.shape[1])]))


if __name__ == "__main__":
    sys.exit(main())
