"""The Study skeleton: defaults, device resolution, and one-line errors naming file and field."""

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imcsim.config.study import Study, load_study, study_from_params
from imcsim.errors import SpecError


def study_file(tmp_path, text, name="study.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_minimal_study_gets_defaults(tmp_path):
    s = load_study(study_file(tmp_path, """\
        device: sas-mram
        workload: {name: resnet18}
        """))
    assert isinstance(s, Study)
    assert s.device == "sas-mram" and s.accelerator is None
    assert s.workload.name == "resnet18" and s.workload.options == {}
    assert s.method.name == "inference"
    assert s.options.write_policy == "all" and s.options.activity == 0.5 and s.options.seed == 0


def test_full_study(tmp_path):
    s = load_study(study_file(tmp_path, """\
        name: cl
        device: reram
        accelerator: acc-reram
        workload: {name: resnet18, options: {resolution: 224}}
        method: {name: repnet, options: {rank: 4}}
        options: {write_policy: diff, activity: 0.3, seed: 7, steps_per_day: 200, flip_prob: 0.1}
        """))
    assert s.method.options == {"rank": 4} and s.options.write_policy == "diff"
    assert s.options.steps_per_day == 200 and s.options.flip_prob == 0.1


def test_device_path_is_resolved_relative_to_the_study(tmp_path):
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "mine.yaml").write_text("kind: device\ninherits: sas-mram\n")
    s = load_study(study_file(tmp_path, "device: cards/mine.yaml\nworkload: {name: resnet18}\n"))
    assert Path(s.device) == (tmp_path / "cards" / "mine.yaml").resolve()


@pytest.mark.parametrize("body, pattern", [
    ("device: sas-mram\nworkload: {name: r}\noptions: {activty: 0.2}\n",
     r"study.yaml: options.activty: unknown key \(did you mean 'activity'\?\)"),
    ("device: sas-mram\nworkload: {name: r}\noptions: {activity: 1.2}\n",
     r"study.yaml: options.activity: bad value 1.2; allowed: .*less than or equal to 1"),
    ("device: sas-mram\nworkload: {name: r}\noptions: {steps_per_day: 0}\n",
     r"study.yaml: options.steps_per_day: bad value 0; allowed: .*greater than 0"),
    ("device: sas-mram\nworkload: {name: r}\noptions: {seed: many}\n",
     r"study.yaml: options.seed: bad value 'many'; allowed: .*integer"),
    ("device: sas-mram\nworkload: {name: r}\noptions: {write_policy: some}\n",
     r"study.yaml: options.write_policy: bad value 'some'; allowed: .*'all' or 'diff'"),
    ("device: sas-mram\n", r"study.yaml: workload: missing required field"),
    ("device: nosuch\nworkload: {name: r}\n",
     r"study.yaml: device: unknown device 'nosuch'; allowed: pcm, reram, sas-mram, .*stt-mram"),
    ("device: ./none.yaml\nworkload: {name: r}\n", r"study.yaml: device: card file does not exist: './none.yaml'"),
    ("device: sas-mram\nworkload: {name: r\n", r"study.yaml: YAML does not parse at line 3"),
])
def test_bad_studies(tmp_path, body, pattern):
    with pytest.raises(SpecError, match=pattern):
        load_study(study_file(tmp_path, body))


def test_missing_study_file(tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        load_study(tmp_path / "nope.yaml")


def test_bad_card_behind_a_study_names_the_card(tmp_path):
    (tmp_path / "bad.yaml").write_text("kind: device\ninherits: sas-mram\nparams:\n"
                                       "  sot_current_ua: {value: 0, tag: A, source: x}\n")
    with pytest.raises(SpecError, match=r"bad.yaml: params.sot_current_ua.value: bad value 0"):
        load_study(study_file(tmp_path, "device: bad.yaml\nworkload: {name: r}\n"))


def test_flat_field_with_the_yaml_options_level_suggests_the_flat_name():
    # `--set workload.options.seq_len=64` mixes the YAML nesting into the flat form; the answer must
    # name what to type instead (workload.seq_len), not the bare option name
    with pytest.raises(SpecError, match=r"workload\.options\.seq_len.*did you mean 'workload\.seq_len'"):
        study_from_params({"workload": "flan-t5-large", "workload.options.seq_len": 64})
    with pytest.raises(SpecError, match=r"did you mean 'method\.rank'"):
        study_from_params({"method": "lora", "method.options.rank": 8})
    assert study_from_params({"workload": "flan-t5-large", "workload.seq_len": 64}).workload.options == {"seq_len": 64}


@settings(max_examples=80, deadline=None)
@given(params=st.fixed_dictionaries({"workload": st.just("resnet18")}, optional={
    "device": st.sampled_from(["reram", "sram"]), "rows": st.sampled_from([32, 64, 64.0]),
    "cols": st.sampled_from([32, 128]), "column_mux": st.sampled_from([1, 2]), "w_bits": st.sampled_from([4, 8]),
    "write_policy": st.sampled_from(["all", "diff"]), "flip_prob": st.sampled_from([0, 0.25, 1]),
    "batch": st.sampled_from([1, 4]), "node_nm": st.sampled_from([22, 28.0]), "chip.tiles": st.sampled_from([16, 64]),
    "method": st.sampled_from(["inference", "lora"]), "workload.resolution": st.sampled_from([32, 64])}))
def test_flat_form_is_the_fields_as_validated(params):
    # flat() and the macro overrides read the models' fields as they are: what model_dump gives, value and type
    study = study_from_params(params)
    want = {"device": study.device, "accelerator": study.accelerator, "workload": study.workload.name,
            "method": study.method.name, "engine": study.engine}
    want.update({k: v for k, v in study.macro.model_dump().items() if v is not None})
    want.update(study.options.model_dump())
    want.update({f"workload.{k}": v for k, v in study.workload.options.items()})
    want.update({f"method.{k}": v for k, v in study.method.options.items()})
    want.update(study.accelerator_overrides)
    got = study.flat()
    assert list(got) == list(want) and [(type(v), v) for v in got.values()] == [(type(v), v) for v in want.values()]
    assert study.macro.dotted() == {f"macro.{k}": v for k, v in study.macro.model_dump().items() if v is not None}
