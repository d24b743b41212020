"""Studies over many runs: sweeps and comparisons against the papers' released data."""
