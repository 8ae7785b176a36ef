"""Samples that stop at different timesteps on the SimPy layer pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from imcsim.errors import SpecError
from imcsim.snn.cost import activity_from_rates, load_hardware, snn_cost
from imcsim.snn.network import snn_form
from imcsim.snn.spec import ExitSpec, NeuronSpec
from imcsim.snn.timeline import exits_from_histogram, link_excess_cycles, max_in_flight, simulate
from imcsim.workload import zoo


@pytest.fixture(scope="module")
def vgg():
    hw = load_hardware()
    net = snn_form(zoo.build("vgg16-cifar"))
    sc = snn_cost(hw, net, NeuronSpec(), activity_from_rates(net, 4), 4, ExitSpec(rule="entropy", threshold=0.5))
    return net, sc


def test_stages_add_up_to_the_timestep(vgg):
    _, sc = vgg
    assert all(sum(c for _, c in st) == pytest.approx(step.cycles) for st, step in zip(sc.stages, sc.steps))


def test_one_in_flight_is_the_sequential_sum(vgg):
    _, sc = vgg
    exits = [1, 2, 4, 1, 3]
    tl = simulate(sc, exits, in_flight=1)
    # without overlap every sample takes at_exit(t) cycles (once + t steps + min(t, 3) exit evaluations), plus
    # what the links take beyond the priced cycles in each timestep's crossings, the rounding to whole cycles
    # (link_excess_cycles, by hand in test_snn_noc.py; the same every timestep at a constant rate)
    extra = link_excess_cycles(sc)
    assert extra > 0 and all(link_excess_cycles(sc, t) == extra for t in (2, 3, 4))
    expect = [sc.at_exit(t).cycles + t * extra for t in exits]
    assert tl.latencies_cycles.tolist() == pytest.approx(expect) and tl.makespan_cycles == pytest.approx(sum(expect))


def test_pipelining_across_samples_and_early_exits(vgg):
    net, sc = vgg
    # VGG-16: 276,480 neurons x 2 B = 552,960 B of membranes per sample; 64 x 64 KiB = 4,194,304 B -> 7 samples
    assert net.total_neurons == 276_480 and max_in_flight(sc, net.total_neurons, 16) == 7
    static = simulate(sc, [4] * 16, in_flight=7, evaluated=False)
    one = simulate(sc, [4] * 16, in_flight=1, evaluated=False)
    # overlap helps, but never beats the busiest layer's total load (NoC stages hold links, not one resource)
    load: dict[str, float] = {}
    for st in sc.stages:
        for r, c in st:
            if not r.startswith("noc:"):
                load[r] = load.get(r, 0.0) + c * 16
    assert max(load.values()) <= static.makespan_cycles < one.makespan_cycles
    dynamic = simulate(sc, exits_from_histogram([0.54, 0.46, 0.0, 0.0], 16), in_flight=7)
    assert dynamic.makespan_cycles < 0.6 * static.makespan_cycles
    assert dynamic.throughput_per_s > static.throughput_per_s


def test_exits_from_histogram_and_bad_input(vgg):
    _, sc = vgg
    e = exits_from_histogram([0.54, 0.46, 0.0, 0.0], 50)
    assert np.bincount(e, minlength=5)[1:].tolist() == [27, 23, 0, 0]  # 27.0 and 23.0 exactly
    e = exits_from_histogram([0.25, 0.25, 0.25, 0.25], 6)  # 1.5 each: the remainders go to t = 1, 2
    assert sorted(np.bincount(e, minlength=5)[1:].tolist()) == [1, 1, 2, 2]
    with pytest.raises(SpecError, match="exit timesteps"):
        simulate(sc, [5], 1)
    with pytest.raises(SpecError, match="in_flight"):
        simulate(sc, [1], 0)
