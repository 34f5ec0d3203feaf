"""Gate on the region boxes, which pairing reads."""

from cxralign_pipeline.defs.anatomy.assets import anatomy_boxes
from cxralign_pipeline.lib.checks import expectations_check

boxes_expectations = expectations_check(anatomy_boxes, "boxes")
