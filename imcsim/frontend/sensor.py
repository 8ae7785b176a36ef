"""The sensor cost model: pixel reads, analog grayscale and pooling, column ADCs, readout and link.

Why counts first: a read-out of the array is described by how many samples it reads out of pixels,
how many gray samples and pooled merges the analog domain forms, how many conversions the column ADCs
make and how many bits leave the sensor; one function prices those counts with the card. So the
two-stage ROI scheme and the full-frame baseline are priced by the same arithmetic (docs/frontend.md):

- pixel reads x ``pixel_read_energy_pj`` + gray samples x ``gray_energy_pj`` + merged samples x
  ``pool_energy_pj``                                                   -> part ``sensor``
- conversions x ``adc_fom_fj`` x 2^``adc_bits`` (Walden FoM, ENOB taken = resolution) -> part ``adc``
- bits x (``readout_energy_per_bit_pj`` + ``link_energy_per_bit_pj``)  -> part ``link``
- time: conversion rounds x ``adc_conversion_ns`` (a round converts up to ``column_adcs`` samples of one
  (pooled) row) + bits / ``link_bandwidth_gbps``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from imcsim.errors import SpecError
from imcsim.frontend.card import SensorCard

#: Energy parts of a read-out, in report order.
SENSOR_PARTS: tuple[str, ...] = ("sensor", "adc", "link")


@dataclass(frozen=True)
class Readout:
    """One read-out of (part of) the array: event counts, their energy in pJ and their time in ns."""

    what: str
    pixel_reads: int
    gray_samples: int
    pooled_inputs: int
    conversions: int
    bits: int
    conversion_rounds: int
    pixel_pj: float
    analog_pj: float
    adc_pj: float
    readout_pj: float
    link_pj: float
    conversion_ns: float
    link_ns: float
    #: the (pooled) image this read-out delivers: rows, columns, channels
    out_shape: tuple[int, int, int] = (0, 0, 0)

    @property
    def energy_by_part_pj(self) -> dict[str, float]:
        return {"sensor": self.pixel_pj + self.analog_pj, "adc": self.adc_pj,
                "link": self.readout_pj + self.link_pj}

    @property
    def energy_pj(self) -> float:
        return self.pixel_pj + self.analog_pj + self.adc_pj + self.readout_pj + self.link_pj

    @property
    def latency_ns(self) -> float:
        """Conversion then transfer, not overlapped [A] (an upper bound; a line-buffered sensor overlaps them)."""
        return self.conversion_ns + self.link_ns

    @property
    def buffer_bytes(self) -> float:
        """Bytes of the converted image held by the accelerator (one read-out)."""
        return self.bits / 8

    def scaled(self, k: int) -> Readout:
        """``k`` read-outs of the same kind one after the other (counts, energy and time times k)."""
        return replace(self, pixel_reads=self.pixel_reads * k, gray_samples=self.gray_samples * k,
                       pooled_inputs=self.pooled_inputs * k, conversions=self.conversions * k,
                       bits=self.bits * k, conversion_rounds=self.conversion_rounds * k,
                       pixel_pj=self.pixel_pj * k, analog_pj=self.analog_pj * k, adc_pj=self.adc_pj * k,
                       readout_pj=self.readout_pj * k, link_pj=self.link_pj * k,
                       conversion_ns=self.conversion_ns * k, link_ns=self.link_ns * k)


class SensorModel:
    """Prices read-outs of the array of one sensor card."""

    def __init__(self, card: SensorCard, file: str = "<sensor>") -> None:
        self.card = card
        self.file = file
        v = card.value
        self.width_px = int(v("width_px"))
        self.height_px = int(v("height_px"))
        self.channels = int(v("channels"))
        self.adc_bits = int(v("adc_bits"))
        self.column_adcs = int(v("column_adcs"))
        self.pixel_read_energy_pj = v("pixel_read_energy_pj")
        self.gray_energy_pj = v("gray_energy_pj")
        self.pool_energy_pj = v("pool_energy_pj")
        self.readout_energy_per_bit_pj = v("readout_energy_per_bit_pj")
        self.link_energy_per_bit_pj = v("link_energy_per_bit_pj")
        self.adc_conversion_ns = v("adc_conversion_ns")
        self.link_bandwidth_gbps = v("link_bandwidth_gbps")
        # Walden FoM = P / (2^ENOB f_s) is energy per conversion step: E = FoM x 2^ENOB, ENOB = bits [A]
        self.adc_energy_pj = v("adc_fom_fj") * 2.0 ** self.adc_bits * 1e-3

    @property
    def frame_samples(self) -> int:
        return self.width_px * self.height_px * self.channels

    # ------------------------------------------------------------------------------------ read-outs
    def frame(self) -> Readout:
        """The whole array converted and sent at full resolution (the baseline)."""
        h, w, c = self.height_px, self.width_px, self.channels
        n = h * w * c
        return self._price("full frame", reads=n, gray=0, pooled=0, conversions=n,
                           rounds=h * math.ceil(w * c / self.column_adcs), out_shape=(h, w, c))

    def scaled_frame(self, pool: int, grayscale: bool, field: str = "pool") -> Readout:
        """Stage 1 of HiRISE: every sample is read, combined to gray and pooled k x k in the analog
        domain, and only the pooled samples are converted and sent."""
        h, w, c = self.height_px, self.width_px, self.channels
        if pool < 1 or h % pool or w % pool:
            divisors = [k for k in range(1, min(h, w) + 1) if h % k == 0 and w % k == 0]
            raise SpecError(self.file, field, pool, f"a divisor of the frame {w} x {h}: "
                            + ", ".join(str(k) for k in divisors), problem="pooling factor does not divide the frame:")
        c_out = 1 if grayscale else c
        gray = h * w if grayscale and c > 1 else 0
        pooled = h * w * c_out if pool > 1 else 0
        ho, wo = h // pool, w // pool
        n_out = ho * wo * c_out
        what = f"{'gray ' if grayscale else ''}{pool}x{pool}-pooled frame"
        return self._price(what, reads=h * w * c, gray=gray, pooled=pooled, conversions=n_out,
                           rounds=ho * math.ceil(wo * c_out / self.column_adcs), out_shape=(ho, wo, c_out))

    def crop(self, height: int, width: int, field: str = "roi") -> Readout:
        """Stage 2 of HiRISE: one ROI read and converted at full resolution, every channel. Only the
        ROI's samples are read and converted (row select + column ADCs of the other columns gated) [A]."""
        if height > self.height_px or width > self.width_px or height < 1 or width < 1:
            raise SpecError(self.file, field, f"{width} x {height}",
                            f"1..{self.width_px} x 1..{self.height_px} (the frame, width x height)",
                            problem="ROI does not fit in the frame:")
        c = self.channels
        n = height * width * c
        return self._price(f"ROI {width}x{height}", reads=n, gray=0, pooled=0, conversions=n,
                           rounds=height * math.ceil(width * c / self.column_adcs), out_shape=(height, width, c))

    def _price(self, what: str, *, reads: int, gray: int, pooled: int, conversions: int, rounds: int,
               out_shape: tuple[int, int, int]) -> Readout:
        bits = conversions * self.adc_bits
        return Readout(
            what=what, pixel_reads=reads, gray_samples=gray, pooled_inputs=pooled, conversions=conversions,
            bits=bits, conversion_rounds=rounds,
            pixel_pj=reads * self.pixel_read_energy_pj,
            analog_pj=gray * self.gray_energy_pj + pooled * self.pool_energy_pj,
            adc_pj=conversions * self.adc_energy_pj,
            readout_pj=bits * self.readout_energy_per_bit_pj,
            link_pj=bits * self.link_energy_per_bit_pj,
            conversion_ns=rounds * self.adc_conversion_ns,
            link_ns=bits / self.link_bandwidth_gbps,  # bits / (Gbit/s) = ns
            out_shape=out_shape)
