"""One resolver for every ``inherits:`` (imcsim.config.inherit.walk_chain): device cards, accelerator
presets and method cards refuse a loop, an unknown parent name and a missing parent file the same way,
through the real command: exit code 2, one stderr line naming the card file, ``inherits`` and the value
written there, no traceback."""

import pytest
from cli_helpers import run_imcsim

#: per card kind: the card text inheriting ``{parent}``, and the command that loads card ``{card}``
KINDS = {
    "device": ("kind: device\nname: {me}\ninherits: {parent}\n", ["devices", "show", "{card}"]),
    "preset": ("name: {me}\ninherits: {parent}\n",
               ["run", "--accelerator", "{card}", "--workload", "digits-cnn", "--no-report", "-o", "{out}"]),
    "method": ("name: {me}\ndescription: x\nsource: x\ninherits: {parent}\n",
               ["run", "--method", "{card}", "--workload", "digits-cnn", "--no-report", "-o", "{out}"]),
}

#: per failure: the files to write (name -> parent as written) and what the error line must say
FAILURES = {
    "cycle": ({"a.yaml": "b.yaml", "b.yaml": "./a.yaml"},
              ["b.yaml: inherits: inheritance cycle (a.yaml -> b.yaml -> a.yaml): './a.yaml'",
               "allowed: a card that does not inherit, directly or not, from itself"]),
    "missing_file": ({"a.yaml": "b.yaml", "b.yaml": "gone.yaml"},
                     ["b.yaml: inherits:", "gone.yaml", "a path relative to this file"]),
    "unknown_name": ({"a.yaml": "nosuch-card"}, ["a.yaml: inherits:", "'nosuch-card'", "allowed:"]),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_bad_chain_is_one_line_naming_file_field_and_value(tmp_path, kind, failure):
    text, argv = KINDS[kind]
    files, needles = FAILURES[failure]
    for name, parent in files.items():
        (tmp_path / name).write_text(text.format(me=name[:-5], parent=parent))
    ran = run_imcsim(*(a.format(card=tmp_path / "a.yaml", out=tmp_path / "out") for a in argv))
    code, err = ran.returncode, ran.stderr
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imcsim: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_every_kind_merges_its_chain_root_first(tmp_path):
    """A three-card chain of each kind: the child's value wins, the parents' other values stay."""
    from imcsim.config.accelerator import load_accelerator
    from imcsim.config.device_card import load_card
    from imcsim.workload.methods.cards import load_card as load_method

    (tmp_path / "d1.yaml").write_text("kind: device\ninherits: sas-mram\nparams:\n"
                                      "  sot_pulse_ns: {value: 3, tag: A, source: x}\n  write_drivers: {value: 7, tag: A, source: x}\n")
    (tmp_path / "d2.yaml").write_text("kind: device\ninherits: d1.yaml\nparams:\n  sot_pulse_ns: {value: 4, tag: A, source: y}\n")
    card = load_card(tmp_path / "d2.yaml")
    assert card.value("sot_pulse_ns") == 4 and card.value("write_drivers") == 7 and card.param("sot_pulse_ns").unit == "ns"
    assert card.defined_in["sot_pulse_ns"] == "d2" and [p[-7:] for p in card.chain[:2]] == ["d2.yaml", "d1.yaml"]

    (tmp_path / "acc-1.yaml").write_text("inherits: acc-sas-mram\nmacro: {rows: 64}\n")
    (tmp_path / "acc-2.yaml").write_text("inherits: acc-1.yaml\nname: two\nmacro: {cols: 32}\n")
    spec = load_accelerator(tmp_path / "acc-2.yaml")
    assert (spec.name, spec.macro.rows, spec.macro.cols) == ("two", 64, 32)

    (tmp_path / "m1.yaml").write_text("name: m1\ndescription: x\nsource: x\ninherits: repnet\n"
                                      "options: {kernel: 3}\nnotes: [one]\n")
    (tmp_path / "m2.yaml").write_text("name: m2\ndescription: x\nsource: x\ninherits: m1.yaml\nnotes: [two]\n")
    assert load_method(tmp_path / "m2.yaml").resolved() == ("repnet", {"kernel": 3}, ["one", "two"])


def test_an_edited_parent_preset_is_read_again(tmp_path):
    """Presets are cached per version of every file of the chain, not only the child's."""
    import os

    from imcsim.config.accelerator import load_accelerator

    parent, child = tmp_path / "acc-p.yaml", tmp_path / "acc-c.yaml"
    parent.write_text("inherits: acc-sas-mram\nmacro: {rows: 64}\n")
    child.write_text("inherits: acc-p.yaml\n")
    assert load_accelerator(child).macro.rows == 64  # sas-mram: 256
    assert load_accelerator(child, {"macro.cols": 64}).chip.clock_mhz == 500  # the array-sweep path
    parent.write_text("inherits: acc-sas-mram\nmacro: {rows: 128}\nchip: {clock_mhz: 700}\n")
    os.utime(parent, ns=(parent.stat().st_mtime_ns + 10**9,) * 2)  # a new version even on a coarse clock
    assert load_accelerator(child).macro.rows == 128
    assert load_accelerator(child, {"macro.cols": 64}).chip.clock_mhz == 700
