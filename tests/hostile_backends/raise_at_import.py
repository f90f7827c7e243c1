"""Hostile: raises RuntimeError while it is being imported."""

raise RuntimeError("this backend refuses to load")
