"""Stage generate: region-guided report generation on a pre-trained encoder
(``cxralign.generate``)."""
