"""Cycles, energy by component and area of the bit-serial digital IMC macro (DESIGN.md section 4).

The macro: ``rows x cols`` cells of one device. A weight of ``w_bits`` spans
``cols_per_weight = ceil(w_bits / bits_per_cell)`` adjacent columns. Each cycle the macro drives the
word lines of ``rows_parallel`` rows (only those whose input bit is 1: input-gated reads) and senses
``sense_amps`` columns (a column mux of ``cols / sense_amps``). Every sensed column is a *lane*: one
sense latch and one AND gate per active row, a popcount adder tree of ``rows_parallel`` inputs
(``bits_per_cell`` bits wide), and a shift-accumulator that adds the popcount at weight ``2^i`` (sign
of the input plane applied). When a column group is finished, the ``cols_per_weight`` lane sums of each
weight are combined (shift by the weight-bit position, signed) into the output.

Loop order of one matrix-vector (MVM) step: column groups (outer), row groups, input bit-planes (inner);
one cycle per (column group, row group, plane) -- or ``access_cycles`` cycles where the device read is
slower than the clock. Everything here is a pure function of numbers so that the analytic engine can
call it with numpy arrays of design points; the event engine and the reports call the same functions.
A cost has exactly one formula, here: count the events of a step (:func:`step_events`), then price them
(:func:`step_energy`).

Energy components of a step (pJ), with ``d_in`` the input-bit density and ``d_and`` the AND density:

- ``cell_read``: input-gated reads ``d_in x Bi x R x C`` x device read energy x AND factor. The AND
  is the gated read itself (docs/devices.md#in-memory-and option (a): a 0 input skips the word line, a 1 input reads
  the weight bit and the sensed bit is the product), so there is no AND gate per cell; the SRAM card's
  read *is* its local AND gate. One read per cell whatever its bits (the card's figure is per sensed
  cell). Cells of a sensed column on a driven row are read even when they hold no weight
  (block-diagonal packing, unused columns): the tile footprint ``R x C`` is read.
- ``sense_amp``: one sense per read; a multi-level cell needs ``2^bits_per_cell - 1`` latch
  comparisons (flash-style, A). Energy per latch from the device card (0 for SRAM: no sense amp).
- ``adder_tree``: AND products that are 1 (``d_and x Bi x Bw x weights``) x full adders per tree input
  bit x full-adder energy at 100 % activity: a tree input that is 0 switches nothing (A), so the tree
  energy follows the AND density. At d_and = 0.25 and a 64-row tree this is 1.6 fJ per 1-bit product,
  close to the 64 x 1.7 fJ of docs/devices.md#bit-serial-sanity-checks per INT8 MAC.
- ``shift_accumulate``: one accumulate (``acc_bits`` full adders at 50 % activity + ``acc_bits``
  register bits) per lane per cycle, plus ``cols_per_weight - 1`` combine adds per output per step.
- ``control``: word-line drive (``d_in x Bi x R x column groups`` pulses, each charging ``cols`` cells
  of word-line capacitance, T6) + per input bit presented, one input-register DFF write and one AND
  gate (input bit AND row select: the word-line gating). Decoders and clock tree are not modelled
  separately (A: small next to the word lines).
- ``leakage``: (cell leakage per bit x bits stored + periphery gates x gate leakage) x step time;
  non-volatile cards give ~0 cell leakage.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike

from imcsim.circuit.gates import GateSet, fastest_clock_mhz, gates_at
from imcsim.errors import SpecError
from imcsim.memo import IdentityMemo

COMPONENTS = ("cell_read", "sense_amp", "adder_tree", "shift_accumulate", "control", "leakage")
AREA_COMPONENTS = ("cells", "sense_amps", "adder_trees", "accumulators", "control")

#: How a column's bits are combined (docs/macro.md section 1): ``bit_column`` -- one popcount tree and one
#: shift-accumulator per sensed *bit* column, lane sums of a weight combined at the end of the step;
#: ``weight_column`` -- the cells of one weight sensed together, one bit-weighted adder tree over the
#: weight's bits and one accumulator per *weight* column (TSMC DIMC, Tu et al. 2022, ZigZag-IMC DIMC).
ORGANISATIONS = ("bit_column", "weight_column")
#: What the tree energy follows: ``activity`` -- tree inputs that are 1 (a 0 switches nothing, A);
#: ``data_independent`` -- every word line and every tree full adder every cycle at the gate table's
#: 50 % activity (the convention of models that charge every gate, T6); ``toggle`` -- tree inputs that
#: change between consecutive cycles (:mod:`imcsim.circuit.toggle`).
ACTIVITY_MODELS = ("activity", "data_independent", "toggle")
#: How a column group is selected when columns share a lane (sense_amps < cols): ``word_line`` -- the
#: row's word line is pulsed across all ``cols`` cells and S of them are sensed (NVM arrays: the word line
#: gates every cell's access transistor); ``local_mux`` -- ``cols / S`` cells share one compute entry
#: through a local mux and the input line reaches only the S entries (SRAM DIMC "cell groups", T6).
COLUMN_SELECTS = ("word_line", "local_mux")
#: A clock above the unpipelined critical path: ``auto`` cuts the adder tree with priced pipeline
#: registers; ``none`` refuses it (SpecError naming the highest clock).
PIPELINES = ("auto", "none")
#: Default toggle density of a tree input (A): independent bits, weight bit 1 with p = 0.5 and
#: consecutive input bits differing with p = 2 x 0.5 x 0.5 = 0.5, so 0.25.
DEFAULT_TOGGLE_DENSITY = 0.25

#: The activity assumed when no functional run is given (A): input bits are 1 with probability 0.5,
#: weight bits too, independently, so an AND product is 1 with probability 0.25.
DEFAULT_INPUT_DENSITY = 0.5
DEFAULT_AND_DENSITY = 0.25

_MACRO_FILE = "<macro>"


class DeviceLike(Protocol):
    """What the macro needs from a device model (``imcsim.device`` DeviceModel)."""

    name: str
    read_energy_per_bit_fj: float
    and_energy_factor: float
    read_latency_ns: float
    sense_amp_energy_fj: float
    bits_per_cell: int
    leakage_w_per_bit: float

    def cell_area_um2(self, node_nm: float) -> float: ...

    def leakage_w_per_bit_at(self, node_nm: float) -> float: ...


# ---------------------------------------------------------------------------------------------- helpers
# The formulas below are written once and take Python numbers or numpy arrays of design points. The
# helpers keep scalar calls in plain Python (a sweep prices every layer of every point; numpy on
# scalars costs ~1 us per operation) and broadcast over arrays.
def _is_scalar(x: Any) -> bool:
    return not isinstance(x, np.ndarray)


def _ceil_div(a: ArrayLike, b: ArrayLike) -> Any:
    """ceil(a / b) for non-negative numbers or arrays (exact for integers)."""
    return -(-a // b)


def _ceil(x: ArrayLike) -> Any:
    return float(math.ceil(x)) if _is_scalar(x) else np.ceil(x)


def _ceil_log2(n: ArrayLike) -> Any:
    """ceil(log2(max(n, 1)))."""
    if _is_scalar(n):
        return float(math.ceil(math.log2(max(n, 1.0))))
    return np.ceil(np.log2(np.maximum(np.asarray(n, dtype=float), 1.0)))


def _at_least(x: ArrayLike, lo: float) -> Any:
    return max(x, lo) if _is_scalar(x) else np.maximum(x, lo)


def _arr(x: ArrayLike) -> Any:
    """Lists and tuples become arrays; numbers and arrays pass through."""
    return np.asarray(x) if isinstance(x, (list, tuple)) else x


def _floats(x: ArrayLike) -> Any:
    """``x`` as float64: a Python float for a number, a float array for an array, list or tuple."""
    return np.asarray(x, dtype=float) if isinstance(x, (np.ndarray, list, tuple)) else float(x)


def _where(condition: ArrayLike, x: ArrayLike, y: ArrayLike) -> Any:
    """``x`` where ``condition`` holds, else ``y``: plain Python when all three are numbers, else np.where
    (broadcast over the design points)."""
    if _is_scalar(condition) and _is_scalar(x) and _is_scalar(y) and not isinstance(condition, (list, tuple)):
        return x if condition else y
    return np.where(np.asarray(condition, dtype=bool), x, y)


# ---------------------------------------------------------------------------------------------- geometry
def cols_per_weight(w_bits: ArrayLike, bits_per_cell: ArrayLike) -> Any:
    """Columns one weight occupies: ceil(w_bits / bits_per_cell)."""
    return _ceil_div(_arr(w_bits), _arr(bits_per_cell))


def weights_per_row(cols: ArrayLike, w_bits: ArrayLike, bits_per_cell: ArrayLike) -> Any:
    """Whole weights that fit side by side in one row (a weight is never split across macros)."""
    return _arr(cols) // cols_per_weight(w_bits, bits_per_cell)


def adder_tree_full_adders(n_inputs: ArrayLike, input_bits: ArrayLike) -> Any:
    """Full adders of a ripple-carry adder tree summing ``n_inputs`` numbers of ``input_bits`` bits.

    Level l of a binary tree has n/2^l adders of (input_bits + l - 1) bits, so the total is
    n (b + 1) - (b + d + 1) with d = ceil(log2 n) (exact for powers of two, close otherwise; the same
    count as the ZigZag-IMC DIMC model, T6). 64 one-bit inputs: 64 x 2 - (1 + 6 + 1) = 120.
    """
    n, b = _arr(n_inputs), _arr(input_bits)
    return _at_least(n * (b + 1.0) - (b + _ceil_log2(n) + 1.0), 0.0)


def input_cycles(in_bits: ArrayLike, input_bits_per_cycle: ArrayLike = 1) -> Any:
    """Cycles to present every input bit: ceil(in_bits / input bits per cycle) (2 bits: Booth radix-4)."""
    return _ceil_div(_arr(in_bits), _arr(input_bits_per_cycle))


def digit_density(input_density: ArrayLike, input_bits_per_cycle: ArrayLike = 1) -> Any:
    """Fraction of input digits that are non-zero, which is what gates a row's read: 1 - (1 - d)^k for
    k input bits per cycle (independent bits, A); d itself for one bit per cycle."""
    return 1.0 - (1.0 - _arr(input_density)) ** _arr(input_bits_per_cycle)


def tree_input_bits(organisation: str, bits_per_cell: ArrayLike, w_bits: ArrayLike,
                    input_bits_per_cycle: ArrayLike = 1) -> Any:
    """Width of one adder-tree input: the cell's bits (bit column) or the weight's bits (weight column),
    plus one bit for a 2-bit input digit (a Booth digit of +-2 doubles the partial product)."""
    base = _arr(bits_per_cell) if organisation == "bit_column" else _arr(w_bits)
    return base + (_arr(input_bits_per_cycle) - 1)


def lanes(organisation: str, sense_amps: ArrayLike, cols_per_weight_: ArrayLike) -> Any:
    """Adder trees (and accumulators) of the macro: one per sensed column (bit column) or one per sensed
    weight column (weight column: ``sense_amps / cols_per_weight``)."""
    if organisation == "bit_column":
        return _arr(sense_amps)
    return _arr(sense_amps) // _arr(cols_per_weight_)


def accumulator_bits(in_bits: ArrayLike, w_bits: ArrayLike, rows: ArrayLike) -> Any:
    """Accumulator width: the full dot product of one macro column, Bi + Bw + ceil(log2 rows)."""
    return _arr(in_bits) + _arr(w_bits) + _ceil_log2(_arr(rows))


# ---------------------------------------------------------------------------------------------- timing
def access_cycles(read_latency_ns: ArrayLike, clock_mhz: ArrayLike) -> Any:
    """Clock cycles one array access takes: ceil(read latency / clock period), at least 1.

    A read slower than the clock holds the bit lines for several cycles (it cannot be pipelined).
    """
    period_ns = 1e3 / _arr(clock_mhz)
    return _at_least(_ceil(_arr(read_latency_ns) / period_ns - 1e-9), 1.0)


def mvm_cycles(rows_used: ArrayLike, cols_used: ArrayLike, rows_parallel: ArrayLike, sense_amps: ArrayLike,
               in_bits: ArrayLike, access: ArrayLike = 1, input_bits_per_cycle: ArrayLike = 1) -> Any:
    """Cycles of one MVM step: ceil(Bi / bits per cycle) x ceil(rows_used / rows_parallel)
    x ceil(cols_used / sense_amps) x access.

    The pipeline fill (:func:`pipeline_depth_cycles`) is paid once per stream of steps, not per step.
    """
    return (input_cycles(in_bits, input_bits_per_cycle) * _ceil_div(_arr(rows_used), _arr(rows_parallel))
            * _ceil_div(_arr(cols_used), _arr(sense_amps)) * _arr(access))


def adder_tree_delay_ns(n_inputs: ArrayLike, input_bits: ArrayLike, gates: GateSet) -> Any:
    """Combinational delay of the ripple-carry adder tree (the T6 delay model).

    One sum path per level above the last, then the last level's carry ripple over its output width:
    (d - 1) t_sum + t_in->cout + (b + d - 2) t_cin->cout, d = ceil(log2 n); 0 for a single input.
    """
    b = _arr(input_bits)
    d = _ceil_log2(_arr(n_inputs))
    delay = ((d - 1) * gates.fa_in_to_sum_ns + gates.fa_in_to_cout_ns
             + _at_least(b + d - 2, 0.0) * gates.fa_cin_to_cout_ns)
    if _is_scalar(delay):
        return delay if d >= 1 else 0.0
    return np.where(d >= 1, delay, 0.0)


def accumulator_delay_ns(acc_bits: ArrayLike, gates: GateSet) -> Any:
    """Ripple-carry accumulate: t_in->cout + (acc_bits - 1) t_cin->cout."""
    return gates.fa_in_to_cout_ns + (_arr(acc_bits) - 1.0) * gates.fa_cin_to_cout_ns


def carry_save_accumulate_delay_ns(gates: GateSet) -> Any:
    """One carry-save accumulate per cycle: a full adder's input-to-sum path (2 XOR2); the carry is
    resolved once per stream (the fill below)."""
    return gates.fa_in_to_sum_ns


def max_unpipelined_clock_mhz(tree_delay_ns: ArrayLike, gates: GateSet) -> Any:
    """The highest clock at which the adder tree settles in one cycle and the carry-save accumulator
    takes one accumulate per cycle: 1e3 / max(tree delay, accumulate delay). The cell read is not on
    this path (a read slower than the clock takes :func:`access_cycles`); register set-up and clock
    skew are not modelled (A)."""
    crit = _at_least(_arr(tree_delay_ns), carry_save_accumulate_delay_ns(gates))
    return 1e3 / crit


def tree_stages(tree_delay_ns: ArrayLike, clock_mhz: ArrayLike) -> Any:
    """Register stages the adder tree is cut into at a clock: ceil(delay / period), at least 1."""
    period_ns = 1e3 / _arr(clock_mhz)
    return _at_least(_ceil(_arr(tree_delay_ns) / period_ns - 1e-9), 1.0)


def tree_pipeline_register_bits(n_inputs: int, input_bits: int, stages: int) -> int:
    """Register bits added inside ONE adder tree cut into ``stages`` stages (0 for one stage).

    Cut j of the ``stages - 1`` cuts sits after tree level l_j = round(j d / stages) (clamped to
    1 .. d, d = ceil(log2 n)), where ceil(n / 2^l) partial sums of (input_bits + l) bits are live; cuts
    past the last level (a clock faster than one level) register the root sum again (A: an even cut
    by levels, not by delay). Example: 64 one-bit inputs, 2 stages: one cut after level 3, 8 sums of
    4 bits = 32 register bits.
    """
    n, b, k = int(n_inputs), int(input_bits), int(stages)
    d = max(int(math.ceil(math.log2(max(n, 1)))), 0)
    if k <= 1 or d == 0:
        return 0
    bits = 0
    for j in range(1, k):
        lvl = min(d, max(1, round(j * d / k)))
        bits += -(-n // 2**lvl) * (b + lvl)
    return bits


def pipeline_depth_cycles(tree_delay_ns: ArrayLike, acc_delay_ns: ArrayLike, clock_mhz: ArrayLike) -> Any:
    """Fill latency of a stream: the adder tree and the accumulator are cut into as many register stages
    as the clock needs (ceil(delay / period), at least one each). A carry-save accumulator is assumed so
    that one accumulate per cycle is sustained."""
    period_ns = 1e3 / _arr(clock_mhz)
    tree = _at_least(_ceil(_arr(tree_delay_ns) / period_ns - 1e-9), 1.0)
    acc = _at_least(_ceil(_arr(acc_delay_ns) / period_ns - 1e-9), 1.0)
    return tree + acc


# ---------------------------------------------------------------------------------------------- events
@dataclass(frozen=True)
class StepEvents:
    """What one MVM step on one macro does (floats or numpy arrays of design points)."""

    cycles: Any         # core cycles, pipeline fill excluded
    cell_reads: Any     # input-gated cell reads (cells, not bits)
    and_ones: Any       # tree input bits that switch (1-products, or toggles, per the activity model)
    accumulates: Any    # accumulator add + register-write operations (lanes and output combines)
    wl_pulses: Any      # word-line activations
    input_bits: Any     # input bits latched into the input register
    tree_evals: Any = 0.0    # adder-tree evaluations (one per lane per cycle): clocks the tree's pipeline registers
    digit_selects: Any = 0.0  # weight bits put through a Booth digit select (2 input bits per cycle only)
    digits: Any = 0.0         # input digits Booth-encoded (2 input bits per cycle only)


def step_events(rows_used: ArrayLike, cols_used: ArrayLike, weights: ArrayLike, *, rows_parallel: ArrayLike,
                sense_amps: ArrayLike, in_bits: ArrayLike, w_bits: ArrayLike, bits_per_cell: ArrayLike,
                input_density: ArrayLike, and_density: ArrayLike, access: ArrayLike = 1,
                organisation: str = "bit_column", input_bits_per_cycle: int = 1) -> StepEvents:
    """Count the events of one MVM step over a tile footprint of ``rows_used x cols_used`` cells holding
    ``weights`` weights (equal to rows_used x cols_used / cols_per_weight for a dense tile, fewer for a
    block-diagonal one). ``and_density`` is per real weight-bit product (as counted by
    :class:`~imcsim.circuit.activity.Activity`); under the toggle model it is the toggle density.

    With k input bits per cycle a row is read when its k-bit digit is non-zero (:func:`digit_density`),
    ceil(Bi / k) times per step. Bit column: one accumulate per used column per cycle plus
    ``cols_per_weight - 1`` combines per output; weight column: one accumulate per weight column per
    cycle and no combines (the tree already weights the bits).
    """
    r, c, bi = _arr(rows_used), _arr(cols_used), _arr(in_bits)
    row_groups = _ceil_div(r, _arr(rows_parallel))
    col_groups = _ceil_div(c, _arr(sense_amps))
    cpw = cols_per_weight(w_bits, bits_per_cell)
    outputs = _ceil_div(c, cpw)
    ipc = int(input_bits_per_cycle)
    ic = input_cycles(bi, ipc)
    d_row = digit_density(input_density, ipc)
    reads = d_row * ic * r * c
    if organisation == "bit_column":
        evals = ic * row_groups * c
        accumulates = evals + outputs * (cpw - 1)
    else:
        evals = ic * row_groups * outputs
        accumulates = evals
    return StepEvents(
        cycles=mvm_cycles(r, c, rows_parallel, sense_amps, bi, access, ipc),
        cell_reads=reads,
        and_ones=_arr(and_density) * bi * _arr(w_bits) * _arr(weights),
        accumulates=accumulates,
        wl_pulses=d_row * ic * r * col_groups,
        input_bits=bi * r * col_groups,
        tree_evals=evals,
        digit_selects=reads * _arr(bits_per_cell) if ipc > 1 else 0.0,
        digits=ic * r * col_groups if ipc > 1 else 0.0,
    )


# ---------------------------------------------------------------------------------------------- energy
def cell_read_energy_pj(cell_reads: ArrayLike, read_energy_per_bit_fj: float, and_energy_factor: float) -> Any:
    """Input-gated reads x device read energy x AND factor (the gated read is the AND)."""
    return _arr(cell_reads) * read_energy_per_bit_fj * and_energy_factor * 1e-3


def sense_amp_energy_pj(cell_reads: ArrayLike, sense_amp_energy_fj: float, bits_per_cell: ArrayLike) -> Any:
    """One latch sense per read; 2^b - 1 comparisons for a b-bit cell (A: flash-style MLC sensing)."""
    return _arr(cell_reads) * (2.0 ** _arr(bits_per_cell) - 1) * sense_amp_energy_fj * 1e-3


def adder_tree_energy_pj(and_ones: ArrayLike, rows_parallel: ArrayLike, bits_per_cell: ArrayLike,
                         fa_full_fj: float) -> Any:
    """1-products x full adders per tree input bit x full-adder energy at 100 % activity.
    ``bits_per_cell`` is the tree input width (:func:`tree_input_bits`)."""
    p, b = _arr(rows_parallel), _arr(bits_per_cell)
    fa_per_input_bit = adder_tree_full_adders(p, b) / (p * b)
    return _arr(and_ones) * fa_per_input_bit * fa_full_fj * 1e-3


def shift_accumulate_energy_pj(accumulates: ArrayLike, acc_bits: ArrayLike, fa_fj: float, dff_fj: float) -> Any:
    """Accumulates x acc_bits x (full adder at 50 % activity + register bit write)."""
    return _arr(accumulates) * _arr(acc_bits) * (fa_fj + dff_fj) * 1e-3


def control_energy_pj(wl_pulses: ArrayLike, cols: ArrayLike, input_bits: ArrayLike, wl_per_cell_fj: float,
                      dff_fj: float, and_gate_fj: float) -> Any:
    """Word-line pulses x cols x word-line charge per cell + input bits x (register write + gating AND)."""
    return (_arr(wl_pulses) * _arr(cols) * wl_per_cell_fj + _arr(input_bits) * (dff_fj + and_gate_fj)) * 1e-3


def leakage_energy_pj(leakage_w: ArrayLike, cycles: ArrayLike, clock_mhz: ArrayLike) -> Any:
    """Leakage power x time: W x cycles / (MHz x 1e6) s -> pJ."""
    return _arr(leakage_w) * _arr(cycles) / (_arr(clock_mhz) * 1e6) * 1e12


@dataclass(frozen=True)
class EnergyBreakdown:
    """Energy by component in pJ (floats, or arrays over design points)."""

    cell_read_pj: Any = 0.0
    sense_amp_pj: Any = 0.0
    adder_tree_pj: Any = 0.0
    shift_accumulate_pj: Any = 0.0
    control_pj: Any = 0.0
    leakage_pj: Any = 0.0

    def values(self) -> tuple[Any, ...]:
        """The components in field order (``ENERGY_FIELDS``)."""
        return (self.cell_read_pj, self.sense_amp_pj, self.adder_tree_pj, self.shift_accumulate_pj,
                self.control_pj, self.leakage_pj)

    @property
    def total_pj(self) -> Any:
        return sum(self.values())

    def as_dict(self) -> dict[str, Any]:
        return dict(zip(ENERGY_FIELDS, self.values()))

    def __add__(self, other: EnergyBreakdown) -> EnergyBreakdown:
        return EnergyBreakdown(*(a + b for a, b in zip(self.values(), other.values())))

    def scaled(self, k: ArrayLike) -> EnergyBreakdown:
        return EnergyBreakdown(*(v * k for v in self.values()))


#: EnergyBreakdown's fields, in order (component name + "_pj").
ENERGY_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(EnergyBreakdown))
assert ENERGY_FIELDS == tuple(f"{c}_pj" for c in COMPONENTS)


@dataclass(frozen=True)
class MacroPrices:
    """Per-event prices of one macro design (device card + gate table at its node)."""

    read_energy_per_bit_fj: float
    and_energy_factor: float
    sense_amp_energy_fj: float
    and_gate_fj: float
    fa_full_fj: float
    fa_fj: float
    dff_fj: float
    wl_per_cell_fj: float
    leakage_w: float       # whole macro: cells + periphery
    clock_mhz: float
    xor_fj: float = 0.0    # Booth digit select / encoder gate (2 input bits per cycle)


def pipeline_register_energy_pj(tree_evals: ArrayLike, register_bits: ArrayLike, dff_fj: float) -> Any:
    """Tree evaluations x pipeline register bits of one tree x DFF bit write (every bit clocked, A)."""
    return _arr(tree_evals) * _arr(register_bits) * dff_fj * 1e-3


def booth_energy_pj(digit_selects: ArrayLike, digits: ArrayLike, xor_fj: float) -> Any:
    """2 input bits per cycle: one XOR2-equivalent select/negate per weight bit read, and two per
    input digit Booth-encoded (A: radix-4 encoder of 3 XOR-class gates shared by a row's columns)."""
    return (_arr(digit_selects) + 2.0 * _arr(digits)) * xor_fj * 1e-3


def step_energy(ev: StepEvents, prices: MacroPrices, *, cols: ArrayLike, rows_parallel: ArrayLike,
                bits_per_cell: ArrayLike, acc_bits: ArrayLike, tree_bits: ArrayLike | None = None,
                tree_register_bits: ArrayLike = 0) -> EnergyBreakdown:
    """Price the events of a step; the only place the component formulas are combined.

    ``tree_bits`` is the adder-tree input width (default ``bits_per_cell``: the bit-column tree);
    ``tree_register_bits`` the pipeline register bits of one tree (charged to ``adder_tree``); the Booth
    selects and encoders are charged to ``control``."""
    width = bits_per_cell if tree_bits is None else tree_bits
    tree = adder_tree_energy_pj(ev.and_ones, rows_parallel, width, prices.fa_full_fj)
    if not (_is_scalar(tree_register_bits) and tree_register_bits == 0):
        tree = tree + pipeline_register_energy_pj(ev.tree_evals, tree_register_bits, prices.dff_fj)
    control = control_energy_pj(ev.wl_pulses, cols, ev.input_bits, prices.wl_per_cell_fj, prices.dff_fj,
                                prices.and_gate_fj)
    if not (_is_scalar(prices.xor_fj) and prices.xor_fj == 0) and not (_is_scalar(ev.digits) and ev.digits == 0):
        control = control + booth_energy_pj(ev.digit_selects, ev.digits, prices.xor_fj)
    return EnergyBreakdown(
        cell_read_pj=cell_read_energy_pj(ev.cell_reads, prices.read_energy_per_bit_fj, prices.and_energy_factor),
        sense_amp_pj=sense_amp_energy_pj(ev.cell_reads, prices.sense_amp_energy_fj, bits_per_cell),
        adder_tree_pj=tree,
        shift_accumulate_pj=shift_accumulate_energy_pj(ev.accumulates, acc_bits, prices.fa_fj, prices.dff_fj),
        control_pj=control,
        leakage_pj=leakage_energy_pj(prices.leakage_w, ev.cycles, prices.clock_mhz),
    )


# ---------------------------------------------------------------------------------------------- area
@dataclass(frozen=True)
class AreaBreakdown:
    """Macro area by component in um^2."""

    cells_um2: Any = 0.0
    sense_amps_um2: Any = 0.0
    adder_trees_um2: Any = 0.0
    accumulators_um2: Any = 0.0
    control_um2: Any = 0.0

    @property
    def total_um2(self) -> Any:
        return sum(getattr(self, f.name) for f in fields(self))

    @property
    def total_mm2(self) -> Any:
        return self.total_um2 * 1e-6

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def periphery_counts(rows: ArrayLike, cols: ArrayLike, rows_parallel: ArrayLike, sense_amps: ArrayLike,
                     bits_per_cell: ArrayLike, acc_bits: ArrayLike, has_sense_amp: ArrayLike = True, *,
                     organisation: str = "bit_column", w_bits: ArrayLike = 8, input_bits_per_cycle: int = 1,
                     tree_register_bits: ArrayLike = 0) -> dict[str, Any]:
    """Gate counts of the periphery: latches, full adders, register bits, drivers.

    Every sensed column has rows_parallel x (2^b - 1) sense latches (none when the device reads through
    local logic, ``has_sense_amp`` False: the SRAM card). Lanes (:func:`lanes`: sensed columns, or
    sensed weight columns) each have one adder tree of :func:`tree_input_bits`-wide inputs, its
    pipeline registers (``tree_register_bits`` per tree) and one accumulator (acc_bits full adders +
    acc_bits register bits). Control: one word-line driver (with its input-gating AND) and one
    NAND2-equivalent decoder gate per row (A), an input register of rows_parallel bits, one
    NAND2-equivalent mux switch per column when columns are muxed (A); with 2 input bits per cycle, one
    XOR2 select per sensed cell bit of a parallel row and 2 XOR2 per encoder (one per parallel row).
    """
    s, p, b = _floats(sense_amps), _floats(rows_parallel), _floats(bits_per_cell)
    acc, cols_f, rows_f = _floats(acc_bits), _floats(cols), _floats(rows)
    n_lanes = _floats(lanes(organisation, s, cols_per_weight(_arr(w_bits), b)))
    width = _floats(tree_input_bits(organisation, b, _floats(w_bits), input_bits_per_cycle))
    booth = input_bits_per_cycle > 1
    return {
        "latches": _where(has_sense_amp, s * p * (2.0 ** b - 1), 0.0),
        "tree_full_adders": n_lanes * adder_tree_full_adders(p, width),
        "tree_register_bits": n_lanes * _floats(tree_register_bits),
        "acc_full_adders": n_lanes * acc,
        "acc_register_bits": n_lanes * acc,
        "input_register_bits": p,
        "wl_drivers": rows_f,
        "nand2_gates": rows_f + _where(s < cols_f, cols_f, 0.0),
        "xor2_gates": (s * p * b + 2.0 * p) if booth else 0.0 * p,   # none (zeros shaped like p)
    }


def macro_area(counts: dict[str, Any], cells: ArrayLike, cell_area_um2: float, gates: GateSet) -> AreaBreakdown:
    """Area from the gate counts (:func:`periphery_counts`) and the cell area of the device card."""
    return AreaBreakdown(
        cells_um2=_floats(cells) * cell_area_um2,
        sense_amps_um2=counts["latches"] * gates.sense_latch_area_um2,
        adder_trees_um2=(counts["tree_full_adders"] * gates.fa_area_um2
                         + counts["tree_register_bits"] * gates.dff_area_um2),
        accumulators_um2=counts["acc_full_adders"] * gates.fa_area_um2 + counts["acc_register_bits"] * gates.dff_area_um2,
        control_um2=(counts["wl_drivers"] * gates.wl_driver_area_um2 + counts["nand2_gates"] * gates.nand2_area_um2
                     + counts["input_register_bits"] * gates.dff_area_um2
                     + counts["xor2_gates"] * gates.xor2_area_um2),
    )


def periphery_leakage_w(counts: dict[str, Any], gates: GateSet) -> Any:
    """Leakage of the periphery: full adders, register bits and latches (a latch leaks like a DFF, an XOR2
    select like half a full adder, A)."""
    return ((counts["tree_full_adders"] + counts["acc_full_adders"] + 0.5 * counts["xor2_gates"]) * gates.fa_leak_w
            + (counts["acc_register_bits"] + counts["tree_register_bits"] + counts["input_register_bits"]
               + counts["latches"]) * gates.dff_leak_w)


# ---------------------------------------------------------------------------------------------- the macro
class cached_figure:  # noqa: N801 (a decorator, named like functools.cached_property)
    """A derived figure of an immutable object, computed on first use and kept in its ``__dict__`` (later reads
    are plain attribute look-ups): ``functools.cached_property`` without the lock Python 3.11 takes on every
    first use (~0.7 us of ~1 us; 3.12 dropped it). A sweep's every new macro computes some twenty figures. Two
    threads reading a figure first at once may both compute it; both get the same value."""

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.func(obj)
        return value


class periphery_figure(cached_figure):  # noqa: N801
    """A figure of the macro's periphery alone -- its geometry, precisions, organisation, node and clock, and
    whether the device senses through latches (:meth:`MacroConfig._periphery_key`), not the device's cells:
    made once per periphery and shared by the macros of every device (a sweep over devices builds each
    geometry's macro once per device). The first such figure a macro reads brings all of them."""

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        if "_making_periphery" in obj.__dict__:   # making them: each by its own function
            return super().__get__(obj, owner)
        figures = _PERIPHERY.get((), obj._periphery_key(), obj._periphery_figures)
        obj.__dict__.update(figures)
        return figures[self.name]


@dataclass(frozen=True)
class MacroConfig:
    """One macro design. ``bits_per_cell`` defaults to the device card's value.

    Build it from a device model (``imcsim.device.load_device``) or, for convenience, a device name.
    Invalid geometry raises :class:`SpecError` naming the field.
    """

    device: DeviceLike
    rows: int
    cols: int
    rows_parallel: int
    sense_amps: int
    in_bits: int = 8
    w_bits: int = 8
    bits_per_cell: int | None = None
    node_nm: float = 28.0
    clock_mhz: float = 500.0
    organisation: str = "bit_column"
    input_bits_per_cycle: int = 1
    activity_model: str = "activity"
    pipeline: str = "auto"
    column_select: str = "word_line"
    gates: GateSet = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.device, str):
            from imcsim.device.library import load_device

            object.__setattr__(self, "device", load_device(self.device))
        if self.bits_per_cell is None:
            object.__setattr__(self, "bits_per_cell", int(self.device.bits_per_cell))
        _check_int("rows", self.rows, 1, None)
        _check_int("cols", self.cols, 1, None)
        _check_int("rows_parallel", self.rows_parallel, 1, self.rows, "1 .. rows")
        _check_int("sense_amps", self.sense_amps, 1, self.cols, "1 .. cols (columns sensed per cycle)")
        _check_int("in_bits", self.in_bits, 1, 8)
        _check_int("w_bits", self.w_bits, 1, 8)
        _check_int("bits_per_cell", self.bits_per_cell, 1, 4)
        if self.cols_per_weight > self.cols:
            raise SpecError(_MACRO_FILE, "cols", self.cols, f">= {self.cols_per_weight} (columns of one weight)",
                            problem="too few columns for one weight:")
        for name in ("node_nm", "clock_mhz"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise SpecError(_MACRO_FILE, name, v, "a positive number")
        for name, allowed in (("organisation", ORGANISATIONS), ("activity_model", ACTIVITY_MODELS),
                              ("pipeline", PIPELINES), ("column_select", COLUMN_SELECTS)):
            if getattr(self, name) not in allowed:
                raise SpecError(_MACRO_FILE, name, getattr(self, name), ", ".join(allowed))
        _check_int("input_bits_per_cycle", self.input_bits_per_cycle, 1, 2, "1 or 2 (2: Booth radix-4 digits)")
        if self.organisation == "weight_column" and self.sense_amps % self.cols_per_weight:
            raise SpecError(_MACRO_FILE, "sense_amps", self.sense_amps,
                            f"a multiple of {self.cols_per_weight} (the columns of one weight)",
                            problem="a weight-column macro senses whole weights:")
        limit = fastest_clock_mhz(self.node_nm)
        if self.clock_mhz > limit:
            raise SpecError(_MACRO_FILE, "clock_mhz", self.clock_mhz, f"at most {limit:.0f} MHz at {self.node_nm:g} nm",
                            problem="faster than one full-adder pipeline stage allows:")
        object.__setattr__(self, "gates", gates_at(self.node_nm))
        if self.pipeline == "none" and self.clock_mhz > self.max_clock_mhz * (1 + 1e-9):
            raise SpecError(_MACRO_FILE, "clock_mhz", self.clock_mhz,
                            f"<= {self.max_clock_mhz:.4g} MHz (the unpipelined adder tree settles in "
                            f"{self.tree_delay_ns:.3g} ns), or pipeline 'auto' to add priced registers",
                            problem="clock too fast for an unpipelined macro:")

    @classmethod
    def from_spec(cls, spec: Any, node_nm: float, clock_mhz: float, device: DeviceLike | str | None = None
                  ) -> MacroConfig:
        """From an accelerator preset's ``macro`` section (``imcsim.config.accelerator.MacroSpec``)."""
        return cls(device=device if device is not None else spec.device, rows=spec.rows, cols=spec.cols,
                   rows_parallel=spec.rows_parallel_effective, sense_amps=spec.sense_amps, in_bits=spec.in_bits,
                   w_bits=spec.w_bits, bits_per_cell=spec.bits_per_cell, node_nm=node_nm, clock_mhz=clock_mhz,
                   organisation=spec.organisation,
                   input_bits_per_cycle=spec.input_bits_per_cycle,
                   activity_model=spec.activity_model,
                   pipeline=spec.pipeline, column_select=spec.column_select)

    # -------------------------------------------------------------- derived geometry and timing
    # The derived figures below depend on the (frozen) configuration only; they are cached on the
    # instance because the engine asks for them for every layer of every design point.
    @cached_figure
    def cols_per_weight(self) -> int:
        return int(cols_per_weight(self.w_bits, self.bits_per_cell))

    @cached_figure
    def weights_per_row(self) -> int:
        return int(weights_per_row(self.cols, self.w_bits, self.bits_per_cell))

    @property
    def weight_capacity(self) -> int:
        return self.rows * self.weights_per_row

    @periphery_figure
    def acc_bits(self) -> int:
        return int(accumulator_bits(self.in_bits, self.w_bits, self.rows))

    @cached_figure
    def access_cycles(self) -> int:
        return int(access_cycles(self.device.read_latency_ns, self.clock_mhz))

    @periphery_figure
    def tree_bits(self) -> int:
        """Width of one adder-tree input (:func:`tree_input_bits`)."""
        return int(tree_input_bits(self.organisation, self.bits_per_cell, self.w_bits, self.input_bits_per_cycle))

    @periphery_figure
    def lanes(self) -> int:
        """Adder trees of the macro (:func:`lanes`)."""
        return int(lanes(self.organisation, self.sense_amps, self.cols_per_weight))

    @periphery_figure
    def input_cycles(self) -> int:
        return int(input_cycles(self.in_bits, self.input_bits_per_cycle))

    @periphery_figure
    def tree_delay_ns(self) -> float:
        return float(adder_tree_delay_ns(self.rows_parallel, self.tree_bits, self.gates))

    @periphery_figure
    def max_clock_mhz(self) -> float:
        """Highest clock of the unpipelined macro (:func:`max_unpipelined_clock_mhz`)."""
        return float(max_unpipelined_clock_mhz(self.tree_delay_ns, self.gates))

    @periphery_figure
    def tree_stages(self) -> int:
        return int(tree_stages(self.tree_delay_ns, self.clock_mhz))

    @periphery_figure
    def tree_register_bits(self) -> int:
        """Pipeline register bits inside one adder tree at this clock (0 when unpipelined)."""
        return tree_pipeline_register_bits(self.rows_parallel, self.tree_bits, self.tree_stages)

    @periphery_figure
    def pipeline_depth_cycles(self) -> int:
        acc = accumulator_delay_ns(self.acc_bits, self.gates)
        return int(pipeline_depth_cycles(self.tree_delay_ns, acc, self.clock_mhz))

    @property
    def cycle_ns(self) -> float:
        return 1e3 / self.clock_mhz

    def _periphery_key(self) -> tuple:
        """What the periphery figures read (every input of their formulas)."""
        return (self.rows, self.cols, self.rows_parallel, self.sense_amps, self.in_bits, self.w_bits,
                self.bits_per_cell, self.node_nm, self.clock_mhz, self.organisation, self.input_bits_per_cycle,
                self._has_sense_amps)

    @property
    def _has_sense_amps(self) -> bool:
        """The device senses through latches (the SRAM card reads through local logic: none)."""
        return float(self.device.sense_amp_energy_fj) > 0

    def _periphery_figures(self) -> dict[str, Any]:
        """Every periphery figure of this macro, each made by its own function."""
        self.__dict__["_making_periphery"] = True
        try:
            return {name: getattr(self, name) for name in _PERIPHERY_FIGURES}
        finally:
            del self.__dict__["_making_periphery"]

    def counts(self) -> dict[str, Any]:
        return dict(self._counts)

    @periphery_figure
    def _counts(self) -> dict[str, Any]:
        return periphery_counts(self.rows, self.cols, self.rows_parallel, self.sense_amps, self.bits_per_cell,
                                self.acc_bits, has_sense_amp=self._has_sense_amps,
                                organisation=self.organisation, w_bits=self.w_bits,
                                input_bits_per_cycle=self.input_bits_per_cycle,
                                tree_register_bits=self.tree_register_bits)

    @periphery_figure
    def periphery_leakage_w(self) -> float:
        """Leakage of the periphery alone (what power gating an idle macro removes)."""
        return float(periphery_leakage_w(self._counts, self.gates))

    @cached_figure
    def cell_leakage_w(self) -> float:
        """Leakage of the macro's cells at its node (0 for non-volatile cells)."""
        return float(self.rows * self.cols * self.bits_per_cell * self.device.leakage_w_per_bit_at(self.node_nm))

    @cached_figure
    def leakage_w(self) -> float:
        return float(self.cell_leakage_w + self.periphery_leakage_w)

    @periphery_figure
    def wakeup_energy_pj(self) -> float:
        """Energy to wake the gated periphery once: every gate of it charged once (A) -- full adders and
        XOR2 selects at the full-adder 100 % figure, register bits and latches at the DFF write figure."""
        c, g = self._counts, self.gates
        fas = float(c["tree_full_adders"] + c["acc_full_adders"] + c["xor2_gates"])
        regs = float(c["acc_register_bits"] + c["tree_register_bits"] + c["input_register_bits"] + c["latches"])
        return (fas * g.fa_full_fj + regs * g.dff_fj) * 1e-3

    @cached_figure
    def prices(self) -> MacroPrices:
        g = self.gates
        d = self.device
        return MacroPrices(read_energy_per_bit_fj=float(d.read_energy_per_bit_fj),
                           and_energy_factor=float(d.and_energy_factor),
                           sense_amp_energy_fj=float(d.sense_amp_energy_fj), and_gate_fj=g.and_fj,
                           fa_full_fj=g.fa_full_fj, fa_fj=g.fa_fj, dff_fj=g.dff_fj, wl_per_cell_fj=g.wl_per_cell_fj,
                           leakage_w=self.leakage_w, clock_mhz=float(self.clock_mhz), xor_fj=g.xor_fj)

    def area(self) -> AreaBreakdown:
        return self._area

    @cached_figure
    def area_mm2(self) -> float:
        return float(self._area.total_mm2)

    @cached_figure
    def _area(self) -> AreaBreakdown:
        cell_um2 = _CELL_AREA.get((self.device,), (self.node_nm,), lambda: float(self.device.cell_area_um2(self.node_nm)))
        return macro_area(self._counts, self.rows * self.cols, cell_um2,
                          self.gates)

    # -------------------------------------------------------------- one step
    def step_events(self, rows_used: ArrayLike, cols_used: ArrayLike, weights: ArrayLike,
                    input_density: ArrayLike = DEFAULT_INPUT_DENSITY,
                    and_density: ArrayLike = DEFAULT_AND_DENSITY) -> StepEvents:
        return step_events(rows_used, cols_used, weights, rows_parallel=self.rows_parallel,
                           sense_amps=self.sense_amps, in_bits=self.in_bits, w_bits=self.w_bits,
                           bits_per_cell=self.bits_per_cell, input_density=input_density,
                           and_density=and_density, access=self.access_cycles, organisation=self.organisation,
                           input_bits_per_cycle=self.input_bits_per_cycle)

    def step_energy(self, events: StepEvents) -> EnergyBreakdown:
        line_cells = self.cols if self.column_select == "word_line" else self.sense_amps
        return step_energy(events, self.prices, cols=line_cells, rows_parallel=self.rows_parallel,
                           bits_per_cell=self.bits_per_cell, acc_bits=self.acc_bits, tree_bits=self.tree_bits,
                           tree_register_bits=self.tree_register_bits)

    def tile_step(self, rows_used: int, cols_used: int, weights: int, input_density: float,
                  and_density: float) -> tuple[float, tuple[float, ...]]:
        """(cycles, energy components in ``ENERGY_FIELDS`` order) of one step on one tile footprint.

        Memoised on the instance: the layers of a network share a few tile shapes (full arrays and
        remainders), and a sweep prices every layer of every design point.
        """
        key = (rows_used, cols_used, weights, input_density, and_density)
        hit = self._tile_steps.get(key)
        if hit is None:
            ev = self.step_events(rows_used, cols_used, weights, input_density, and_density)
            hit = self._tile_steps[key] = (float(ev.cycles), tuple(map(float, self.step_energy(ev).values())))
        return hit

    @cached_figure
    def _tile_steps(self) -> dict[tuple, tuple[float, tuple[float, ...]]]:
        return {}

    def dense_tile(self) -> TileUse:
        """The whole array filled with weights (the peak workload)."""
        wpr = self.weights_per_row
        return TileUse(rows_used=self.rows, cols_used=wpr * self.cols_per_weight, weights=self.rows * wpr, count=1)

    def describe(self) -> dict[str, Any]:
        """The configuration as one flat record (unit-suffixed keys)."""
        return {"device": self.device.name, "rows": self.rows, "cols": self.cols,
                "rows_parallel": self.rows_parallel, "sense_amps": self.sense_amps, "in_bits": self.in_bits,
                "w_bits": self.w_bits, "bits_per_cell": self.bits_per_cell, "cols_per_weight": self.cols_per_weight,
                "node_nm": self.node_nm, "gate_regime": self.gates.regime, "vdd_v": self.gates.vdd_v,
                "organisation": self.organisation, "input_bits_per_cycle": self.input_bits_per_cycle,
                "activity_model": self.activity_model, "clock_mhz": self.clock_mhz,
                "max_unpipelined_clock_mhz": self.max_clock_mhz, "tree_delay_ns": self.tree_delay_ns,
                "pipeline": self.pipeline, "tree_stages": self.tree_stages, "column_select": self.column_select,
                "tree_pipeline_register_bits": self.tree_register_bits * self.lanes,
                "access_cycles": self.access_cycles, "lanes": self.lanes, "tree_input_bits": self.tree_bits,
                "acc_bits": self.acc_bits, "pipeline_depth_cycles": self.pipeline_depth_cycles,
                "weight_capacity": self.weight_capacity}


#: the figures kept by :class:`periphery_figure`, and those of each periphery (shared by every device's macro)
_PERIPHERY_FIGURES = tuple(name for name, v in vars(MacroConfig).items() if isinstance(v, periphery_figure))
_PERIPHERY: IdentityMemo[dict[str, Any]] = IdentityMemo(1024)

#: a device's cell area at a node (technology's scaling curves, ~20 us): asked by every macro of a sweep
_CELL_AREA: IdentityMemo[float] = IdentityMemo(64)


def _check_int(name: str, value: Any, lo: int, hi: int | None, allowed: str | None = None) -> None:
    if value.__class__ is int and lo <= value and (hi is None or value <= hi):
        return   # the common case, decided without the general test below (every new macro checks seven)
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= lo
    if ok and hi is not None:
        ok = value <= hi
    if not ok:
        text = allowed or (f"an integer {lo} .. {hi}" if hi is not None else f"an integer >= {lo}")
        raise SpecError(_MACRO_FILE, name, value, text)


# ---------------------------------------------------------------------------------------------- layers
@dataclass(frozen=True)
class TileUse:
    """``count`` macros that each hold ``weights`` weights in a ``rows_used x cols_used`` footprint.

    The mapper (:mod:`imcsim.mapping`) describes a layer as a few such tile shapes (full tiles and the
    remainders); every macro of a layer runs the same number of MVM steps per sample.
    """

    rows_used: int
    cols_used: int
    weights: int
    count: int


@dataclass(frozen=True)
class ActivityAssumption:
    """The densities a cost was computed with, where they came from and which activity model used them.

    ``and_density`` is the switching density of a tree input bit: the 1-product density (``activity``),
    the toggle density (``toggle``) or 0.5 at every input (``data_independent``)."""

    input_density: float
    and_density: float
    source: str  # "functional run" | "default (A)" | ...
    model: str = "activity"


def activity_densities(activity: Any | None, in_bits: int, w_bits: int,
                       model: str = "activity") -> ActivityAssumption:
    """Mean densities of an :class:`~imcsim.circuit.activity.Activity` (or a
    :class:`~imcsim.circuit.toggle.ToggleActivity`) under an activity model, or the stated default.

    - ``activity``: the mean input and 1-product densities. The mean is exact for the energy: every
      plane (pair) has the same number of slots, and the energy is linear in the counts.
    - ``data_independent``: every word line driven (input density 1) and every tree input switching at
      the gate table's 50 % activity (density 0.5, so each full adder costs the 50 % figure once per
      cycle); a functional run is ignored.
    - ``toggle``: the input density as above; tree inputs switch when the product changes between
      consecutive cycles (``and_toggle_density`` of the run, default 0.25, A).
    """
    if model not in ACTIVITY_MODELS:
        raise SpecError(_MACRO_FILE, "activity_model", model, ", ".join(ACTIVITY_MODELS))
    if model == "data_independent":
        return ActivityAssumption(1.0, 0.5, "data-independent (every gate every cycle)", model)
    if activity is not None and (activity.in_bits != in_bits or activity.w_bits != w_bits):
        raise SpecError(_MACRO_FILE, "activity", f"{activity.in_bits}x{activity.w_bits} bits",
                        f"{in_bits}x{w_bits} bits (the macro's in_bits x w_bits)",
                        problem="activity precision does not match the macro:")
    if model == "toggle":
        d_in = DEFAULT_INPUT_DENSITY if activity is None else float(activity.mean_input_density)
        toggles = getattr(activity, "and_toggle_density", None)
        if toggles is None:
            return ActivityAssumption(d_in, DEFAULT_TOGGLE_DENSITY, "default toggles (A)", model)
        return ActivityAssumption(d_in, float(toggles), "functional run (toggles)", model)
    if activity is None:
        return ActivityAssumption(DEFAULT_INPUT_DENSITY, DEFAULT_AND_DENSITY, "default (A)", model)
    return ActivityAssumption(float(activity.mean_input_density), float(activity.mean_and_density),
                              "functional run", model)


@dataclass(frozen=True)
class Performance:
    """Throughput and efficiency of a macro (or a set of macros) on a workload."""

    ops: float             # 2 x MACs at the macro's precision
    latency_ns: float
    energy: EnergyBreakdown
    area_mm2: float
    in_bits: int
    w_bits: int

    @property
    def tops(self) -> float:
        return self.ops / self.latency_ns * 1e-3 if self.latency_ns else 0.0

    @property
    def tops_per_w(self) -> float:
        """ops / pJ = TOPS/W."""
        e = float(self.energy.total_pj)
        return self.ops / e if e else 0.0

    @property
    def tops_per_mm2(self) -> float:
        return self.tops / self.area_mm2 if self.area_mm2 else 0.0

    @property
    def int8_factor(self) -> float:
        """Normalisation to INT8 ops (T7 CarbonSpot convention: ops x Bi x Bw / 64)."""
        return self.in_bits * self.w_bits / 64.0


@dataclass(frozen=True)
class LayerCost:
    """Cost of one layer, one sample, all its tiles on their own macros (running in parallel)."""

    energy: EnergyBreakdown
    cycles: float               # latency per sample: steps x slowest tile + pipeline fill
    macro_busy_cycles: float    # sum over macros of their busy cycles (replicas split, not add, them)
    macro_steps: float          # MVM steps summed over macros
    macs: float
    macros: int                 # with replicas
    activity: ActivityAssumption
    performance: Performance

    def record(self) -> dict[str, Any]:
        rec: dict[str, Any] = {f"{k}": float(v) for k, v in self.energy.as_dict().items()}
        rec.update(energy_pj=float(self.energy.total_pj), cycles=self.cycles, macros=self.macros, macs=self.macs,
                   input_density=self.activity.input_density, and_density=self.activity.and_density,
                   activity_source=self.activity.source, activity_model=self.activity.model, tops=self.performance.tops,
                   tops_per_w=self.performance.tops_per_w, tops_per_mm2=self.performance.tops_per_mm2)
        return rec


def layer_cost(macro: MacroConfig, tiles: Iterable[TileUse], mvm_steps: int, activity: Any | None = None,
               replicas: int = 1, stream_fill: bool = True) -> LayerCost:
    """Energy and cycles of one layer per sample over its tile shapes; ``mvm_steps`` is the layer's M
    (one step per output position) and ``replicas`` the copies of its weights (from
    :func:`imcsim.mapping.map_network`). The formulas are :func:`layer_costs` for one layer.

    Partial sums of row tiles on different macros are added outside the macro (tile accumulator); that
    cost is not part of the macro model.
    """
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise SpecError(_MACRO_FILE, "replicas", replicas, "an integer >= 1")
    act = activity_densities(activity, macro.in_bits, macro.w_bits, macro.activity_model)
    table = TileTable.of([tuple(tiles)])
    lc = layer_costs(macro, table, np.array([int(mvm_steps)]), np.array([act.input_density]),
                     np.array([act.and_density]), np.array([replicas]), stream_fill)
    energy = EnergyBreakdown(*(float(v) for v in lc.energy_pj[0]))
    cycles, macs, n_macros = float(lc.cycles[0]), float(lc.macs[0]), int(lc.macros[0])
    perf = Performance(ops=2 * macs, latency_ns=cycles * macro.cycle_ns, energy=energy,
                       area_mm2=macro.area_mm2 * n_macros, in_bits=macro.in_bits, w_bits=macro.w_bits)
    return LayerCost(energy=energy, cycles=cycles, macro_busy_cycles=float(lc.macro_busy_cycles[0]),
                     macro_steps=float(lc.macro_steps[0]), macs=macs, macros=n_macros, activity=act,
                     performance=perf)


@dataclass(frozen=True)
class TileTable:
    """The tile shapes of several layers as (layers x shapes) integer arrays, padded with ``count`` 0
    (the form :func:`layer_costs` prices; shapes in each layer's own order)."""

    rows_used: np.ndarray
    cols_used: np.ndarray
    weights: np.ndarray
    count: np.ndarray

    @classmethod
    def of(cls, layers: Iterable[tuple[TileUse, ...]]) -> TileTable:
        layers = [tuple(t for t in tiles if t.count > 0) for tiles in layers]
        width = max((len(t) for t in layers), default=0) or 1
        big = any(max(t.rows_used, t.cols_used, t.weights, t.count) >= 2**62 for tiles in layers for t in tiles)
        a = np.zeros((4, len(layers), width), dtype=object if big else np.int64)
        for i, tiles in enumerate(layers):
            for j, t in enumerate(tiles):
                a[:, i, j] = (t.rows_used, t.cols_used, t.weights, t.count)
        return cls(a[0], a[1], a[2], a[3])

    def on(self, macro: MacroConfig) -> TileTable:
        """The table to price on ``macro``: as it is, or in Python integers when the macro is so large that
        int64 could overflow (an absurd geometry must still price, not crash)."""
        if max(macro.rows, macro.cols, macro.rows_parallel, macro.sense_amps) < 2**31:
            return self
        return TileTable(*(np.asarray(a, dtype=object) for a in (self.rows_used, self.cols_used, self.weights,
                                                                 self.count)))

    def take(self, index: np.ndarray) -> TileTable:
        """The rows of the given layers, in that order (a layer may repeat: forward and backward)."""
        return TileTable(self.rows_used[index], self.cols_used[index], self.weights[index], self.count[index])


@dataclass(frozen=True)
class LayerCosts:
    """Per-sample costs of n layers (arrays over the layers); energy components in ``ENERGY_FIELDS`` order."""

    energy_pj: np.ndarray         # (n, 6)
    cycles: np.ndarray            # steps of the slowest tile per copy + pipeline fill
    macro_busy_cycles: np.ndarray
    macro_steps: np.ndarray
    macs: np.ndarray
    macros: np.ndarray            # with replicas


def layer_costs(macro: MacroConfig, tiles: TileTable, mvm_steps: np.ndarray, input_density: np.ndarray,
                and_density: np.ndarray, replicas: np.ndarray, stream_fill: bool = True) -> LayerCosts:
    """Energy and cycles per sample of many layers at once (numpy over layers and their tile shapes).

    Every step runs on exactly one copy, so the energy is that of M steps whatever the replication; the
    copies split the steps, so the latency is ceil(M / replicas) steps of the slowest tile plus the
    pipeline fill. Energies add over a layer's tile shapes in their order (as a loop over them would, to
    the last bit: padded shapes add 0)."""
    return _layer_costs(macro, tiles.on(macro), mvm_steps, input_density, and_density, replicas, stream_fill)


def _layer_costs(macro: Any, tiles: TileTable, mvm_steps: np.ndarray, input_density: np.ndarray,
                 and_density: np.ndarray, replicas: np.ndarray, stream_fill: bool) -> LayerCosts:
    """:func:`layer_costs` on a macro or on :class:`_MacroColumns` (one macro per layer row)."""
    steps = np.asarray(mvm_steps, dtype=np.int64)
    reps = np.asarray(replicas, dtype=np.int64)
    count = tiles.count
    ev = macro.step_events(tiles.rows_used, tiles.cols_used, tiles.weights, np.asarray(input_density)[:, None],
                           np.asarray(and_density)[:, None])
    step_cycles = np.broadcast_to(np.asarray(ev.cycles, dtype=float), count.shape)
    k = steps.astype(float)[:, None] * count
    # (component, layer, shape): each shape's energy of the layer's M steps on its macros
    per_shape = np.stack(np.broadcast_arrays(*macro.step_energy(ev).values(), count)[:-1]) * k
    busy_shape = step_cycles * steps[:, None] * count
    macs_shape = tiles.weights.astype(float) * steps[:, None] * count
    energy, busy, macs = per_shape[:, :, 0], busy_shape[:, 0], macs_shape[:, 0]
    for j in range(1, count.shape[1]):  # one shape after the other, as a loop over the shapes adds them
        energy = energy + per_shape[:, :, j]
        busy = busy + busy_shape[:, j]
        macs = macs + macs_shape[:, j]
    energy = energy.T
    used = count > 0
    # the slowest used shape, whether any is used and how many tiles, folded column by column: numpy's
    # reductions along the short shape axis cost ~50x as much (max and integer sums: exact in any order)
    timed = np.where(used, step_cycles, 0.0)
    slowest, any_used, tiles_n = np.maximum(0.0, timed[:, 0]), used[:, 0], count[:, 0]
    for j in range(1, count.shape[1]):
        slowest = np.maximum(slowest, timed[:, j])
        any_used = any_used | used[:, j]
        tiles_n = tiles_n + count[:, j]
    fill = np.where((steps > 0) & any_used, macro.pipeline_depth_cycles, 0) if stream_fill else 0
    cycles = slowest * -(-steps // reps) + fill
    return LayerCosts(energy_pj=energy, cycles=cycles, macro_busy_cycles=busy,
                      macro_steps=(steps * tiles_n).astype(float), macs=macs, macros=tiles_n * reps)


#: the largest ``rows_parallel`` a stacked call (:func:`layer_costs_many`) takes: up to it numpy's
#: ``ceil(log2(n))`` equals ``math``'s (tests/test_macro_batch.py checks every integer), past it one macro
#: at a time
STACK_MAX_ROWS_PARALLEL = 1 << 22


@dataclass(frozen=True)
class _MacroColumns:
    """Several macros as one: every figure :func:`layer_costs` reads of a macro, as a column with one entry
    per layer row (the row's macro), so that the elementwise formulas price all rows at once."""

    rows_parallel: np.ndarray
    sense_amps: np.ndarray
    in_bits: np.ndarray
    w_bits: np.ndarray
    bits_per_cell: np.ndarray
    access_cycles: np.ndarray
    cols: np.ndarray                 # the cells a word-line pulse charges (MacroConfig.step_energy's line cells)
    acc_bits: np.ndarray
    tree_bits: np.ndarray
    tree_register_bits: np.ndarray
    prices: MacroPrices
    pipeline_depth_cycles: np.ndarray
    organisation: str
    input_bits_per_cycle: int
    column_select: str = "word_line"

    step_events = MacroConfig.step_events
    step_energy = MacroConfig.step_energy


def _stackable(macro: MacroConfig, tiles: TileTable) -> bool:
    return macro.rows_parallel <= STACK_MAX_ROWS_PARALLEL and tiles.on(macro) is tiles and tiles.count.dtype != object


def layer_costs_many(jobs: Sequence[tuple[MacroConfig, TileTable, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
                     stream_fill: bool = True) -> list[LayerCosts]:
    """:func:`layer_costs` of each ``(macro, tiles, mvm_steps, input_density, and_density, replicas)``, the
    macros stacked: one numpy pass over every job's layer rows, each row carrying its macro's figures (a
    sweep over array geometries prices all its points at once). The formulas are elementwise, so each job's
    result equals its own call to the last bit (tests/test_macro_batch.py); tables are padded with count-0
    shapes, which add 0 as within one table. Macros of one organisation and input digit width share a
    pass; a macro past ``STACK_MAX_ROWS_PARALLEL`` or too large for int64 is priced alone."""
    out: list[LayerCosts | None] = [None] * len(jobs)
    groups: dict[tuple, list[int]] = {}
    for i, (macro, tiles, *_) in enumerate(jobs):
        if _stackable(macro, tiles):
            groups.setdefault((macro.organisation, macro.input_bits_per_cycle), []).append(i)
        else:
            out[i] = layer_costs(*jobs[i], stream_fill=stream_fill)
    for (organisation, ipc), members in groups.items():
        for i, lc in zip(members, _stacked(organisation, ipc, [jobs[i] for i in members], stream_fill)):
            out[i] = lc
    return out   # type: ignore[return-value]


def _stacked(organisation: str, ipc: int, jobs: list[tuple], stream_fill: bool) -> list[LayerCosts]:
    macros = [j[0] for j in jobs]
    tables = [j[1] for j in jobs]
    n = np.array([len(t.count) for t in tables])
    width = max(t.count.shape[1] for t in tables)

    def stack(part: str) -> np.ndarray:
        a = np.zeros((int(n.sum()), width), dtype=np.int64)
        k = 0
        for t, rows in zip(tables, n.tolist()):
            v = getattr(t, part)
            a[k:k + rows, :v.shape[1]] = v
            k += rows
        return a

    table = TileTable(stack("rows_used"), stack("cols_used"), stack("weights"), stack("count"))

    def col(values: list, dtype: Any = np.int64) -> np.ndarray:
        return np.repeat(np.array(values, dtype=dtype), n)[:, None]

    prices = [m.prices for m in macros]
    price_cols = MacroPrices(*(col([getattr(p, f.name) for p in prices], float) for f in fields(MacroPrices)))
    stacked = _MacroColumns(
        rows_parallel=col([m.rows_parallel for m in macros]), sense_amps=col([m.sense_amps for m in macros]),
        in_bits=col([m.in_bits for m in macros]), w_bits=col([m.w_bits for m in macros]),
        bits_per_cell=col([m.bits_per_cell for m in macros]), access_cycles=col([m.access_cycles for m in macros]),
        cols=col([m.cols if m.column_select == "word_line" else m.sense_amps for m in macros]),
        acc_bits=col([m.acc_bits for m in macros]), tree_bits=col([m.tree_bits for m in macros]),
        tree_register_bits=col([m.tree_register_bits for m in macros]), prices=price_cols,
        pipeline_depth_cycles=col([m.pipeline_depth_cycles for m in macros])[:, 0], organisation=organisation,
        input_bits_per_cycle=ipc)
    lc = _layer_costs(stacked, table, *(np.concatenate([np.asarray(j[k]) for j in jobs]) for k in (2, 3, 4, 5)),
                      stream_fill)
    out, k = [], 0
    for rows in n.tolist():
        part = slice(k, k + rows)
        out.append(LayerCosts(lc.energy_pj[part].copy(), lc.cycles[part].copy(), lc.macro_busy_cycles[part].copy(),
                              lc.macro_steps[part].copy(), lc.macs[part].copy(), lc.macros[part].copy()))
        k += rows
    return out


def dense_step(macro: MacroConfig, act: ActivityAssumption) -> tuple[StepEvents, Performance]:
    """The dense full-array workload, steady state (pipeline fill amortised away): one MVM step with
    every row and every whole-weight column in use."""
    t = macro.dense_tile()
    ev = macro.step_events(t.rows_used, t.cols_used, t.weights, act.input_density, act.and_density)
    perf = Performance(ops=2.0 * t.weights, latency_ns=float(ev.cycles) * macro.cycle_ns,
                       energy=macro.step_energy(ev), area_mm2=float(macro.area().total_mm2),
                       in_bits=macro.in_bits, w_bits=macro.w_bits)
    return ev, perf


def peak_performance(macro: MacroConfig, activity: Any | None = None) -> Performance:
    """Peak TOPS, TOPS/W, TOPS/mm^2: the dense full-array step at the given activity or the default."""
    return dense_step(macro, activity_densities(activity, macro.in_bits, macro.w_bits, macro.activity_model))[1]


def macro_summary(macro: MacroConfig, activity: Any | None = None, input_density: float | None = None,
                  and_density: float | None = None) -> dict[str, Any]:
    """One flat record (unit-suffixed keys) of a macro on the dense full-array workload: configuration,
    cycles and energy of one MVM step by component, TOPS, TOPS/W, TOPS/mm^2 (also INT8-normalised)
    and the area by component. Densities given explicitly override the activity (source "given")."""
    act = activity_densities(activity, macro.in_bits, macro.w_bits, macro.activity_model)
    if macro.activity_model == "data_independent":
        input_density = and_density = None  # the model fixes the densities
    if input_density is not None or and_density is not None:
        d_in = act.input_density if input_density is None else float(input_density)
        d_and = act.and_density if and_density is None else float(and_density)
        for name, v in (("input_density", d_in), ("and_density", d_and)):
            if not 0.0 <= v <= 1.0:
                raise SpecError(_MACRO_FILE, name, v, "a fraction in [0, 1]")
        if d_and > d_in and macro.activity_model == "activity":
            raise SpecError(_MACRO_FILE, "and_density", d_and, f"<= input_density ({d_in}): a product is 1 only "
                            "where the input bit is 1")
        act = ActivityAssumption(d_in, d_and, "given", macro.activity_model)
    t = macro.dense_tile()
    ev, perf = dense_step(macro, act)
    energy = perf.energy
    area = macro.area()
    rec = macro.describe()
    rec.update(step_cycles=float(ev.cycles), step_macs=t.weights, step_latency_ns=perf.latency_ns,
               input_density=act.input_density, and_density=act.and_density, activity_source=act.source)
    rec.update({k: float(v) for k, v in energy.as_dict().items()})
    total = float(energy.total_pj)
    rec.update(step_energy_pj=total, energy_fj_per_mac=total / t.weights * 1e3 if t.weights else 0.0,
               tops=perf.tops, tops_per_w=perf.tops_per_w, tops_per_mm2=perf.tops_per_mm2,
               tops_int8=perf.tops * perf.int8_factor, tops_per_w_int8=perf.tops_per_w * perf.int8_factor,
               tops_per_mm2_int8=perf.tops_per_mm2 * perf.int8_factor)
    rec.update({k: float(v) for k, v in area.as_dict().items()})
    rec.update(area_um2=float(area.total_um2), area_mm2=float(area.total_mm2))
    return rec
