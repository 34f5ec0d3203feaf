"""Report text: sections, sentences, <region, finding, existence> triplets, and report findings.

The table-level API the Dagster assets call lives in :mod:`cxralign.text.pipeline`; the rule
backend in :mod:`cxralign.text.triplets`, the stanza backend in
:mod:`cxralign.text.stanza_backend`; which positive findings are report labels (the calibrated
second stage, ``report_findings``) in :mod:`cxralign.text.calibration`.
"""
