"""The RESULTS.md table of a phantom comparison: each headline metric's chance, trivial baseline
and the means ± std of the recipes and of the untrained baselines (detector-start, when the
models started from an anatomy detector, and random-init), and whether the primary recipe's gap
to each other row exceeds two standard deviations (the larger of the two rows' seed spreads), so
no gap is claimed that the seeds do not show. A row from one seed has no spread (``std: null``,
shown ``± n/a``): its gap is "not shown (one seed)", never compared against a std of 0.

Run: ``python benchmarks/evaluation_table.py benchmarks/.work/evaluation/report/metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cxralign.eval.run import DETECTOR_START, RANDOM_INIT
from cxralign.eval.spread import mean_std, two_std

HEADLINE = ["retrieval_i2t_r1_findings", "retrieval_t2i_r1_findings", "retrieval_i2t_r1_study",
            "retrieval_i2t_r10_study", "probe_auc_100", "probe_auc_10", "probe_auc_1",
            "zero_shot_auc", "grounding_top1"]


def gap_verdict(primary: dict, other: dict) -> str:
    """'+0.123 (shown)' when the gap exceeds two of the larger seed std, else '(not shown)';
    '(not shown (one seed))' when either row has no spread."""
    gap = primary["mean"] - other["mean"]
    margin = two_std(primary, other)
    if margin is None:
        return f"{gap:+.3f} (not shown (one seed))"
    return f"{gap:+.3f} ({'shown' if abs(gap) > margin else 'not shown'})"


def table(metrics: dict, primary: str = "asg") -> str:
    rows = [r for r in ("asg", "convirt", DETECTOR_START, RANDOM_INIT) if metrics.get(r)]
    others = [r for r in rows if r != primary]
    header = ["metric", "chance", "trivial", *rows, *(f"{primary} − {r}" for r in others)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in HEADLINE:
        if name not in metrics[primary]:
            continue
        trivial = metrics["trivial"].get(name, {}).get("value")
        cells = [name, f"{metrics['chance'].get(name, float('nan')):.3f}",
                 "" if trivial is None else f"{trivial:.3f}"]
        cells += [mean_std(metrics[r][name]["mean"], metrics[r][name]["std"]) for r in rows]
        cells += [gap_verdict(metrics[primary][name], metrics[r][name]) for r in others]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("metrics", type=Path)
    parser.add_argument("--primary", default="asg")
    args = parser.parse_args()
    print(table(json.loads(args.metrics.read_text(encoding="utf-8")), args.primary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
