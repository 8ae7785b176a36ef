"""The two-stage ROI pipeline (HiRISE) and the full-frame baselines, priced with the IMC accelerator.

Schemes (each a list of stages; a stage is one sensor read-out, the network run on what it delivers,
and how many times per frame):

- ``hirise``: stage 1 reads the frame converted to gray and pooled k x k in the analog domain and runs
  the detector on it; stage 2 reads each ROI at full resolution (all channels) and runs the task network
  on it at the ROI size.
- ``full-frame``: the whole frame converted, sent and processed at full resolution.
- ``downscaled``: the whole frame converted and sent, downscaled digitally to ``downscale_resolution``
  (the downscale itself is not priced [A]) and processed at that size.

Networks are priced by the engine (:func:`imcsim.engine.evaluate`, inference, batch 1) at an input of the
same pixel count as the image they get (the zoo's inputs are square: side round(sqrt(h x w)) [A]) and
with the zoo's 3-channel stem even on a gray image [A]. Energy parts: ``sensor``, ``adc``, ``link`` (from
:mod:`imcsim.frontend.sensor`), ``compute`` (macro + digital units) and ``memory`` (buffers, NoC, DRAM,
writes and the standby power of the SRAM buffers). Peak on-chip memory of a stage: the converted image
it buffers plus the network's activation peak at its input size (the TinyTL/Rep-Net profiler convention
of :func:`imcsim.workload.accounting.peak_activation_bytes`); of a scheme: the largest stage.
Latency: stages one after the other, conversion, transfer and compute not overlapped [A].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from imcsim.config.study import NamedSpec, Study
from imcsim.engine.context import build_context
from imcsim.engine.evaluation import evaluate
from imcsim.engine.ledger import COMPONENTS
from imcsim.frontend.card import load_sensor
from imcsim.frontend.sensor import SENSOR_PARTS, Readout, SensorModel
from imcsim.frontend.spec import SensorStudy
from imcsim.workload.accounting import peak_activation_bytes

#: Accelerator energy components (engine ledger) grouped into the two accelerator parts.
COMPUTE_COMPONENTS: tuple[str, ...] = ("cell_read", "sense_amp", "adder_tree", "shift_accumulate", "control",
                                       "digital_unit")
MEMORY_COMPONENTS: tuple[str, ...] = ("buffer", "noc", "dram", "write", "leakage")
ACCEL_PARTS: tuple[str, ...] = ("compute", "memory")
#: Every energy part of a pipeline result, in report order.
PARTS: tuple[str, ...] = SENSOR_PARTS + ACCEL_PARTS
SCHEMES: tuple[str, ...] = ("hirise", "full-frame", "downscaled")
BASELINES: tuple[str, ...] = ("full-frame", "downscaled")

assert set(COMPUTE_COMPONENTS) | set(MEMORY_COMPONENTS) == set(COMPONENTS), "group every engine component"


@dataclass(frozen=True)
class NetworkCost:
    """One inference of a network at one input size on the accelerator."""

    name: str
    resolution: int
    energy_by_part_pj: dict[str, float]
    latency_ns: float
    activation_peak_bytes: float
    macs: int

    @property
    def energy_pj(self) -> float:
        return sum(self.energy_by_part_pj.values())


@dataclass(frozen=True)
class Stage:
    """One stage of a scheme: a read-out, the network run on its image, ``count`` times per frame."""

    scheme: str
    stage: str
    readout: Readout
    network: NetworkCost | None
    count: float = 1

    @property
    def energy_by_part_pj(self) -> dict[str, float]:
        out = {p: v * self.count for p, v in self.readout.energy_by_part_pj.items()}
        for p in ACCEL_PARTS:
            out[p] = (self.network.energy_by_part_pj[p] if self.network else 0.0) * self.count
        return out

    @property
    def bits(self) -> float:
        return self.readout.bits * self.count

    @property
    def latency_ns(self) -> float:
        return (self.readout.latency_ns + (self.network.latency_ns if self.network else 0.0)) * self.count

    @property
    def peak_memory_bytes(self) -> float:
        """The image of one read-out buffered plus the network's activation peak (items one at a time)."""
        return self.readout.buffer_bytes + (self.network.activation_peak_bytes if self.network else 0.0)

    def record(self) -> dict[str, Any]:
        e = self.energy_by_part_pj
        rec: dict[str, Any] = {"scheme": self.scheme, "stage": self.stage, "what": self.readout.what,
                               "count": self.count, "network": self.network.name if self.network else "",
                               "network_resolution": self.network.resolution if self.network else 0}
        rec.update({f"energy_{p}_pj": e[p] for p in PARTS})
        rec.update(energy_pj=sum(e.values()), frontend_energy_pj=sum(e[p] for p in SENSOR_PARTS), bits=self.bits,
                   latency_ns=self.latency_ns, peak_memory_bytes=self.peak_memory_bytes)
        return rec


@dataclass(frozen=True)
class Scheme:
    """A scheme's stages and their totals per frame."""

    name: str
    stages: tuple[Stage, ...]

    @property
    def energy_by_part_pj(self) -> dict[str, float]:
        out = dict.fromkeys(PARTS, 0.0)
        for s in self.stages:
            for p, v in s.energy_by_part_pj.items():
                out[p] += v
        return out

    @property
    def energy_pj(self) -> float:
        return sum(self.energy_by_part_pj.values())

    @property
    def frontend_energy_pj(self) -> float:
        """Sensor + ADC + link: what the in-sensor scheme changes directly."""
        e = self.energy_by_part_pj
        return sum(e[p] for p in SENSOR_PARTS)

    @property
    def bits(self) -> float:
        return sum(s.bits for s in self.stages)

    @property
    def latency_ns(self) -> float:
        return sum(s.latency_ns for s in self.stages)

    @property
    def peak_memory_bytes(self) -> float:
        return max((s.peak_memory_bytes for s in self.stages), default=0.0)

    def record(self) -> dict[str, Any]:
        e = self.energy_by_part_pj
        rec: dict[str, Any] = {"scheme": self.name}
        rec.update({f"energy_{p}_pj": e[p] for p in PARTS})
        rec.update(energy_pj=self.energy_pj, frontend_energy_pj=self.frontend_energy_pj, bits=self.bits,
                   latency_ns=self.latency_ns, peak_memory_bytes=self.peak_memory_bytes)
        return rec


#: Ratios baseline / hirise reported for each baseline (x > 1: the two-stage scheme is better).
RATIO_METRICS: tuple[str, ...] = ("bits", "frontend_energy_pj", "energy_pj", "latency_ns", "peak_memory_bytes")


@dataclass
class FrontendResult:
    """The schemes of one front-end study, their ratios and the assumptions they rest on."""

    study: SensorStudy
    sensor: SensorModel
    schemes: dict[str, Scheme]
    assumptions: list[str] = field(default_factory=list)

    def ratios(self) -> list[dict[str, Any]]:
        """baseline / hirise for every metric of :data:`RATIO_METRICS`, one record per baseline."""
        h = self.schemes["hirise"].record()
        out = []
        for b in BASELINES:
            if b not in self.schemes:
                continue
            rec_b = self.schemes[b].record()
            row: dict[str, Any] = {"baseline": b}
            for m in RATIO_METRICS:
                row[f"{m.removesuffix('_pj').removesuffix('_ns').removesuffix('_bytes')}_ratio"] = (
                    rec_b[m] / h[m] if h[m] else math.inf)
            out.append(row)
        return out

    def scheme_records(self) -> list[dict[str, Any]]:
        return [s.record() for s in self.schemes.values()]

    def stage_records(self) -> list[dict[str, Any]]:
        return [st.record() for s in self.schemes.values() for st in s.stages]


# -------------------------------------------------------------------------------------------- pricing
def equal_area_resolution(height: int, width: int) -> int:
    """Side of the square input with the same pixel count (the zoo builds square inputs) [A]."""
    return max(1, round(math.sqrt(height * width)))


def price_network(study: SensorStudy, net: NamedSpec, height: int, width: int) -> NetworkCost:
    """One inference of ``net`` at an image of ``height`` x ``width`` on the study's accelerator."""
    return _price_network(study.accelerator, tuple(sorted(study.accelerator_overrides.items())), study.device,
                          study.engine, net.name, tuple(sorted(net.options.items())),
                          equal_area_resolution(height, width))


@lru_cache(maxsize=256)
def _price_network(accelerator: str, overrides: tuple[tuple[str, Any], ...], device: str | None, engine: str,
                   name: str, options: tuple[tuple[str, Any], ...], resolution: int) -> NetworkCost:
    opts = dict(options)
    opts["resolution"] = resolution
    st = Study(accelerator=accelerator, accelerator_overrides=dict(overrides), device=device, engine=engine,
               workload=NamedSpec(name=name, options=opts), method=NamedSpec(name="inference"))
    result = evaluate(st)
    e = result.energy_pj
    parts = {"compute": sum(e.get(c, 0.0) for c in COMPUTE_COMPONENTS),
             "memory": sum(e.get(c, 0.0) for c in MEMORY_COMPONENTS)}
    step = build_context(st).step
    macs = sum(o.macs * o.executions for o in result.ops)
    return NetworkCost(name=name, resolution=resolution, energy_by_part_pj=parts, latency_ns=result.latency_ns,
                       activation_peak_bytes=peak_activation_bytes(step), macs=macs)


def _network(study: SensorStudy, net: NamedSpec | None, height: int, width: int) -> NetworkCost | None:
    return None if net is None else price_network(study, net, height, width)


def hirise_scheme(study: SensorStudy, sensor: SensorModel, rois: list[tuple[int, int, float]] | None = None
                  ) -> Scheme:
    """Stage 1 (gray, pooled frame + detector) and stage 2 (each ROI size + task network, times its
    count per frame). ``rois`` (height, width, count) replaces the study's ROIs (the break-even sweep)."""
    fe = study.frontend
    s1 = sensor.scaled_frame(fe.pool, fe.grayscale, field="frontend.pool")
    h1, w1, _ = s1.out_shape
    stages = [Stage("hirise", "1: detect", s1, _network(study, fe.detector, h1, w1))]
    roi_list = rois if rois is not None else study.roi_table()
    from_file = rois is None and fe.rois_file is not None
    for i, (h, w, n) in enumerate(roi_list):
        if n == 0:
            continue
        ro = sensor.crop(h, w, field="frontend.rois_file" if from_file else f"frontend.rois.{i}")
        stages.append(Stage("hirise", "2: ROI", ro, _network(study, fe.task, h, w), count=n))
    return Scheme("hirise", tuple(stages))


def baseline_schemes(study: SensorStudy, sensor: SensorModel) -> list[Scheme]:
    """The full frame converted and sent, processed at full resolution or after a digital downscale."""
    fe = study.frontend
    frame = sensor.frame()
    out = [Scheme("full-frame", (Stage("full-frame", "frame", frame,
                                       _network(study, fe.task, sensor.height_px, sensor.width_px)),))]
    if fe.task is not None and fe.downscale_resolution is not None:
        r = fe.downscale_resolution
        out.append(Scheme("downscaled", (Stage("downscaled", "frame", frame, _network(study, fe.task, r, r)),)))
    return out


def build_sensor(study: SensorStudy) -> SensorModel:
    card = load_sensor(study.sensor, study.sensor_overrides or None, base_dir=study.base_dir())
    return SensorModel(card, file=study.file)


def run_frontend(study: SensorStudy) -> FrontendResult:
    """Price the two-stage scheme and the baselines of ``study``."""
    study.check()
    sensor = build_sensor(study)
    schemes = {s.name: s for s in [hirise_scheme(study, sensor), *baseline_schemes(study, sensor)]}
    return FrontendResult(study=study, sensor=sensor, schemes=schemes, assumptions=assumptions(study, sensor))


def assumptions(study: SensorStudy, sensor: SensorModel) -> list[str]:
    """What every front-end result rests on (printed and written with it)."""
    card = sensor.card
    a_tagged = [n for n in type(card.params).model_fields if card.param(n).tag == "A"]
    return [
        f"sensor card {card.name}: {len(a_tagged)} of {len(type(card.params).model_fields)} parameters are "
        f"assumptions [A] ({', '.join(a_tagged)})",
        "ADC energy per conversion = Walden FoM x 2^bits (ENOB taken equal to the resolution) [A]",
        "stage 1 reads every pixel sample (analog gray and pooling need them all); stage 2 reads and converts "
        "only the ROI's samples (a second read of those pixels) [A]",
        "networks run at a square input of the same pixel count as their image; the gray stage-1 image goes "
        "through the zoo's 3-channel stem [A]",
        "the detector's output (ROI boxes) is free; the digital downscale of the 'downscaled' baseline is not "
        "priced [A]",
        "stages run one after the other: conversion, transfer and compute are not overlapped [A]",
        "ROI distribution: " + (f"measured from {study.frontend.rois_file.path} (boxes per size / frames; sides "
                                f"rounded up to {study.frontend.rois_file.bin_px} px)" if study.frontend.rois_file
                                else "given in the study") + "; counts are expected ROIs per frame",
        "peak memory: one read-out's converted image + the network's activation peak (TinyTL/Rep-Net "
        "profiler convention, 4 bytes per activation), ROIs one at a time [A]",
        f"networks: inference, batch 1, {study.engine} engine on {study.accelerator}"
        + (f" with device {study.device}" if study.device else "")
        + (f" ({', '.join(f'{k}={v}' for k, v in study.accelerator_overrides.items())})"
           if study.accelerator_overrides else ""),
    ]


# --------------------------------------------------------------------------------------------- output
def write_results(result: FrontendResult, out_dir: str | Path, breakeven: Any = None) -> list[Path]:
    """``stages.csv``, ``schemes.csv``, ``ratios.csv``, ``breakeven.csv`` (with a sweep) and
    ``frontend.json`` (all of it, the sensor card and the assumptions): what report/frontend.py reads."""
    import csv
    import json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = {"stages": result.stage_records(), "schemes": result.scheme_records(), "ratios": result.ratios()}
    if breakeven is not None:
        tables["breakeven"] = breakeven.points
    written = []
    for name, rows in tables.items():
        path = out / f"{name}.csv"
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        written.append(path)
    doc = {"study": result.study.model_dump(mode="json"), "sensor": result.sensor.card.name,
           "sensor_params": result.sensor.card.records(), "assumptions": result.assumptions, **tables,
           "breakeven_fraction": breakeven.records() if breakeven is not None else []}
    path = out / "frontend.json"
    path.write_text(json.dumps(doc, indent=1, default=lambda o: None if o != o else str(o)) + "\n")
    written.append(path)
    return written
