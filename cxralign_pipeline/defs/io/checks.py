"""Gates on the ingested tables; ``rejected_inputs`` only warns (nothing reads it downstream)."""

from cxralign_pipeline.defs.io.assets import dicom_images
from cxralign_pipeline.lib.checks import expectations_check

images_expectations = expectations_check(dicom_images, "images")
reports_expectations = expectations_check(dicom_images, "reports")
rejected_inputs_expectations = expectations_check(dicom_images, "rejected_inputs", blocking=False)
