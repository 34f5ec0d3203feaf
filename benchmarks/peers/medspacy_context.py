"""The medspacy ConText peer of ``benchmarks/text.py``; runs in its own venv, never imports cxralign.

medspacy 1.3.1 pins spacy<3.8 (thinc built for numpy<2), so it cannot share the project's
environment: ``benchmarks/text.py`` builds ``benchmarks/.work/venv-medspacy`` from
``medspacy-requirements.txt`` and runs this script there, pinned to one core.

Input (a JSON file written by ``benchmarks/text.py``): ``targets``, the rule lexicon's finding
phrases (``phrase``, ``findings``, ``stem``: a trailing ``*`` matches the rest of the word), and
``reports``, each ``study_id`` with its findings+impression ``text``. The pipeline is medspacy's
default: PyRuSH sentences, a TargetMatcher with those phrases, ConText with its default rules.

Output, one JSON object on stdout: ``first_pass_end`` (wall clock when the first pass over all
reports finished, so the caller can time the whole process from its start), ``steady_s`` (best
of ``--repeats`` further passes), ``entities`` and, per study, the findings that are positive:
neither negated, hypothetical nor about family members (uncertain and historical count, as
they do for cxralign's evaluation).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

STEM_SUFFIX = r"\w*$"


def build_pipeline(targets: list[dict[str, Any]]) -> Any:
    """medspacy's default pipeline with one TargetRule per lexicon phrase (label: its findings)."""
    import medspacy
    from loguru import logger
    from medspacy.ner import TargetRule

    logger.disable("PyRuSH")  # PyRuSH logs every token at DEBUG, which would dominate the timing
    nlp = medspacy.load(
        medspacy_enable=["medspacy_pyrush", "medspacy_target_matcher", "medspacy_context"]
    )
    rules = []
    for target in targets:
        label = "|".join(target["findings"])
        if not target["stem"]:
            rules.append(TargetRule(target["phrase"], label))
            continue
        words = [token.lower_ for token in nlp.make_doc(target["phrase"])]
        pattern: list[dict[str, Any]] = [{"LOWER": word} for word in words[:-1]]
        pattern.append({"LOWER": {"REGEX": f"^{words[-1]}{STEM_SUFFIX}"}})
        rules.append(TargetRule(target["phrase"], label, pattern=pattern))
    nlp.get_pipe("medspacy_target_matcher").add(rules)
    return nlp


def positive_findings(doc: Any) -> list[str]:
    """Findings of the document's entities that ConText leaves asserted (or only uncertain)."""
    found = {
        finding
        for ent in doc.ents
        if not (ent._.is_negated or ent._.is_hypothetical or ent._.is_family)
        for finding in ent.label_.split("|")
    }
    return sorted(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path, help="JSON with targets and reports")
    parser.add_argument("--repeats", type=int, default=3, help="steady-state passes after the first")
    args = parser.parse_args()
    data = json.loads(args.input.read_text(encoding="utf-8"))
    texts = [report["text"] for report in data["reports"]]
    nlp = build_pipeline(data["targets"])
    docs = list(nlp.pipe(texts))
    first_pass_end = time.time()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        list(nlp.pipe(texts))
        times.append(time.perf_counter() - start)
    json.dump(
        {
            "first_pass_end": first_pass_end,
            "steady_s": min(times) if times else None,
            "entities": sum(len(doc.ents) for doc in docs),
            "findings": {
                report["study_id"]: positive_findings(doc)
                for report, doc in zip(data["reports"], docs, strict=True)
            },
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
