"""The generated key reference (docs/study-reference.md) and ``imcsim schema`` stay in step with the models."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from imcsim.cli.main import main
from imcsim.reference import KINDS, json_schema, missing_descriptions, study_reference_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_every_field_has_a_description():
    assert missing_descriptions() == [], "add Field(description=...) to these fields, then run `make docs`"


def test_study_reference_is_up_to_date():
    page = (ROOT / "docs" / "study-reference.md").read_text()
    assert page == study_reference_markdown(), "docs/study-reference.md is stale: run `make docs`"


def test_reference_lists_the_fields_users_set():
    page = study_reference_markdown()
    for key in ("`options.steps_per_day`", "`chip.tiles`", "`tile.write_drivers`", "`macro.rows_parallel`",
                "`params.read_energy_per_bit_fj`", "`resolution`", "## method `repnet`", "`rank`"):
        assert key in page, key
    # units come from the names; ranges from the validators
    row = next(line for line in page.splitlines() if line.startswith("| `chip.clock_mhz`"))
    assert "| MHz |" in row and ">= 0.001" in row


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_schema_of_every_kind(kind, capsys):
    assert main(["schema", kind]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == json.loads(json.dumps(json_schema(kind)))
    assert schema["type"] == "object" and schema["properties"]


def test_study_schema_accepts_the_study_keys():
    props = json_schema("study")["properties"]
    assert {"device", "workload", "method", "options", "runs", "sweep", "description"} <= set(props)


def test_unknown_kind_is_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["schema", "bogus"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
