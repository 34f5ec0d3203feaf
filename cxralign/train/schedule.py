"""Learning-rate schedule: linear warm-up to the peak, then cosine decay to a floor.

Warm-up keeps AdamW's first, badly estimated second moments from throwing freshly initialised
projection heads (and a pretrained text encoder) far off; the cosine tail lets the final
weights settle. Expressed as a multiplier of the peak rate for ``LambdaLR``, so the scheduler's
state is just its step count and resumes exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def warmup_cosine(total_steps: int, warmup_fraction: float, min_ratio: float
                  ) -> Callable[[int], float]:
    """Multiplier of the peak rate at optimiser step ``step`` (0-based) of ``total_steps``."""
    warmup = min(total_steps - 1, math.ceil(total_steps * warmup_fraction)) if total_steps > 1 else 0

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        decay_steps = max(1, total_steps - warmup - 1)
        progress = min(1.0, (step - warmup) / decay_steps)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor
