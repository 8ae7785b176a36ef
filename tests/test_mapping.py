"""Layers and networks onto macros: tiles, macros and utilisation by hand; block-diagonal depthwise
packing; multi-bit cells; fits / reload decisions; replication.

The reference macro is 128 x 128 cells, INT8 weights, 1 bit per cell: 8 columns per weight, 16 weights
per row, 16384 cells per macro.
"""

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from imcsim.circuit.macro import MacroConfig, TileUse, layer_cost
from imcsim.device.library import load_device
from imcsim.errors import SpecError
from imcsim.mapping import map_layer, map_network, step_cycles
from imcsim.workload.graph import GraphBuilder


@pytest.fixture(scope="module")
def macro():
    return MacroConfig(load_device("sas-mram"), rows=128, cols=128, rows_parallel=64, sense_amps=128)


def _conv(in_ch, out_ch, k, hw=8, groups=1, stride=1):
    b = GraphBuilder("t", (in_ch, hw, hw))
    name = b.conv(b.input, out_ch, k, stride=stride, groups=groups, name="c")
    return b.build()[name]


def test_dense_conv_by_hand(macro):
    # 3x3 conv 16 -> 32 on 8x8 (pad 1): K = 16 x 9 = 144 rows, N = 32, M = 64 positions
    lm = map_layer(_conv(16, 32, 3), macro)
    assert (lm.scheme, lm.k, lm.n, lm.m) == ("dense", 144, 32, 64)
    # row tiles ceil(144 / 128) = 2, column tiles ceil(32 / 16) = 2 -> 4 macros
    assert (lm.row_tiles, lm.col_tiles, lm.macros) == (2, 2, 4)
    # 4608 weights x 8 cells = 36864 of 4 x 16384 cells = 0.5625
    assert lm.weights == 4608 and lm.cells_used == 36864
    assert lm.utilisation == pytest.approx(36864 / 65536)
    assert lm.mvm_steps_per_sample == 64 and lm.macs_per_sample == 64 * 4608
    # tiles: 2 full-height (128 rows x 16 weights = 128 columns), 2 remainders (16 rows)
    assert lm.tiles == (TileUse(128, 128, 2048, 2), TileUse(16, 128, 256, 2))


def test_linear_by_hand(macro):
    lm = map_layer(_linear(100, 10), macro)
    # K = 100 rows, N = 10 outputs x 8 columns = 80 columns: one macro, 8000 of 16384 cells
    assert (lm.row_tiles, lm.col_tiles, lm.macros, lm.m) == (1, 1, 1, 1)
    assert lm.utilisation == pytest.approx(8000 / 16384)
    assert lm.tiles == (TileUse(100, 80, 1000, 1),)
    # tokens: a linear on (T, D) = (12, 100) runs one step per token
    assert map_layer(_linear(100, 10, tokens=12), macro).m == 12


def _linear(d_in, d_out, tokens=None):
    b = GraphBuilder("t", (tokens, d_in) if tokens else (d_in,))
    name = b.linear(b.input, d_out, name="fc")
    return b.build()[name]


def test_conv_with_several_row_and_column_tiles(macro):
    # 3x3 conv 64 -> 64: K = 576 -> 4 full row tiles + 64 rows; N = 64 -> 4 column tiles; 20 macros
    lm = map_layer(_conv(64, 64, 3), macro)
    assert (lm.row_tiles, lm.col_tiles, lm.macros) == (5, 4, 20)
    # 576 x 64 x 8 = 294912 cells of 20 x 16384 = 327680 -> 0.9
    assert lm.utilisation == pytest.approx(0.9)
    assert lm.tiles == (TileUse(128, 128, 2048, 16), TileUse(64, 128, 1024, 4))
    # one step of the slowest tile: 8 planes x ceil(128 / 64) x ceil(128 / 128) = 16 cycles
    assert step_cycles(lm, macro) == 16


def test_depthwise_is_packed_block_diagonally(macro):
    # depthwise 3x3 over 32 channels: per channel K = 9 rows, N = 1 weight = 8 columns
    node = _conv(32, 32, 3, groups=32)
    assert node.is_depthwise
    lm = map_layer(node, macro)
    assert lm.scheme == "block_diagonal" and (lm.k, lm.n, lm.groups) == (9, 1, 32)
    # channels per macro: min(128 // 9 = 14, 16 weights per row // 1) = 14 -> ceil(32 / 14) = 3 macros
    assert lm.groups_per_macro == 14 and lm.macros == 3
    # footprints: 14 channels = 126 rows x 112 columns (x2 macros), 4 channels = 36 rows x 32 columns
    assert lm.tiles == (TileUse(126, 112, 126, 2), TileUse(36, 32, 36, 1))
    # cells: 32 x 9 x 8 = 2304 of 3 x 16384 -> 4.7 % (a dense mapping of the 288 x 32 zero-padded
    # block-diagonal matrix would take ceil(288/128) x ceil(32/16) = 6 macros, 2.3 %)
    assert lm.utilisation == pytest.approx(2304 / 49152)


def test_grouped_conv_packs_or_tiles(macro):
    # 1x1 conv 32 -> 32 in 8 groups: blocks of K = 4 rows x N = 4 weights; min(128 // 4, 16 // 4) = 4
    # groups per macro -> 2 macros, each 16 rows x 128 columns holding 4 x 16 = 64 weights
    lm = map_layer(_conv(32, 32, 1, groups=8), macro)
    assert (lm.scheme, lm.groups_per_macro, lm.macros) == ("block_diagonal", 4, 2)
    assert lm.tiles == (TileUse(16, 128, 64, 2),)
    # 3x3 conv 64 -> 64 in 4 groups: K = 16 x 9 = 144 > 128 rows: each group tiled on its own,
    # 2 row tiles x 1 column tile (16 outputs) -> 4 x 2 = 8 macros
    lm = map_layer(_conv(64, 64, 3, groups=4), macro)
    assert (lm.scheme, lm.row_tiles, lm.col_tiles, lm.macros) == ("group_tiled", 2, 1, 8)
    assert lm.tiles == (TileUse(128, 128, 2048, 4), TileUse(16, 128, 256, 4))


def test_multibit_cells(macro):
    # ReRAM with 2 bits per cell: an INT8 weight spans 4 columns, 32 weights per row
    m2 = MacroConfig(load_device("reram"), rows=128, cols=128, rows_parallel=64, sense_amps=128, bits_per_cell=2)
    lm = map_layer(_conv(64, 64, 3), m2)
    # K = 576 -> 5 row tiles; N = 64 -> ceil(64 / 32) = 2 column tiles -> 10 macros (half of 1 bit per cell)
    assert (lm.cols_per_weight, lm.row_tiles, lm.col_tiles, lm.macros) == (4, 5, 2, 10)
    # 576 x 64 x 4 = 147456 cells of 10 x 16384 -> 0.9
    assert lm.cells_used == 147456 and lm.utilisation == pytest.approx(0.9)


def test_not_mappable_op(macro):
    b = GraphBuilder("t", (4, 8, 8))
    p = b.pool(b.input, "max", 2, name="p")
    with pytest.raises(SpecError, match="cannot be mapped"):
        map_layer(b.build()[p], macro)


def test_layer_cost_from_a_mapping(macro):
    lm = map_layer(_conv(16, 32, 3), macro)
    cost = layer_cost(macro, lm.tiles, lm.mvm_steps_per_sample)
    assert cost.macros == lm.macros and cost.macs == lm.macs_per_sample


# ---------------------------------------------------------------------------------------------- networks
def _chain(widths):
    """Linear layers d0 -> d1 -> ...; layer i takes ceil(d_i / 128) x ceil(d_{i+1} / 16) macros."""
    b = GraphBuilder("chain", (widths[0],))
    x = b.input
    for i, w in enumerate(widths[1:]):
        x = b.linear(x, w, name=f"l{i}")
    return b.build()


def test_fits_when_the_budget_holds_every_layer(macro):
    # l0: 640 -> 16: 5 x 1 = 5 macros; l1: 16 -> 48: 1 x 3 = 3; l2: 48 -> 48: 1 x 3 = 3 (11 in all)
    g = _chain([640, 16, 48, 48])
    nm = map_network(g, macro, n_macros=11)
    assert [lm.macros for lm in nm.layers] == [5, 3, 3]
    assert nm.fits and nm.macros_required == 11 and nm.reloaded == () and nm.reload_weights == 0
    assert nm.resident == ("l0", "l1", "l2")


def test_the_mapping_reads_only_its_macro_fields(macro):
    # engine/context.py shares a mapping between macros that agree on MACRO_FIELDS (other devices, clocks,
    # nodes): one that differs in everything else must map alike, one that differs in a listed field must not
    from imcsim.mapping.network import MACRO_FIELDS

    g = _chain([640, 16, 48, 48])
    other = MacroConfig(load_device("stt-mram"), rows=128, cols=128, rows_parallel=64, sense_amps=128, node_nm=22.0,
                        clock_mhz=200.0, organisation="weight_column", activity_model="toggle")
    assert [getattr(other, f) for f in MACRO_FIELDS] == [getattr(macro, f) for f in MACRO_FIELDS]
    assert map_network(g, other, n_macros=10, replicate=True) == map_network(g, macro, n_macros=10, replicate=True)
    assert map_network(g, other, n_macros=11, replicate=True) == map_network(g, macro, n_macros=11, replicate=True)
    slower = MacroConfig(load_device("sas-mram"), rows=128, cols=128, rows_parallel=32, sense_amps=128)
    assert map_network(g, slower, n_macros=20, replicate=True) != map_network(g, macro, n_macros=20, replicate=True)


def test_reload_decision_for_a_small_graph(macro):
    g = _chain([640, 16, 48, 48])
    nm = map_network(g, macro, n_macros=10)
    # pool = min(ceil(10 / 2) = 5, largest layer 5) = 5; 5 macros for residents, first fit in forward
    # order: l0 (5) fits -> 0 left; l1, l2 streamed. Largest streamed is 3 -> pool shrinks to 3, 2 macros
    # free again: neither l1 nor l2 (3 each) fits -> stable.
    assert not nm.fits
    assert nm.resident == ("l0",) and nm.reloaded == ("l1", "l2") and nm.pool_macros == 3
    # reloaded per pass: 16 x 48 + 48 x 48 = 768 + 2304 = 3072 weights, x 8 cells
    assert nm.reload_weights == 3072 and nm.reload_cells == 3072 * 8
    assert nm.reload_rounds == {"l1": 1, "l2": 1}
    assert nm.macros_used == 5 + 3


def test_streamed_layer_larger_than_the_pool_runs_in_rounds(macro):
    # l0: 128 -> 16 = 1 macro; l1: 16 -> 320 = 20 macros; l2: 320 -> 16 = 3 macros (24 in all), budget 10:
    # pool = min(5, 20) = 5; residents in 5: l0 (1) -> 4 left, l1 no, l2 (3) -> 1 left; streamed l1:
    # pool stays 5 and l1 runs in ceil(20 / 5) = 4 rounds
    nm = map_network(_chain([128, 16, 320, 16]), macro, n_macros=10)
    assert nm.resident == ("l0", "l2") and nm.reloaded == ("l1",)
    assert nm.pool_macros == 5 and nm.reload_rounds == {"l1": 4} and nm.reload_weights == 16 * 320


def test_replication_balances_the_pipeline(macro):
    # a: 3x3 conv 4 -> 8 on 8x8: K = 36, 1 macro, step = 8 x ceil(36/64) x 1 = 8 cycles, M = 64 -> 512
    # b: 3x3 conv 8 -> 16, stride 2: K = 72, 1 macro, step = 8 x 2 x 1 = 16 cycles, M = 16 -> 256
    b = GraphBuilder("pipe", (4, 8, 8))
    x = b.conv(b.input, 8, 3, name="a")
    b.conv(x, 16, 3, stride=2, name="b")
    g = b.build()
    nm = map_network(g, macro, n_macros=4, replicate=True)
    # spare 2: a (512) -> 2 copies (256; ties with b, the earlier layer wins) -> 3 copies (ceil(64/3) x 8 = 176);
    # spare 0, b (256) cannot be copied: stop
    assert nm.step_cycles == {"a": 8, "b": 16}
    assert nm.replicas == {"a": 3, "b": 1}
    assert nm.layer_cycles("a") == 176 and nm.bottleneck == "b" and nm.macros_used == 4
    # without replication every layer has one copy
    assert map_network(g, macro, n_macros=4).replicas == {"a": 1, "b": 1}


def test_replication_stops_when_a_copy_does_not_help(macro):
    # a single vector linear layer: M = 1, another copy cannot make it faster
    nm = map_network(_chain([128, 16]), macro, n_macros=50, replicate=True)
    assert nm.replicas == {"l0": 1}


def test_accepts_a_training_step_object_and_lists_attention(macro):
    class Step:  # stands in for workload.step.TrainingStep: only .graph is used
        def __init__(self, graph):
            self.graph = graph

    g = _chain([640, 16])
    assert map_network(Step(g), macro, 10).layers[0].name == "l0"
    # attention scores are activation x activation: not on macros, but reported
    b = GraphBuilder("attn", (4, 16))
    q = b.linear(b.input, 16, name="q")
    k = b.linear(b.input, 16, name="k")
    b.matmul(q, k, "qk", heads=2, name="scores")
    nm = map_network(b.build(), macro, 10)
    assert [lm.name for lm in nm.layers] == ["q", "k"] and nm.not_on_macros == ("scores",)
    with pytest.raises(SpecError):
        map_network(object(), macro, 10)
    with pytest.raises(SpecError, match="n_macros"):
        map_network(g, macro, 0)


def test_functional_activity_prices_a_mapped_layer(macro):
    """End to end: the bit-serial kernel's Activity, the mapping's tiles and the macro cost agree on counts.

    For a layer on one dense tile (K = 8 x 9 = 72 rows, N = 16 weights = 128 columns), every input 1-bit
    presented reads each used column once, so summed over the M = 36 steps the reads are exactly
    sum(input_ones) x 128, and the adder tree sees exactly sum(and_ones) one-products.
    """
    import numpy as np

    from imcsim.circuit.bitserial import conv2d

    rng = np.random.default_rng(7)
    node = _conv(8, 16, 3, hw=6)
    x = rng.integers(0, 256, size=(1, 8, 6, 6))
    w = rng.integers(-128, 128, size=(16, 8, 3, 3))
    _, act = conv2d(x, w, padding=1, in_signed=False)
    lm = map_layer(node, macro)
    assert lm.tiles == (TileUse(72, 128, 1152, 1),) and lm.m == 36
    assert act.input_slots == 36 * 72 and act.and_slots == lm.macs_per_sample
    cost = layer_cost(macro, lm.tiles, lm.mvm_steps_per_sample, activity=act)
    dev = macro.device
    reads = act.input_ones.sum() * 128
    assert cost.energy.cell_read_pj == pytest.approx(reads * dev.read_energy_per_bit_fj * dev.and_energy_factor * 1e-3)
    # 64-input 1-bit trees: 120 full adders per 64 input bits, 3.4 fJ each at the 28 nm anchor
    assert cost.energy.adder_tree_pj == pytest.approx(act.and_ones.sum() * 120 / 64 * 3.4e-3)
    assert cost.activity.source == "functional run"


# ---------------------------------------------------------------------------------------------- one placement, any access
def _reference_mapping(g, macro, n_macros, replicate):
    """map_network as it was written before the placement was shared across access times: every step's cycles
    taken from mvm_cycles at the macro's own access, tile by tile in plain Python, and the replication and the
    reload policy run on those."""
    from imcsim.circuit.macro import mvm_cycles
    from imcsim.mapping.network import NetworkMapping, _layers_of, _replicate, _residency

    layers, _, not_on_macros = _layers_of(g, macro)
    cycles = {lm.name: max(int(mvm_cycles(t.rows_used, t.cols_used, macro.rows_parallel, macro.sense_amps,
                                          macro.in_bits, macro.access_cycles, macro.input_bits_per_cycle))
                           for t in lm.tiles) for lm in layers}
    required = sum(lm.macros for lm in layers)
    replicas = {lm.name: 1 for lm in layers}
    common = dict(layers=layers, n_macros=n_macros, macros_required=required, replicas=replicas,
                  step_cycles=cycles, not_on_macros=not_on_macros, macro_cells=macro.rows * macro.cols)
    if required <= n_macros:
        if replicate:
            _replicate(layers, cycles, replicas, n_macros - required)
        return NetworkMapping(fits=True, resident=tuple(lm.name for lm in layers), reloaded=(), pool_macros=0,
                              reload_rounds={}, notes=(), **common)
    resident, pool = _residency(layers, n_macros)
    reloaded = tuple(lm.name for lm in layers if lm.name not in resident)
    return NetworkMapping(fits=False, resident=tuple(lm.name for lm in layers if lm.name in resident),
                          reloaded=reloaded, pool_macros=pool,
                          reload_rounds={n: -(-layers[[lm.name for lm in layers].index(n)].macros // pool)
                                         for n in reloaded},
                          notes=("replication skipped: the network does not fit in the budget",) if replicate else (),
                          **common)


def _graphs():
    from imcsim.workload.zoo import build

    b = GraphBuilder("pipe", (4, 8, 8))
    x = b.conv(b.input, 8, 3, name="a")
    b.conv(x, 16, 3, stride=2, name="b")
    return {"resnet18": build("resnet18"), "mobilenetv2": build("mobilenetv2"), "pipe": b.build(),
            "chain": _chain([640, 16, 48, 48, 200, 10])}


_GRAPHS = {}


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(("resnet18", "mobilenetv2", "pipe", "chain")), st.sampled_from((16, 32, 64, 100, 128, 256, 512)),
       st.sampled_from((8, 16, 32, 64, 100, 128, 256, 512)), st.integers(1, 4), st.integers(1, 8), st.integers(1, 2),
       st.sampled_from(("sas-mram", "stt-mram", "reram", "pcm", "sram")), st.sampled_from((100.0, 500.0, 1000.0, 2500.0)),
       st.integers(1, 4000), st.booleans(), st.data())
def test_one_placement_serves_every_access_time(name, rows, cols, bits, in_bits, ibpc, device, clock, n_macros,
                                               replicate, data):
    # the placement made once at a one-cycle access and scaled (NetworkMapping.at_access) equals the mapping
    # made with the macro's own access cycles, field by field, and so do its bottleneck and per-layer records
    if not _GRAPHS:
        _GRAPHS.update(_graphs())
    g = _GRAPHS[name]
    cpw = -(-8 // bits)
    assume(cols >= cpw)
    rp = data.draw(st.integers(1, rows))
    sense = data.draw(st.sampled_from(sorted({cols, max(1, cols // 2), max(1, cols // 4), max(1, cols // 8)})))
    macro = MacroConfig(load_device(device), rows=rows, cols=cols, rows_parallel=rp, sense_amps=sense,
                        in_bits=in_bits, bits_per_cell=bits, clock_mhz=clock, input_bits_per_cycle=ibpc)
    got = map_network(g, macro, n_macros, replicate=replicate)
    want = _reference_mapping(g, macro, n_macros, replicate)
    assert got == want
    assert got.bottleneck == want.bottleneck and got.records() == want.records()
    assert got.summary() == want.summary()
