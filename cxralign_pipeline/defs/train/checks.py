"""Gate on every model's training log, which evaluation trusts."""

from cxralign_pipeline.defs.train.assets import pretrained_model
from cxralign_pipeline.lib.checks import expectations_check

training_log_expectations = expectations_check(pretrained_model, "training_log")
