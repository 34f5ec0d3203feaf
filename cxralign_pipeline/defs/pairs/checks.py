"""Gate on the region–sentence pairs, which training reads."""

from cxralign_pipeline.defs.pairs.assets import region_sentence_pairs
from cxralign_pipeline.lib.checks import expectations_check

pairs_expectations = expectations_check(region_sentence_pairs, "pairs")
