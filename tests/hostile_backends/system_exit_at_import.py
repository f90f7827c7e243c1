"""Hostile: raises SystemExit(0) while it is being imported."""

raise SystemExit(0)
