"""Pre-training: the data pipeline from the catalog to model batches, the training loop with
exact resume, DDP under torchrun, and the ``pretrain`` command (see ``loop.pretrain``)."""
