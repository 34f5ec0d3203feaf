"""Downstream evaluation of pre-trained encoders: retrieval, zero-shot classification, linear
probing, region grounding, lung segmentation and report generation (the region-guided
generator of :mod:`cxralign.generate` beside its nearest-neighbour and most-frequent
baselines), compared across recipes and seeds (``cxralign evaluate``, asset
``downstream_evaluation``).

Every metric is reported beside its chance level and a trivial baseline (``chance`` holds the
exact chance levels and prior rankings). Metric modules (``retrieval``, ``zero_shot``,
``probe``, ``grounding``, ``segmentation``) work on embeddings and masks only; ``spread``
writes a std over seeds (none for one seed); ``labels`` (parser labels) and ``truth`` (phantom
ground truth) label the images; ``encode`` runs a model, ``evaluate`` ties one model's tasks
together, ``run`` several models, and ``report`` writes the outputs.
"""
