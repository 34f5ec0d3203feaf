"""Encoders, alignment objectives and the pre-training model (see ``model.AlignmentModel``)."""
