"""Report text: sections, sentences, and <region, finding, existence> triplets.

The table-level API the Dagster assets call lives in :mod:`cxralign.text.pipeline`; the rule
backend in :mod:`cxralign.text.triplets`, the stanza backend in
:mod:`cxralign.text.stanza_backend`.
"""
