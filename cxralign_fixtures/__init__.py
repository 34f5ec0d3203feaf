"""Test and benchmark fixtures built from the library's stages (not part of the library: the
source-data package ``cxralign.synthetic`` must not depend on later stages)."""
