"""cxralign: anatomy-aware chest X-ray image-text pre-training, as a library.

Everything that computes lives here; the Dagster assets in ``cxralign_pipeline/defs/`` are thin
wrappers that call these functions and record metadata. Nothing in this package imports Dagster.
"""

__version__ = "0.1.0"
