"""Stage text: reports → sections, sentences, triplets (``cxralign.text``)."""
