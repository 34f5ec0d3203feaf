"""The embedded default dataset: phantom chest radiographs as real DICOM files, with reports
written like real ones and exact ground truth (anatomical region boxes, lesion boxes, and which
sentence states which finding where).

``synthesize(out_dir, studies, seed)`` writes a MIMIC-CXR-style folder; see
:mod:`cxralign.synthetic.generate` for the layout and tables.
"""

from cxralign.synthetic.generate import SynthesisSummary, synthesize

__all__ = ["SynthesisSummary", "synthesize"]
