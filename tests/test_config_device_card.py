"""Device cards: validation, inheritance, overrides and the one-line errors they produce."""

import textwrap

import pytest

from imcsim.config.device_card import TAGS, builtin_card_names, load_card
from imcsim.errors import SpecError

BUILTIN = ["pcm", "reram", "sas-mram", "sas-mram-calibrated", "sas-mram-optimistic", "sot-mram", "sram", "stt-mram"]


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_builtin_cards_listed_without_accelerator_presets():
    names = builtin_card_names()
    assert names == BUILTIN
    assert not any(n.startswith("acc-") for n in names)


@pytest.mark.parametrize("name", BUILTIN)
def test_every_builtin_param_has_unit_tag_source(name):
    card = load_card(name)
    for pname in card.param_names():
        p = card.param(pname)
        assert p.tag in TAGS and p.source.strip() and p.unit
    assert card.provenance.strip() and card.description.strip()


def test_inheritance_takes_unit_from_parent_and_records_where_values_come_from():
    card = load_card("sas-mram-optimistic")
    parent = load_card("sas-mram")
    assert [p.split("/")[-1] for p in card.chain] == ["sas-mram-optimistic.yaml", "sas-mram.yaml"]
    assert card.param("sot_current_ua").value == 160 and card.param("sot_current_ua").unit == "uA"
    assert card.defined_in["sot_current_ua"] == "sas-mram-optimistic"
    assert card.defined_in["sot_pulse_ns"] == "sas-mram"
    assert card.param("sot_pulse_ns") == parent.param("sot_pulse_ns")
    assert card.technology == "sas_mram" and card.options == parent.options


def test_inherits_by_relative_path(tmp_path):
    (tmp_path / "sub").mkdir()
    write(tmp_path, "base.yaml", open(load_card("sot-mram").file).read())
    child = write(tmp_path, "sub/child.yaml", """\
        kind: device
        inherits: ../base.yaml
        params:
          write_current_ua: {value: 100, tag: A, source: what-if}
        """)
    card = load_card(child)
    assert card.name == "child" and card.value("write_current_ua") == 100


def test_inheritance_cycle_is_an_error(tmp_path):
    write(tmp_path, "a.yaml", "kind: device\ninherits: ./b.yaml\n")
    write(tmp_path, "b.yaml", "kind: device\ninherits: ./a.yaml\n")
    with pytest.raises(SpecError, match=r"inherits: inheritance cycle \(a.yaml -> b.yaml -> a.yaml\)"):
        load_card(tmp_path / "a.yaml")


def test_child_must_give_tag_and_source(tmp_path):
    child = write(tmp_path, "c.yaml", """\
        kind: device
        inherits: sas-mram
        params:
          sot_current_ua: {value: 100}
        """)
    with pytest.raises(SpecError, match=r"c.yaml: params.sot_current_ua.tag: missing required field"):
        load_card(child)


def test_base_card_needs_units(tmp_path):
    text = open(load_card("sot-mram").file).read().replace("unit: uA, ", "")
    path = write(tmp_path, "nounit.yaml", text)
    with pytest.raises(SpecError, match=r"nounit.yaml: params.write_current_ua.unit: missing required field"):
        load_card(path)


def test_wrong_unit_is_rejected(tmp_path):
    text = open(load_card("sot-mram").file).read().replace("unit: uA", "unit: mA")
    path = write(tmp_path, "unit.yaml", text)
    with pytest.raises(SpecError, match=r"params.write_current_ua.unit: wrong unit 'mA'; allowed: uA"):
        load_card(path)


def test_unknown_param_did_you_mean(tmp_path):
    child = write(tmp_path, "typo.yaml", """\
        kind: device
        inherits: sas-mram
        params:
          sot_curent_ua: {value: 100, unit: uA, tag: A, source: x}
        """)
    with pytest.raises(SpecError, match=r"typo.yaml: params.sot_curent_ua: unknown key \(did you mean 'sot_current_ua'\?\)"):
        load_card(child)


def test_bad_values_name_the_field(tmp_path):
    cases = {
        "sot_current_ua: {value: -5, tag: A, source: x}": r"params.sot_current_ua.value: bad value -5.0",
        "mtj_per_line: {value: 2.5, tag: A, source: x}": r"params.mtj_per_line.value: bad value 2.5",
        "sot_pulse_ns: {value: fast, tag: A, source: x}": r"params.sot_pulse_ns.value: bad value 'fast'",
        "sot_pulse_ns: {value: 1, tag: X, source: x}": r"params.sot_pulse_ns.tag: bad value 'X'",
    }
    for line, pattern in cases.items():
        child = write(tmp_path, "bad.yaml", f"kind: device\ninherits: sas-mram\nparams:\n  {line}\n")
        with pytest.raises(SpecError, match=pattern):
            load_card(child)


def test_probability_param_outside_unit_interval(tmp_path):
    child = write(tmp_path, "p.yaml", "kind: device\ninherits: reram\n"
                                      "params:\n  c2c_sigma_frac: {value: 1.5, tag: A, source: x}\n")
    with pytest.raises(SpecError, match=r"params.c2c_sigma_frac.value: bad value 1.5; allowed: .*less than or equal to 1"):
        load_card(child)


def test_bad_option_and_kind_and_technology(tmp_path):
    child = write(tmp_path, "o.yaml", "kind: device\ninherits: sas-mram\noptions:\n  write_scheme: three_step\n")
    with pytest.raises(SpecError, match=r"o.yaml: options.write_scheme: bad value 'three_step'; allowed: .*one_step"):
        load_card(child)
    acc = write(tmp_path, "k.yaml", "kind: accelerator\n")
    with pytest.raises(SpecError, match=r"k.yaml: kind: bad value 'accelerator'"):
        load_card(acc)
    tech = write(tmp_path, "t.yaml", "kind: device\ninherits: sas-mram\ntechnology: reram\n")
    with pytest.raises(SpecError, match=r"t.yaml: technology: differs from the inherited"):
        load_card(tech)
    root = write(tmp_path, "r.yaml", "kind: device\nprovenance: x\n")
    with pytest.raises(SpecError, match=r"r.yaml: technology: missing required field"):
        load_card(root)


def test_unknown_name_lists_known_ones_and_presets_are_not_cards():
    with pytest.raises(SpecError) as err:
        load_card("sas-mramm")
    msg = str(err.value)
    assert "device: unknown device 'sas-mramm'" in msg
    assert all(n in msg for n in BUILTIN)
    with pytest.raises(SpecError, match="accelerator preset"):
        load_card("acc-sas-mram")


def test_overrides_values_mappings_and_options():
    card = load_card("reram", {"write_verify_iterations": 3, "bits_per_cell": 2,
                               "program_pulse_energy_pj": {"value": 0.4, "tag": "D", "source": "calc"},
                               "write_policy": "diff"})
    assert card.value("write_verify_iterations") == 3
    assert card.param("write_verify_iterations").tag == "A"
    assert card.param("write_verify_iterations").source == "override"
    assert card.param("program_pulse_energy_pj").unit == "pJ"  # from the card
    assert card.param("program_pulse_energy_pj").tag == "D"
    assert card.defined_in["bits_per_cell"] == "override"
    assert card.options.write_policy == "diff"


def test_bad_overrides_are_spec_errors():
    with pytest.raises(SpecError, match=r"<overrides>: params.bits_per_cell.value: bad value 5"):
        load_card("reram", {"bits_per_cell": 5})
    with pytest.raises(SpecError, match=r"<overrides>: params.write_verify_iteration: unknown key \(did you mean"):
        load_card("reram", {"write_verify_iteration": 3})
    with pytest.raises(SpecError, match=r"<overrides>: options.write_scheme: bad value 'x'"):
        load_card("sas-mram", {"write_scheme": "x"})
