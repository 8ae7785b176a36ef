"""``imcsim devices`` (list, show, compare) in-process, with figures derived from the cards."""

import csv
import json

import pytest

from imcsim.cli.main import main
from imcsim.config.device_card import load_card


def run_json(capsys, *argv):
    assert main(list(argv) + ["--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_list_shows_every_card_with_key_figures(capsys):
    rows = run_json(capsys, "devices")
    names = [r["device"] for r in rows]
    assert names == ["pcm", "reram", "sas-mram", "sas-mram-calibrated", "sas-mram-optimistic", "sot-mram", "sram", "stt-mram"]
    sot = next(r for r in rows if r["device"] == "sot-mram")
    card = load_card("sot-mram")
    # per-bit write energy = V x I x t_p (fJ)
    assert sot["write_energy_per_bit_fj"] == pytest.approx(
        card.value("write_voltage_v") * card.value("write_current_ua") * card.value("write_pulse_ns"))
    assert sot["area_per_bit_um2"] == pytest.approx(card.value("cell_area_f2") * 0.028**2)
    assert set(rows[0]) >= {"read_energy_per_bit_fj", "endurance_cycles", "retention_years", "leakage_nw_per_bit"}
    assert main(["devices"]) == 0
    assert "sas-mram-optimistic" in capsys.readouterr().out


def test_show_lists_params_options_chain_and_derived(capsys):
    rows = run_json(capsys, "devices", "show", "sas-mram-optimistic")
    kinds = {r["kind"] for r in rows}
    assert kinds == {"card", "option", "param", "derived"}
    chain = [r["name"] for r in rows if r["kind"] == "card"]
    assert chain == ["sas-mram-optimistic", "sas-mram"]
    params = {r["name"]: r for r in rows if r["kind"] == "param"}
    card = load_card("sas-mram-optimistic")
    assert set(params) == set(card.param_names())
    assert params["sot_current_ua"]["card"] == "sas-mram-optimistic"
    assert params["sot_pulse_ns"] == {"kind": "param", "name": "sot_pulse_ns", "value": 1.0, "unit": "ns",
                                      "tag": "A", "source": card.param("sot_pulse_ns").source,
                                      "card": "sas-mram"}
    options = {r["name"]: r["value"] for r in rows if r["kind"] == "option"}
    assert options == {"write_policy": "all", "write_scheme": "one_step", "bit_placement": "weight_bits"}
    derived = {r["name"]: r["value"] for r in rows if r["kind"] == "derived"}
    assert derived["sot_pulse_energy_fj"] == pytest.approx(1.0 * 160 * 1.0)  # V x I x t_p of this card
    main(["devices", "show", "reram"])
    out = capsys.readouterr().out
    assert "write_verify_iterations" in out and "inherits: reram" in out


def test_compare_sas_sot_reram_traceable_to_cards(capsys):
    rows = run_json(capsys, "devices", "compare", "sas-mram", "sot-mram", "reram")
    sas, sot, rr = rows
    cs, co, cr = (load_card(n).value for n in ("sas-mram", "sot-mram", "reram"))
    e_sot = cs("sot_voltage_v") * cs("sot_current_ua") * cs("sot_pulse_ns") * 1e-3
    e_stt = cs("stt_assist_voltage_v") * cs("stt_assist_current_ua") * cs("sot_pulse_ns") * 1e-3
    # SAS: a 4-bit group is one SOT pulse: E_SOT + 4 E_STT; an 8-bit weight is two groups
    assert sas["group4_pulses"] == 1
    assert sas["group4_energy_pj"] == pytest.approx(e_sot + 4 * e_stt)
    assert sas["weight8_energy_pj"] == pytest.approx(2 * (e_sot + 4 * e_stt))
    assert sas["weight8_latency_ns"] == pytest.approx(cs("sot_pulse_ns") + cs("write_setup_ns"))
    # SOT: one pulse per bit
    e_bit = co("write_voltage_v") * co("write_current_ua") * co("write_pulse_ns") * 1e-3
    assert sot["group4_pulses"] == 4 and sot["weight8_energy_pj"] == pytest.approx(8 * e_bit)
    assert sas["write_energy_per_bit_fj"] < sot["write_energy_per_bit_fj"]
    # ReRAM: 8 cells x iterations x (pulse + verify read); row batch of I x (t_pulse + t_read)
    read_pj = (cr("read_energy_per_bit_fj") + cr("sense_amp_energy_fj")) * 1e-3
    iters = cr("write_verify_iterations")
    assert rr["weight8_energy_pj"] == pytest.approx(8 * iters * (cr("program_pulse_energy_pj") + read_pj))
    assert rr["weight8_latency_ns"] == pytest.approx(iters * (cr("set_pulse_ns") + cr("read_latency_ns")))
    # "far above both": more than 10x in energy and latency per weight
    for other in (sas, sot):
        assert rr["weight8_energy_pj"] > 10 * other["weight8_energy_pj"]
        assert rr["weight8_latency_ns"] > 10 * other["weight8_latency_ns"]
    # relative columns are ratios to the first device
    assert sas["weight8_energy_rel"] == 1.0
    assert rr["weight8_energy_rel"] == pytest.approx(rr["weight8_energy_pj"] / sas["weight8_energy_pj"])
    assert sot["area_per_bit_rel"] == pytest.approx(co("cell_area_f2") / cs("cell_area_f2"))
    assert rr["endurance_rel"] == pytest.approx(cr("endurance_cycles") / cs("endurance_cycles"))


def test_compare_policy_diff_and_out_csv(tmp_path, capsys):
    out = tmp_path / "reports" / "default"
    assert main(["devices", "compare", "sot-mram", "sas-mram", "--policy", "diff", "--flip-prob", "0.25",
                 "--out", str(out), "--format", "csv"]) == 0
    printed = capsys.readouterr().out.splitlines()
    with open(out / "devices_compare.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["device"] for r in rows] == ["sot-mram", "sas-mram"]
    assert printed[0].split(",") == list(rows[0])
    sot = rows[0]
    # diff on a SOT 8-bit weight: 8 verify reads + 8 x 0.25 flipped bits x 300 fJ
    assert float(sot["weight8_energy_pj"]) == pytest.approx(8 * 5.7e-3 + 2 * 0.3)
    assert sot["policy"] == "diff"


def test_compare_table_format(capsys):
    assert main(["devices", "compare", "sas-mram", "reram"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("write cost relative to sas-mram")
    assert "weight8_energy_pj" in out and "reram" in out


def test_show_prints_the_resolved_citations(capsys):
    from imcsim.cli.main import main

    assert main(["devices", "show", "sot-mram"]) == 0
    out = capsys.readouterr().out
    tail = out[out.index("\nsources:\n"):]
    assert '[S1] 8 Kb field-free SOT-MRAM array' in tail and '[S2] K. Garello et al.' in tail
    assert "(not in docs/references.md)" not in tail
