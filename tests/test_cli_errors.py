"""Bad input through the command: exit code 2, one stderr line naming file and field, no traceback;
``--debug`` shows the traceback instead (that one in a real process; the others run the command in the
test process, tests/cli_helpers.py)."""

import subprocess
import sys
import textwrap

import pytest
from cli_helpers import run_imcsim as imcsim


def card(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


GOOD_CHILD = "kind: device\ninherits: sas-mram\n"

CASES = {
    "unknown_key": (GOOD_CHILD + "parms: {}\n",
                    ["bad.yaml: parms: unknown key (did you mean 'params'?)"]),
    "unknown_param": (GOOD_CHILD + "params:\n  sot_curent_ua: {value: 1, unit: uA, tag: A, source: x}\n",
                      ["bad.yaml: params.sot_curent_ua: unknown key (did you mean 'sot_current_ua'?)"]),
    "wrong_type": (GOOD_CHILD + "params:\n  sot_pulse_ns: {value: fast, tag: A, source: x}\n",
                   ["bad.yaml: params.sot_pulse_ns.value: bad value 'fast'", "number"]),
    "missing_field": (GOOD_CHILD + "params:\n  sot_pulse_ns: {value: 1, tag: A}\n",
                      ["bad.yaml: params.sot_pulse_ns.source: missing required field"]),
    "non_positive": (GOOD_CHILD + "params:\n  write_drivers: {value: 0, tag: A, source: x}\n",
                     ["bad.yaml: params.write_drivers.value: bad value 0", "greater than 0"]),
    "probability": ("kind: device\ninherits: reram\nparams:\n  c2c_sigma_frac: {value: 1.5, tag: A, source: x}\n",
                    ["bad.yaml: params.c2c_sigma_frac.value: bad value 1.5", "less than or equal to 1"]),
    "yaml_parse": (GOOD_CHILD + "params: {sot_pulse_ns: {value: 1\n",
                   ["bad.yaml: YAML does not parse at line 4"]),
    "unknown_parent": ("kind: device\ninherits: sas-mramm\n",
                       ["bad.yaml: inherits: unknown device 'sas-mramm'", "sas-mram-optimistic, sot-mram"]),
}


def assert_one_line_error(proc, needles):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("imcsim: error: ")
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.mark.parametrize("case", list(CASES))
def test_bad_card(tmp_path, case):
    text, needles = CASES[case]
    path = card(tmp_path, "bad.yaml", text)
    assert_one_line_error(imcsim("devices", "show", path), needles)


def test_unknown_device_name_lists_known_ones():
    proc = imcsim("devices", "show", "sas-mramm")
    assert_one_line_error(proc, ["<flags>: device: unknown device 'sas-mramm'",
                                 "reram, sas-mram, sas-mram-calibrated, sas-mram-optimistic, sot-mram, sram, stt-mram"])
    proc = imcsim("devices", "compare", "sas-mram", "nosuch")
    assert_one_line_error(proc, ["<flags>: device: unknown device 'nosuch'"])


def test_missing_card_file(tmp_path):
    proc = imcsim("devices", "show", str(tmp_path / "missing.yaml"))
    assert_one_line_error(proc, ["missing.yaml: file does not exist"])


def test_inheritance_cycle(tmp_path):
    card(tmp_path, "a.yaml", "kind: device\ninherits: ./b.yaml\n")
    card(tmp_path, "b.yaml", "kind: device\ninherits: ./a.yaml\n")
    proc = imcsim("devices", "show", str(tmp_path / "a.yaml"))
    assert_one_line_error(proc, ["inherits: inheritance cycle (a.yaml -> b.yaml -> a.yaml)"])


def test_bad_flag_values():
    proc = imcsim("devices", "compare", "sas-mram", "--flip-prob", "1.5")
    assert_one_line_error(proc, ["<flags>: --flip-prob: bad value 1.5; allowed: a probability in [0, 1]"])
    proc = imcsim("devices", "--node-nm", "0")
    assert_one_line_error(proc, ["<flags>: --node-nm: bad value 0.0"])


def test_debug_shows_the_traceback(tmp_path):
    path = card(tmp_path, "bad.yaml", CASES["non_positive"][0])
    proc = subprocess.run([sys.executable, "-m", "imcsim", "--debug", "devices", "show", path],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and proc.returncode != 2
    assert "Traceback" in proc.stderr and "SpecError" in proc.stderr
