"""Stage io: incoming batches → de-identified tables and staged arrays (``cxralign.io``)."""
