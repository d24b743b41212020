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

# The neuromorphic-dreaming experiment (10 seeds x 2000 games, no dreaming vs dreaming) and
# its report; run it again after an interruption to continue.
reproduce: setup
	.venv/bin/brian-dream sweep dreaming_main --jobs 2 --seed-groups 2 --out results
