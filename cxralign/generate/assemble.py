"""A report from per-slot sentences: findings in anatomical order, then an impression line.

The impression repeats the findings that state a present or hedged finding (how the phantom
and most real reports write it); a report with none gets the most frequent impression of the
training studies that state no finding. Deciding "abnormal" with the same triplet parser that
scores the result keeps the two consistent: an impression never contradicts its findings, and
findings that contradict each other are settled first (:mod:`cxralign.generate.consistency`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from cxralign.eval.clinical import POSITIVE
from cxralign.generate.consistency import consistent_sentences
from cxralign.text.pipeline import TripletParser


def states_finding(sentence: str, parser: TripletParser) -> bool:
    """Whether ``sentence`` states a present or uncertain finding."""
    return any(t.existence in POSITIVE for t in parser.parse(sentence))


def assemble_report(sentences: Sequence[str], parser: TripletParser,
                    normal_impression: str) -> str:
    """``sentences`` (already in slot order) without repeats or contradictions, then the
    impression line."""
    findings = consistent_sentences(list(dict.fromkeys(s for s in sentences if s)), parser)
    abnormal = [s for s in findings if states_finding(s, parser)]
    impression = " ".join(abnormal) if abnormal else normal_impression
    return " ".join([*findings, impression]).strip()


def most_frequent_normal_impression(impressions: Iterable[str | None],
                                    parser: TripletParser) -> str:
    """The commonest non-empty impression that states no finding ("" when there is none)."""
    counts = Counter(i.strip() for i in impressions if i and i.strip())
    return next((text for text, _ in counts.most_common() if not states_finding(text, parser)),
                "")
