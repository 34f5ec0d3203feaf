"""``benchmarks/evaluation_table.py``: the RESULTS.md table of a metrics.json, where a one-seed
row shows no spread and no gap to it counts as shown."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "evaluation_table", Path(__file__).parents[2] / "benchmarks" / "evaluation_table.py")
evaluation_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(evaluation_table)


def _entry(values: list[float], std: float | None) -> dict:
    return {"mean": sum(values) / len(values), "std": std, "seeds": list(range(len(values))),
            "values": values}


def test_gap_is_shown_only_beyond_two_std_of_two_seed_rows():
    asg = _entry([0.60, 0.62], 0.0141)
    assert evaluation_table.gap_verdict(asg, _entry([0.30, 0.32], 0.0141)) == "+0.300 (shown)"
    assert evaluation_table.gap_verdict(asg, _entry([0.58, 0.60], 0.0141)) == (
        "+0.020 (not shown)")


def test_one_seed_row_reads_n_a_and_its_gap_is_not_shown():
    asg, convirt = _entry([0.60, 0.62], 0.0141), _entry([0.30], None)
    assert evaluation_table.gap_verdict(asg, convirt) == "+0.310 (not shown (one seed))"
    metrics = {"asg": {"grounding_top1": asg}, "convirt": {"grounding_top1": convirt},
               "chance": {"grounding_top1": 0.25},
               "trivial": {"grounding_top1": {"value": 0.4, "method": "prior"}}}
    assert evaluation_table.table(metrics).splitlines()[-1] == (
        "| grounding_top1 | 0.250 | 0.400 | 0.610 ± 0.014 | 0.300 ± n/a | "
        "+0.310 (not shown (one seed)) |")


def test_the_detector_start_row_sits_between_the_recipes_and_random_init():
    metrics = {"asg": {"grounding_top1": _entry([0.6, 0.6], 0.0)},
               "random-init": {"grounding_top1": _entry([0.1, 0.1], 0.0)},
               "detector-start": {"grounding_top1": _entry([0.2, 0.2], 0.0)},
               "chance": {"grounding_top1": 0.25}, "trivial": {}}
    header = evaluation_table.table(metrics).splitlines()[0]
    assert header == ("| metric | chance | trivial | asg | detector-start | random-init | "
                      "asg − detector-start | asg − random-init |")
