"""Sensor cards and the sensor cost model: energies and times by hand (card devices/sensors/hirise-vga.yaml)."""

import pytest

from imcsim.errors import SpecError
from imcsim.frontend import list_sensors, load_sensor
from imcsim.frontend.sensor import SensorModel


@pytest.fixture(scope="module")
def vga() -> SensorModel:
    return SensorModel(load_sensor("hirise-vga"))


def test_builtin_card_loads_with_sources():
    card = load_sensor("hirise-vga")
    assert "hirise-vga" in list_sensors()
    assert card.value("width_px") == 640 and card.param("adc_fom_fj").unit == "fJ"
    assert all(r["source"] and r["tag"] in "STDA" for r in card.records())


def test_adc_energy_from_fom_and_resolution(vga):
    # Walden: E = FoM x 2^ENOB = 100 fJ x 2^8 = 25,600 fJ = 25.6 pJ
    assert vga.adc_energy_pj == pytest.approx(25.6)
    card = load_sensor("hirise-vga", {"adc_bits": 10, "adc_fom_fj": 50})
    # 50 fJ x 1024 = 51,200 fJ = 51.2 pJ
    assert SensorModel(card).adc_energy_pj == pytest.approx(51.2)
    assert card.param("adc_bits").tag == "A" and card.param("adc_bits").source == "override"


def test_full_frame_by_hand(vga):
    r = vga.frame()
    # 640 x 480 x 3 = 921,600 samples, each read, converted and sent as 8 bits
    assert (r.pixel_reads, r.conversions, r.bits) == (921_600, 921_600, 7_372_800)
    assert r.pixel_pj == pytest.approx(921_600 * 2.0)             # 1,843,200 pJ
    assert r.analog_pj == 0
    assert r.adc_pj == pytest.approx(921_600 * 25.6)              # 23,592,960 pJ
    assert r.readout_pj == pytest.approx(7_372_800 * 0.1)         # 737,280 pJ
    assert r.link_pj == pytest.approx(7_372_800 * 5.0)            # 36,864,000 pJ
    assert r.energy_by_part_pj == pytest.approx({"sensor": 1_843_200, "adc": 23_592_960, "link": 37_601_280})
    # 480 rows x ceil(1920 samples / 1920 ADCs) = 480 rounds x 10 us; 7,372,800 bit / 2 Gbit/s
    assert r.conversion_ns == pytest.approx(4_800_000) and r.link_ns == pytest.approx(3_686_400)
    assert r.buffer_bytes == 921_600


def test_gray_pooled_frame_by_hand(vga):
    r = vga.scaled_frame(4, grayscale=True)
    # all 921,600 samples read; 307,200 gray samples formed; 307,200 merged into 160 x 120 pooled ones
    assert (r.pixel_reads, r.gray_samples, r.pooled_inputs, r.conversions) == (921_600, 307_200, 307_200, 19_200)
    # 921,600 x 2.0 + 307,200 x 0.3 + 307,200 x 0.1 = 1,843,200 + 92,160 + 30,720
    assert r.energy_by_part_pj["sensor"] == pytest.approx(1_966_080)
    assert r.adc_pj == pytest.approx(19_200 * 25.6)               # 491,520 pJ
    assert r.bits == 153_600 and r.energy_by_part_pj["link"] == pytest.approx(153_600 * 5.1)  # 783,360 pJ
    assert r.conversion_ns == pytest.approx(120 * 10_000) and r.link_ns == pytest.approx(76_800)
    assert r.out_shape == (120, 160, 1)
    colour = vga.scaled_frame(2, grayscale=False)
    # no gray step: 921,600 samples merged 2 x 2 into 320 x 240 x 3 = 230,400 conversions
    assert (colour.gray_samples, colour.pooled_inputs, colour.conversions) == (0, 921_600, 230_400)


def test_roi_crop_by_hand(vga):
    r = vga.crop(104, 105)
    # 104 x 105 x 3 = 32,760 samples at full resolution
    assert r.conversions == 32_760 and r.bits == 262_080
    assert r.energy_by_part_pj == pytest.approx({"sensor": 65_520, "adc": 838_656, "link": 1_336_608})
    assert r.conversion_ns == pytest.approx(104 * 10_000) and r.link_ns == pytest.approx(131_040)
    assert r.scaled(3).bits == 3 * 262_080 and r.scaled(3).latency_ns == pytest.approx(3 * r.latency_ns)


def test_data_and_frontend_reduction_by_hand(vga):
    frame, s1, s2 = vga.frame(), vga.scaled_frame(4, True), vga.crop(104, 105)
    # 7,372,800 / (153,600 + 262,080) = 17.74
    assert frame.bits / (s1.bits + s2.bits) == pytest.approx(17.7367, rel=1e-4)
    # 63,037,440 / (3,240,960 + 2,240,784) = 63,037,440 / 5,481,744 = 11.50
    assert frame.energy_pj / (s1.energy_pj + s2.energy_pj) == pytest.approx(11.4995, rel=1e-4)


def test_bad_pool_and_roi_are_one_line_errors(vga):
    with pytest.raises(SpecError, match=r"pool: pooling factor does not divide the frame: 7; allowed: .*1, 2, 4, 5, 8"):
        vga.scaled_frame(7, True)
    with pytest.raises(SpecError, match=r"roi: ROI does not fit in the frame: '641 x 10'"):
        vga.crop(10, 641)


def test_card_inheritance_and_unit_checks(tmp_path):
    base = load_sensor("hirise-vga").file
    child = tmp_path / "hd.yaml"
    child.write_text(f"kind: sensor\ninherits: {base}\nparams:\n"
                     "  width_px: {value: 1280, tag: A, source: test}\n")
    card = load_sensor(str(child))
    assert card.value("width_px") == 1280 and card.value("height_px") == 480
    assert card.defined_in["width_px"] == "hd" and card.param("width_px").unit == "px"
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"kind: sensor\ninherits: {base}\nparams:\n"
                   "  link_energy_per_bit_pj: {value: 5, unit: fJ, tag: A, source: test}\n")
    with pytest.raises(SpecError, match="params.link_energy_per_bit_pj.unit: wrong unit 'fJ'; allowed: pJ"):
        load_sensor(str(bad))
    device = tmp_path / "dev.yaml"
    device.write_text(f"kind: device\ninherits: {base}\n")
    with pytest.raises(SpecError, match="kind"):
        load_sensor(str(device))
    with pytest.raises(SpecError, match="unknown sensor"):
        load_sensor("no-such-sensor")
