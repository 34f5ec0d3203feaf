"""Reading studies (DICOM/PNG/JPEG images and their reports), de-identification, staging, and
the table store every stage writes through."""
