"""Per-finding binary labels of studies, read from their tag vectors (``study_tags`` rows).

A tag vector keeps ``present``, ``absent`` and ``uncertain`` as separate channels (see
``cxralign.pairs.tags``). Downstream tasks need one label per (study, finding):

* present → 1 (also when the report hedges elsewhere: a stated finding wins);
* uncertain only → by policy: ``ignore`` → -1 (left out of that finding's AUC and probe),
  ``positive`` → 1, ``negative`` → 0;
* absent or never mentioned → 0 (a report that does not mention a finding is read as
  negative for it, the usual CheXpert-style convention).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from cxralign.pairs.tags import TAG_COUNT, tag_position
from cxralign.vocabulary import FINDINGS

IGNORE: Final = -1
UNCERTAIN_POLICIES: Final = {"ignore": IGNORE, "positive": 1, "negative": 0}


def finding_labels(tags: np.ndarray, uncertain: str) -> np.ndarray:
    """``(N, len(FINDINGS))`` int8 labels in {1, 0, -1} (-1 = ignore) of ``(N, 78)`` tag
    vectors (``cxralign.pairs.tags.study_tag_matrix`` rows)."""
    if uncertain not in UNCERTAIN_POLICIES:
        raise ValueError(f"uncertain must be one of {sorted(UNCERTAIN_POLICIES)}")
    tags = np.asarray(tags).reshape(-1, TAG_COUNT)
    present = tags[:, [tag_position(f, "present") for f in FINDINGS]] > 0
    hedged = tags[:, [tag_position(f, "uncertain") for f in FINDINGS]] > 0
    labels = np.zeros(present.shape, dtype=np.int8)
    labels[hedged & ~present] = UNCERTAIN_POLICIES[uncertain]
    labels[present] = 1
    return labels
