"""Gates on the report-text tables: the next stage reads each, so each blocks."""

from cxralign_pipeline.defs.text.assets import report_sections, report_sentences, report_triplets
from cxralign_pipeline.lib.checks import expectations_check

sections_expectations = expectations_check(report_sections, "sections")
sentences_expectations = expectations_check(report_sentences, "sentences")
triplets_expectations = expectations_check(report_triplets, "triplets")
report_findings_expectations = expectations_check(report_triplets, "report_findings")
