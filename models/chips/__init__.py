"""Chip data: per-event energy tables (YAML) for the energy estimate."""
