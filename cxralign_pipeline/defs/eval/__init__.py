"""Stage eval: downstream evaluation of every model (``cxralign.eval``)."""
