# One command each: `make demo` sets everything up and runs a short Pong training;
# `make test` sets everything up and runs the test suite.
.PHONY: setup demo test benchmark clean

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/brian-dream train --preset dynapse_pong --games 150 --seeds 4

test: setup
	.venv/bin/python -m pytest -q

benchmark: setup
	.venv/bin/python benchmarks/throughput.py

clean:
	rm -rf .venv runs
