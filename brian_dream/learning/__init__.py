"""What learns: the policy readout, the world model's readouts, the input encoder."""
