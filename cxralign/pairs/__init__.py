"""Region ↔ sentence pairs, per-study tag vectors and soft-label targets (ASG's alignment data).

``pairs_table`` links every report sentence to the anatomical boxes (or the whole image) it
talks about; ``study_tags_table`` and ``soft_targets`` give the tag-recognition and soft-label
contrastive losses their targets; ``gold_boxes_from_phantom`` and ``phantom_agreement`` check
the whole chain against the phantom generator's ground truth.
"""

from cxralign.pairs.agreement import AgreementReport, agreement_report, phantom_agreement
from cxralign.pairs.alignment import PAIR_KINDS, PAIRS_SCHEMA, pairs_table
from cxralign.pairs.drawing import draw_pairs
from cxralign.pairs.gold import gold_boxes_from_phantom
from cxralign.pairs.soft_labels import soft_targets, tag_similarity
from cxralign.pairs.tags import (
    STUDY_TAGS_SCHEMA,
    TAG_COUNT,
    study_tag_matrix,
    study_tags_table,
    tag_index,
    tag_vector,
)

__all__ = [
    "PAIRS_SCHEMA", "PAIR_KINDS", "STUDY_TAGS_SCHEMA", "TAG_COUNT", "AgreementReport",
    "agreement_report", "draw_pairs", "gold_boxes_from_phantom", "pairs_table",
    "phantom_agreement", "soft_targets", "study_tag_matrix", "study_tags_table", "tag_index",
    "tag_similarity", "tag_vector",
]
