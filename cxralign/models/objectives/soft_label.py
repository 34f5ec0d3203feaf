"""ASG's soft-label targets for the image–report contrast, as tensors.

Plain InfoNCE calls every other study of the batch a negative, although two reports stating the
same findings describe interchangeable images. ASG replaces the one-hot target by a mixture of
the identity and the studies' tag similarity. The mathematics lives in
:func:`cxralign.pairs.soft_labels.soft_targets` (one implementation for data checks and
training); this module only decides *which* tag vector enters it, because hedged findings must
be handled by an explicit policy (the same one tag recognition uses), never dropped silently.
"""

from __future__ import annotations

import torch

from cxralign.models.objectives.tag_recognition import UncertainMode, tag_targets
from cxralign.pairs.soft_labels import soft_targets


def similarity_tags(tags: torch.Tensor, uncertain: UncertainMode) -> torch.Tensor:
    """The tag vectors compared for soft labels under the ``uncertain`` policy: ``separate``
    keeps the uncertain channel, ``ignore`` removes it, ``positive``/``negative`` fold it into
    the present/absent channel (U-Ones/U-Zeros) before removing it."""
    targets, kept = tag_targets(tags, uncertain)
    return targets * kept


def soft_label_targets(tags: torch.Tensor, alpha: float, uncertain: UncertainMode
                       ) -> torch.Tensor:
    """``(N, N)`` row-stochastic targets ``(1-α)·I + α·rownorm(cos(tags))`` for ``N`` studies,
    on the device and in the dtype of ``tags``. Symmetric similarity means row ``i`` serves as
    the target of image ``i`` over reports and of report ``i`` over images."""
    tags = tags.detach()
    compared = similarity_tags(tags, uncertain).cpu().double().numpy()
    return torch.from_numpy(soft_targets(compared, alpha)).to(device=tags.device,
                                                              dtype=torch.float32)
