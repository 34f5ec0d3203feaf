"""Stage train: one pre-trained model per recipe and seed, through Pipes (``cxralign.train``)."""
