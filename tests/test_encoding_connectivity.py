"""Population code and the chip's fan-in constraint."""

import numpy as np
import pytest

from brian_dream.chip.connectivity import block_diagonal, chip_fan_in
from brian_dream.learning.encoding import PopulationEncoder
from brian_dream.errors import ChipConstraintError


def test_population_code_matches_the_board_code():
    enc = PopulationEncoder(4, rate_quantum=0.0)
    assert enc.n_outputs == 40
    np.testing.assert_allclose(enc.centres, [-10, 16.6, 43.2, 69.8, 96.4, 123, 149.6, 176.2, 202.8, 229.4])
    assert enc.peak_rate == pytest.approx(139.63, abs=0.01)
    rates = enc(np.array([[123.0, 0, 0, 0]]))
    assert rates.shape == (1, 40)
    assert rates[0, 5] == pytest.approx(enc.peak_rate)
    # one sigma away: the Gaussian factor exp(-1/2)
    assert enc(np.array([[143.0, 0, 0, 0]]))[0, 5] == pytest.approx(enc.peak_rate * np.exp(-0.5))


def test_rate_quantum_rounds_down_to_fpga_multiples():
    enc = PopulationEncoder(4, rate_quantum=33.0)
    rates = enc(np.random.default_rng(0).uniform(0, 255, (50, 4)))
    assert np.allclose(rates % 33.0, 0)
    assert rates.max() == 132.0


def test_encoder_rejects_wrong_shape():
    with pytest.raises(ValueError, match="shape"):
        PopulationEncoder(4)(np.zeros((2, 3)))


@pytest.mark.parametrize("fan_in, max_mult", [(8, 4), (8, 1), (16, 4), (64, 4)])
def test_every_neuron_fills_its_cam_slots(fan_in, max_mult):
    pre, post, mult = chip_fan_in(80, 300, fan_in, max_mult, np.random.default_rng(1))
    assert np.all((mult >= 1) & (mult <= max_mult))
    slots = np.bincount(post, weights=mult, minlength=300)
    assert np.all(slots == fan_in)
    for j in range(300):
        sources = pre[post == j]
        assert len(set(sources)) == len(sources), "a chunk must go to a distinct input"


def test_multiplicities_cover_1_to_4():
    _, _, mult = chip_fan_in(40, 510, 8, 4, np.random.default_rng(2))
    assert set(np.unique(mult)) == {1, 2, 3, 4}


def test_fan_in_larger_than_inputs_is_refused():
    with pytest.raises(ChipConstraintError):
        chip_fan_in(5, 10, 8, 4, np.random.default_rng(0))


def test_block_diagonal_never_crosses_replicas():
    blocks = [chip_fan_in(40, 20, 8, 4, np.random.default_rng(s)) for s in range(3)]
    pre, post, _ = block_diagonal(blocks, 40, 20)
    assert np.array_equal(pre // 40, post // 20)
