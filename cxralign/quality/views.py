"""Tables shaped for a suite: the columns an expectation needs that no stage table stores.

great-expectations checks one table at a time, so properties that span tables (does a report
have usable sections? is the evidence span inside its sentence?) are computed here first.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def sections_coverage(reports: pa.Table, sections: pa.Table) -> pa.Table:
    """One row per ingested report: its study id and whether findings or impression has text.

    Reports the section stage rejected count as without content, so a batch of empty reports
    fails the suite instead of passing with zero rows.
    """
    has_text = lambda column: pc.fill_null(pc.greater(pc.utf8_length(sections[column]), 0), False)  # noqa: E731
    content = pc.or_(has_text("findings"), has_text("impression"))
    with_content = set(pc.filter(sections["study_id"], content).to_pylist())
    study_ids = reports["study_id"].to_pylist()
    return pa.table({
        "study_id": study_ids,
        "has_content": [study in with_content for study in study_ids],
    })


def triplets_with_evidence(triplets: pa.Table, sentences: pa.Table) -> pa.Table:
    """Triplets plus ``evidence_in_sentence``: the evidence is a substring of its sentence."""
    text_of = {
        (study, index): text
        for study, index, text in zip(
            sentences["study_id"].to_pylist(), sentences["sentence_index"].to_pylist(),
            sentences["text"].to_pylist(), strict=True,
        )
    }
    inside = [
        evidence is not None and evidence in text_of.get((study, index), "")
        for study, index, evidence in zip(
            triplets["study_id"].to_pylist(), triplets["sentence_index"].to_pylist(),
            triplets["evidence"].to_pylist(), strict=True,
        )
    ]
    return triplets.append_column("evidence_in_sentence", pa.array(inside, pa.bool_()))
