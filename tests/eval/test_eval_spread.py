"""The spread over model seeds: known answers, and one seed has none (not a std of 0)."""

import math

import pytest

from cxralign.eval.spread import mean_std, seed_std, two_std


def test_seed_std_is_the_sample_std_and_undefined_for_one_seed():
    assert seed_std([0.6, 0.8]) == pytest.approx(math.sqrt(0.02))
    assert seed_std([0.6]) is None
    assert seed_std([]) is None


def test_mean_std_writes_n_a_for_one_seed():
    assert mean_std(0.6504, 0.0712) == "0.650 ± 0.071"
    assert mean_std(0.6504, None) == "0.650 ± n/a"


def test_two_std_is_twice_the_larger_spread_and_none_for_a_one_seed_row():
    assert two_std({"std": 0.01}, {"std": 0.03}) == pytest.approx(0.06)
    assert two_std({"std": 0.01}, {"std": None}) is None
    assert two_std({"std": None}, {"std": 0.01}) is None
