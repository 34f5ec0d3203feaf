"""Region-guided report generation (RGRG-style): per anatomical region of a frozen pre-trained
encoder, a selection head decides whether the region gets a sentence and a small transformer
decoder writes it; the report is the selected regions' sentences in anatomical order plus an
impression line. The decoder and its WordPiece vocabulary are trained from the catalog's own
reports, so nothing is downloaded."""
