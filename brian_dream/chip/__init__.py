"""The simulated DYNAP-SE chip: neuron and synapse models, biases, networks, placement, energy."""
