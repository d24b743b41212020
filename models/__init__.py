"""Presets users pick and edit: experiments (``*.yaml`` here) and neuron parameter sets (``neurons/``)."""
