"""How often generated reports state and deny one finding, before and after the consistency
rule (:mod:`cxralign.generate.consistency`), with saved generators on a phantom catalog.

For each generator directory: encode the held-out split with the generator's own encoder,
decode every selected slot once, and assemble each report twice — all sentences kept, and
denying sentences dropped. A report is contradictory when some sentence denies a finding
another sentence states (the rule's own definition, so after the rule none is; what the
figure shows is how often the decoder writes such pairs). The rule drops only negations, so
the positive findings the clinical-efficacy scores count cannot change; the script checks that
on the reports and prints BLEU-4 with the rule (the shipped reports).

Run: ``OMP_NUM_THREADS=2 python benchmarks/generation_consistency.py --data
/work/bench/p2000/data /work/bench/gen/p2000/asg/seed-0 ...``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from cxralign.eval.clinical import finding_sets, report_labels
from cxralign.generate.consistency import consistent_sentences
from cxralign.generate.data import encode_slots
from cxralign.generate.evaluation import score_reports
from cxralign.generate.generator import ReportGenerator
from cxralign.io.catalog import Catalog
from cxralign.models.model import AlignmentModel


def measure(generator_dir: Path, catalog: Catalog) -> dict[str, float]:
    generator = ReportGenerator.load(generator_dir)
    model = AlignmentModel.load(generator.encoder_dir)
    test = encode_slots(model, catalog, generator.settings.split, generator.settings.batch_size)
    sentences = generator.sentences(test)
    unique = [list(dict.fromkeys(s.text for s in slots)) for slots in sentences]
    contradictory = sum(len(consistent_sentences(texts, generator.parser)) < len(texts)
                        for texts in unique)
    reports = generator.assemble(sentences)
    unsettled = report_labels([" ".join(texts) for texts in unique], generator.parser)
    if finding_sets(report_labels(reports, generator.parser)) != finding_sets(unsettled):
        raise AssertionError("the consistency rule changed a report's positive findings")
    scores = score_reports(reports, test.references, generator.parser)
    return {"reports": len(unique), "contradictory_without_rule": contradictory / len(unique),
            "ce_f1_micro": scores["generation_ce_f1_micro"],
            "bleu4": scores["generation_bleu4"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("generators", type=Path, nargs="+")
    args = parser.parse_args()
    torch.set_num_threads(1)
    catalog = Catalog(args.data)
    for directory in args.generators:
        print(directory, json.dumps({k: round(v, 4) for k, v in
                                     measure(directory, catalog).items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
