"""imcsim compare --iso: chips sized to the first device's weight capacity or cell-array area, checked by
hand from the card cell areas; the sized chip is what the engine evaluates."""

from __future__ import annotations

import json

import pytest

from imcsim.cli.main import main
from imcsim.compare import chip_cells, compare, iso_capacities
from imcsim.errors import SpecError

MIBIT = 2**20


def test_iso_area_by_hand():
    # acc-sas-mram: 128 Mibit of cells (2048 macros of 256 x 256), 1 bit per cell, 28 nm.
    # sas-mram cell 47 F^2, sram 190 F^2, sot-mram 86 F^2 (cards): at equal cell-array area the SRAM chip
    # holds 128 x 47 / 190 = 31.66 Mibit of cells, the SOT chip 128 x 47 / 86 = 69.95 Mibit.
    sizes = iso_capacities(["sas-mram", "sram", "sot-mram"], {}, "area")
    assert sizes["sas-mram"] == pytest.approx(128)
    assert sizes["sram"] == pytest.approx(128 * 47 / 190)
    assert sizes["sot-mram"] == pytest.approx(128 * 47 / 86)
    ref = chip_cells("sas-mram", {})
    # 2^27 cells x 47 x (0.028 um)^2 = 4.946 mm^2
    assert ref["array_area_mm2"] == pytest.approx(2**27 * 47 * 0.028**2 * 1e-6)


def test_iso_capacity_keeps_the_weight_bits():
    # every chip holds the first chip's 2^27 weight bits, whatever its cell area: 128 Mibit of 1-bit cells
    sizes = iso_capacities(["sas-mram", "sram"], {}, "capacity")
    assert sizes == pytest.approx({"sas-mram": 128, "sram": 128})
    # with 2-bit cells (on every chip) the reference holds 2^28 bits, i.e. 2^27 two-bit cells again
    assert iso_capacities(["reram"], {"macro.bits_per_cell": 2}, "capacity")["reram"] == pytest.approx(128)
    two = chip_cells("reram", {"macro.bits_per_cell": 2})
    assert two["bits"] == 2 * two["cells"] and two["cell_area_um2_per_bit"] == two["cell_area_um2"] / 2


def test_the_evaluated_chip_is_the_sized_one():
    recs = compare(["sas-mram", "sram"], "tiny-cnn", ["inference"], iso="area")
    sas, sram = recs
    assert sas["iso"] == sram["iso"] == "area"
    # the SRAM chip rounds macros per tile up, so its array is at least the reference area and within
    # one macro per tile of it (64 tiles x 256 x 256 cells x 190 F^2 at 28 nm = 0.624 mm^2)
    assert sram["cell_array_area_mm2"] >= sas["cell_array_area_mm2"] * (1 - 1e-9)
    assert sram["cell_array_area_mm2"] - sas["cell_array_area_mm2"] < 64 * 256 * 256 * 190 * 0.028**2 * 1e-6
    assert sram["weight_capacity_mbit"] < sas["weight_capacity_mbit"] / 3


def test_cli_iso_and_bad_input(tmp_path, capsys):
    assert main(["compare", "--device", "sas-mram,sram", "--workload", "tiny-cnn", "--method", "inference",
                 "--iso", "capacity", "--out", str(tmp_path), "--format", "json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert recs[0]["weight_capacity_mbit"] == pytest.approx(recs[1]["weight_capacity_mbit"])
    with pytest.raises(SpecError):
        iso_capacities(["sas-mram"], {"tile.macros": 4}, "area")
    with pytest.raises(SystemExit) as exc:   # argparse: one usage line, exit 2
        main(["compare", "--device", "sas-mram", "--workload", "tiny-cnn", "--method", "inference",
              "--iso", "volume"])
    assert exc.value.code == 2 and "--iso" in capsys.readouterr().err
