"""A phantom catalog with the generator's gold anatomy boxes: every table that pre-training
and evaluation read, built by the real pipeline functions.

The comparison the project is judged by (does ASG beat its baselines on grounding and
retrieval?) should measure the encoders, not the region detector, so this catalog takes its
boxes from the phantom ground truth (``source = gold``) rather than from a trained detector.
Everything else is the real pipeline: ``synthesize`` writes DICOM files and reports, ``ingest``
stages them (with a configurable held-out share of patients), the rule backend parses the
reports, and ``pairs`` links sentences to boxes, one catalog table per stage.
"""

from __future__ import annotations

from pathlib import Path

from cxralign.io.catalog import Catalog
from cxralign.io.ingest import IngestSettings, ingest
from cxralign.io.secret_key import resolve_key
from cxralign.layout import GROUND_TRUTH_DIR, incoming_dir
from cxralign.pairs.gold import gold_boxes_from_phantom
from cxralign.pairs.partitions import write_pairs
from cxralign.synthetic import synthesize
from cxralign.text.pipeline import load_parser, sections_table, sentences_table, triplets_table


def build_phantom_catalog(
    root: Path, studies: int, seed: int = 0, staged_size: int = 64,
    test_fraction: float = 0.2, validate_fraction: float = 0.0, workers: int = 1,
) -> Catalog:
    """Synthesize ``studies`` phantom studies under ``root/incoming`` and build every table
    pre-training and evaluation read in ``root/data`` (partition ``default``)."""
    root = Path(root)
    synthesize(incoming_dir(root), studies, seed=seed, workers=workers)
    catalog = Catalog(root / "data")
    settings = IngestSettings(workers=workers, staged_size=staged_size,
                              test_fraction=test_fraction, validate_fraction=validate_fraction)
    ingest(incoming_dir(root), catalog, settings)
    images = catalog.read_table("images")
    sections, _ = sections_table(catalog.read_table("reports"))
    sentences = sentences_table(sections)
    catalog.write_table("sections", sections)
    catalog.write_table("sentences", sentences)
    catalog.write_table("triplets", triplets_table(sentences, load_parser("rules")))
    key = resolve_key(catalog.root, settings.deid_key_env)
    catalog.write_table("boxes", gold_boxes_from_phantom(incoming_dir(root) / GROUND_TRUTH_DIR,
                                                         images, key))
    write_pairs(catalog, "default")
    return catalog
