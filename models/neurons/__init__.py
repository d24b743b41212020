"""Neuron parameter sets: one YAML file per named set, physical quantities with units."""
