"""Workload cards: every built-in card loads, overrides apply, bad cards are one-line SpecErrors."""

import pytest

from imcsim.errors import SpecError
from imcsim.paths import workloads_dir
from imcsim.workload import zoo
from imcsim.workload.cards import list_workloads, load_card, load_workload

BUILTIN = ["flan-t5-large", "mobilenetv2", "mobilenetv3-large", "proxylessnas-mobile", "resnet18",
           "resnet18-scalesim", "resnet34", "resnet50", "tiny-cnn", "vgg16", "vit-b16"]


def test_every_builtin_workload_has_a_card():
    assert set(BUILTIN) <= set(list_workloads())
    # every zoo model has a card of the same name
    assert set(zoo.names()) <= set(list_workloads())


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_cards_load(name):
    card, path = load_card(name)
    assert card.name == name == path.stem and card.source and card.description
    g = load_workload(name)
    assert g.meta["workload"] == name and g.meta["batch"] >= 1 and g.macs > 0


def test_card_defaults_equal_zoo_reference_totals():
    # published totals [MOBILENETV2] [PROXYLESSNAS]: MobileNetV2 1.0 @224 300,774,272 MACs; ProxylessNAS 4,080,512 params
    assert load_workload("mobilenetv2").macs == 300_774_272
    assert load_workload("proxylessnas-mobile").n_params == 4_080_512
    # resnet18-scalesim: the SCALE-Sim CSV has the same MACs as the zoo model (1,814,073,344)
    assert load_workload("resnet18-scalesim").macs == 1_814_073_344
    # flan-t5-large card uses LoRAFusion's batch 10 (section 6)
    assert load_workload("flan-t5-large").meta["batch"] == 10


def test_overrides():
    g = load_workload("proxylessnas-mobile", resolution=160, classes=102, batch=8, seq_len=None)
    assert g.input_shape == (3, 160, 160) and g["classifier"].out_shape == (102,) and g.meta["batch"] == 8
    # zoo names and files work without a card
    assert load_workload("resnet18", batch=4).meta["batch"] == 4
    g = load_workload(str(workloads_dir() / "resnet18-scalesim.csv"), batch=2)
    assert g.meta["batch"] == 2 and g.macs == 1_814_073_344


def test_unknown_name_lists_known_ones():
    with pytest.raises(SpecError, match="unknown workload 'resnet20'") as exc:
        load_workload("resnet20")
    assert all(n in str(exc.value) for n in BUILTIN)


def test_bad_overrides_are_spec_errors():
    with pytest.raises(SpecError, match=r"<flags>: resolution"):
        load_workload("flan-t5-large", resolution=224)  # T5 has no image resolution
    with pytest.raises(SpecError, match=r"<flags>: batch"):
        load_workload("resnet18", batch=0)
    with pytest.raises(SpecError, match=r"<flags>: classes"):
        load_workload("resnet18-scalesim", classes=10)


def test_user_card_with_file_and_errors(tmp_path):
    (tmp_path / "net.csv").write_text("Layer Name, M, N, K,\nfc,4,8,16,\n")
    card = tmp_path / "mine.yaml"
    card.write_text("name: mine\ndescription: d\nsource: s\nfile: net.csv\noptions: {batch: 3}\n")
    g = load_workload(card)
    assert g.macs == 4 * 8 * 16 and g.meta["batch"] == 3 and g.meta["workload"] == "mine"

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ndescription: d\nsource: s\nmodel: resnet18\noptions: {resolutoin: 3}\n")
    with pytest.raises(SpecError, match=r"bad.yaml: options.resolutoin: unknown key \(did you mean 'resolution'"):
        load_workload(bad)
    both = tmp_path / "both.yaml"
    both.write_text("name: both\ndescription: d\nsource: s\nmodel: resnet18\nfile: net.csv\n")
    with pytest.raises(SpecError, match="exactly one of 'model'"):
        load_workload(both)
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text("name: t\ndescription: d\nsource: s\nmodel: vgg16\noptions: {resolution: 16}\n")
    with pytest.raises(SpecError, match="tiny.yaml: workload.*cannot be built"):
        load_workload(tiny)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("name: w\ndescription: d\nsource: s\nmodel: tiny-cnn\noptions: {seq_len: 5}\n")
    with pytest.raises(SpecError, match=r"wrong.yaml: options.seq_len"):
        load_workload(wrong)
    with pytest.raises(SpecError, match="does not exist"):
        load_workload(tmp_path / "missing.yaml")
