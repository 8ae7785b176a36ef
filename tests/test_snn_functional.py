"""The SNN on the bit-serial kernels: bit-exact against the integer reference, the neuron by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imcsim.errors import SpecError
from imcsim.snn.cost import activity_from_rates, load_hardware, snn_cost
from imcsim.snn.functional import run_snn
from imcsim.snn.network import snn_form
from imcsim.snn.neuron import neuron_step
from imcsim.snn.spec import NeuronSpec
from imcsim.workload.graph import GraphBuilder


def test_lif_neuron_by_hand():
    # LIF, tau = 1/2 (shift 1), threshold 10, hard reset; currents 8, 8, 8, -3 on one neuron:
    #   t1: u = 0 >> 1 + 8 = 8   -> no spike
    #   t2: u = 8 >> 1 + 8 = 12  -> spike (12 > 10), reset to 0
    #   t3: u = 0 + 8 = 8        -> no spike
    #   t4: u = 8 >> 1 - 3 = 1   -> no spike
    lif = NeuronSpec(kind="lif", threshold=10, leak_shift=1, reset="hard")
    u, seen = np.zeros(1, dtype=np.int64), []
    for i in (8, 8, 8, -3):
        u, s = neuron_step(u, np.array([i]), lif, 10)
        seen.append((int(u[0]), int(s[0])))
    assert seen == [(8, 0), (0, 1), (8, 0), (1, 0)]
    # IF with soft reset: 8, 16 -> spike, 16 - 10 = 6; 14 -> spike, 4; -7 >> nothing: 4 - 3 = 1
    if_soft = NeuronSpec(kind="if", threshold=10, reset="soft")
    u, seen = np.zeros(1, dtype=np.int64), []
    for i in (8, 8, 8, -3):
        u, s = neuron_step(u, np.array([i]), if_soft, 10)
        seen.append((int(u[0]), int(s[0])))
    assert seen == [(8, 0), (6, 1), (4, 1), (1, 0)]
    # a membrane of 4 bits saturates at 7 (and -8); floor shift of a negative membrane: -3 >> 1 = -2
    u, s = neuron_step(np.array([0, -3]), np.array([100, 0]), NeuronSpec(kind="lif", membrane_bits=4), 50)
    assert u.tolist() == [7, -2] and s.tolist() == [0, 0]


def _graph(ch: int, hw: int, classes: int, residual: bool):
    b = GraphBuilder("snn-test", (3, hw, hw))
    x = b.act(b.norm(b.conv(b.input, ch, 3, name="c0"), "bn", name="bn0"), "relu", name="s0")
    if residual:
        with b.block("blk", "basic", x, "identity"):
            y = b.act(b.conv(x, ch, 3, name="c1"), "relu", name="s1")
            x = b.act(b.add(b.conv(y, ch, 3, name="c2"), x, name="add"), "relu", name="s2")
    x = b.pool(x, "avg", 2, name="p")
    x = b.act(b.conv(x, ch, 3, stride=2, name="c3"), "relu", name="s3")
    x = b.pool(x, "max", 2, name="mp") if hw >= 8 else x
    x = b.flatten(b.global_pool(x, "avg", name="gp"), name="fl")
    b.linear(x, classes, bias=False, name="fc", tags=("classifier",))
    return b.build()


def _weights(net, rng):
    w = {}
    for layer in net.layers:
        a = layer.node.attrs
        shape = ((a["out_ch"], a["in_ch"] // a["groups"], *a["kernel"]) if layer.node.op == "conv"
                 else (a["out_features"], a["in_features"]))
        w[layer.name] = rng.integers(-128, 128, shape)
    return w


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), ch=st.sampled_from([4, 8, 16]), hw=st.sampled_from([6, 8]),
       residual=st.booleans(), kind=st.sampled_from(["if", "lif"]), reset=st.sampled_from(["hard", "soft"]),
       timesteps=st.integers(1, 4), membrane_bits=st.sampled_from([8, 16, 24]),
       init=st.sampled_from(["zero", "half-threshold"]))
def test_kernels_bit_exact_against_the_reference(seed, ch, hw, residual, kind, reset, timesteps, membrane_bits,
                                                 init):
    rng = np.random.default_rng(seed)
    net = snn_form(_graph(ch, hw, 5, residual))
    weights = _weights(net, rng)
    image = rng.integers(0, 256, (2, 3, hw, hw))
    neuron = NeuronSpec(kind=kind, reset=reset, membrane_bits=membrane_bits, initial_membrane=init)
    th = {n: int(rng.integers(1, 2000)) for n in net.neurons}
    a = run_snn(net, weights, image, timesteps, neuron, th)
    b = run_snn(net, weights, image, timesteps, neuron, th, kernel="reference")
    assert np.array_equal(a.outputs, b.outputs)
    assert all(np.array_equal(a.spikes[k], b.spikes[k]) for k in a.spikes)
    # the kernels' activity counts the spikes: a layer fed by spikes sees its source's firing rate
    c1 = net.layer("c3")  # fed by an average pool: counts 0..4 in 3 planes
    assert c1.input == "counts" and a.activity["c3"][0].in_bits == 3
    if residual:
        rate = a.spike_rates()["s0"]
        dens = [act.mean_input_density for act in a.activity["blk.c1"]]
        # c1 reads s0's spikes through 3x3 windows with zero padding: density <= rate x (positions / slots)
        assert all(d <= r + 1e-12 for d, r in zip(dens, rate))


def test_measured_activity_prices_the_run():
    rng = np.random.default_rng(1)
    net = snn_form(_graph(8, 8, 4, True))
    run = run_snn(net, _weights(net, rng), rng.integers(0, 256, (3, 3, 8, 8)), 3, NeuronSpec(),
                  {n: 1500 for n in net.neurons})
    table = run.activity_table()
    assert table.source == "functional run" and len(table.layer_densities["c0"]) == 1
    assert run.activity["c0"][0].in_bits == 8  # the image layer's measured planes: price it at 8
    hw = load_hardware()
    measured = snn_cost(hw, net, NeuronSpec(), table, 3)
    silent = snn_cost(hw, net, NeuronSpec(), activity_from_rates(net, 3, default_rate=0.0), 3)
    fired = sum(sum(v) for v in run.spikes.values())
    assert fired > 0 and measured.steps[0].energy_pj["cell_read"] > silent.steps[0].energy_pj["cell_read"]


def test_bad_runs_are_refused():
    rng = np.random.default_rng(2)
    net = snn_form(_graph(4, 6, 3, False))
    w = _weights(net, rng)
    with pytest.raises(SpecError, match="kernel"):
        run_snn(net, w, rng.integers(0, 256, (1, 3, 6, 6)), 2, NeuronSpec(), kernel="gpu")
    with pytest.raises(SpecError, match="timesteps"):
        run_snn(net, w, rng.integers(0, 256, (1, 3, 6, 6)), 0, NeuronSpec())
    del w["fc"]
    with pytest.raises(SpecError, match="weights for every"):
        run_snn(net, w, rng.integers(0, 256, (1, 3, 6, 6)), 2, NeuronSpec())


def test_direct_layer_priced_at_the_image_precision():
    net = snn_form(_graph(4, 6, 3, False))
    hw = load_hardware()
    table = activity_from_rates(net, 2)
    c8 = snn_cost(hw, net, NeuronSpec(), table, 2)
    c5 = snn_cost(hw, net, NeuronSpec(), table, 2, image_bits=5)
    # the direct-encoded layer reads 5 of the 8 input planes: 5/8 of its cell reads; timesteps unchanged
    assert c5.once.energy_pj["cell_read"] == pytest.approx(c8.once.energy_pj["cell_read"] * 5 / 8)
    assert c5.steps[0].total_pj == pytest.approx(c8.steps[0].total_pj)
    with pytest.raises(SpecError, match="image_bits"):
        snn_cost(hw, net, NeuronSpec(), table, 2, image_bits=9)
