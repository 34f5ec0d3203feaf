"""Stage pairs: triplets + boxes → region–sentence pairs and study tags (``cxralign.pairs``)."""
