"""Stage anatomy: the region detector and 29 boxes per image (``cxralign.anatomy``)."""
