"""Sweep specs for `brian-dream sweep`: conditions x parameter grid x seeds."""
