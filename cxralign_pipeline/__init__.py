"""The Dagster half of cxralign: a ``dg`` project whose ``defs/`` has one folder per pipeline
stage, named like the library package it wraps (``cxralign/<stage>/``) and like its asset group.

The library (``cxralign``) never imports this package."""
