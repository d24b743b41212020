# One command each: `make demo` sets everything up and runs a short Pong training;
# `make test` sets everything up and runs the test suite.
.PHONY: setup demo test benchmark clean reproduce

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

# The dreaming issue's main experiment (10 seeds x 2000 games, awake vs dream) and its report.
reproduce: setup
	.venv/bin/python scripts/dreaming_experiments.py --group main
