"""Check on the evaluation metrics: the last stage, nothing downstream to stop, so it warns."""

from cxralign_pipeline.defs.eval.assets import downstream_evaluation
from cxralign_pipeline.lib.checks import expectations_check

evaluation_metrics_expectations = expectations_check(
    downstream_evaluation, "evaluation_metrics", blocking=False)
