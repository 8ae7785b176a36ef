"""Run validation cases and judge them: simulated vs published, error %, band, verdict.

Verdict rules (the band is never moved to make a case pass):

- role ``fitted`` -> "fitted" (something was fitted to this figure; not evidence);
- role ``informative`` -> "informative";
- role ``validation``: inside the band -> "pass"; outside and the case states a known deviation
  (its cause) -> "known deviation"; outside otherwise -> "fail".
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imcsim.validate.cases import Case
from imcsim.validate.simulate import simulate

COLUMNS = ("case", "role", "source", "metric", "published", "unit", "simulated", "error_pct", "band", "verdict")


@dataclass(frozen=True)
class CaseResult:
    case: Case
    simulated: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def published(self) -> float:
        return self.case.published.value

    @property
    def error_pct(self) -> float:
        return 100.0 * (self.simulated - self.published) / self.published

    @property
    def in_band(self) -> bool:
        return self.case.band.contains(self.simulated, self.published)

    @property
    def verdict(self) -> str:
        return verdict(self.case, self.in_band)

    def record(self, full: bool = False) -> dict[str, Any]:
        c = self.case
        rec: dict[str, Any] = {"case": c.name, "role": c.role, "source": c.source, "metric": c.metric,
                               "published": self.published, "unit": c.published.unit,
                               "simulated": self.simulated, "error_pct": self.error_pct,
                               "band": c.band.text(), "verdict": self.verdict}
        if full:
            rec.update(title=c.title, published_tag=c.published.tag, in_band=self.in_band,
                       band_why=c.band.why, configuration=c.configuration, normalisation=c.normalisation,
                       known_deviation=c.known_deviation or "",
                       details="; ".join(f"{k}={_fmt(v)}" for k, v in self.details.items()))
        return rec


def verdict(case: Case, in_band: bool) -> str:
    if case.role == "fitted":
        return "fitted"
    if case.role == "informative":
        return "informative"
    if in_band:
        return "pass"
    return "known deviation" if case.known_deviation else "fail"


def run_case(case: Case) -> CaseResult:
    value, details = simulate(case)
    return CaseResult(case, float(value), details)


def run_suite(cases: list[Case]) -> list[CaseResult]:
    return [run_case(c) for c in cases]


def is_silicon(case: Case) -> bool:
    """A macro case whose published figure was measured on a chip (tag S): what "held-out hardware" counts."""
    return case.kind == "macro" and case.published.tag == "S"


def hardware_summary(results: list[CaseResult]) -> dict[str, Any]:
    """Held-out silicon cases (role validation) and how many land in their band; fitted silicon cases are
    counted apart (they are calibration, not evidence)."""
    held = [r for r in results if r.case.role == "validation" and is_silicon(r.case)]
    within = sum(r.in_band for r in held)
    return {"held_out_silicon": len(held), "within_band": within,
            "within_band_pct": 100.0 * within / len(held) if held else 0.0,
            "fitted_silicon": sum(r.case.role == "fitted" and is_silicon(r.case) for r in results)}


def hardware_summary_text(results: list[CaseResult]) -> str:
    h = hardware_summary(results)
    return (f"held-out silicon cases: {h['held_out_silicon']}, within their band: {h['within_band']} "
            f"({h['within_band_pct']:.0f} %); fitted silicon cases (not counted): {h['fitted_silicon']}")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v)
    return str(v)


# ---------------------------------------------------------------------------------------------- files
def write_csv(results: list[CaseResult], path: Path) -> Path:
    """``validation.csv``: one row per case with every column (configuration, normalisation, cause)."""
    import csv

    records = [r.record(full=True) for r in results]
    cols = list(records[0]) if records else list(COLUMNS)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for rec in records:
            w.writerow({k: _fmt(v) if isinstance(v, float) else v for k, v in rec.items()})
    return path


_VERDICT_CLASS = {"pass": "pass", "fail": "fail", "known deviation": "deviation", "fitted": "fitted",
                  "informative": "informative"}


def html_fragment(results: list[CaseResult]) -> str:
    """A self-contained ``<section>`` (table + notes, inline style) that report.html can embed."""
    e = html.escape
    rows = []
    for r in results:
        c = r.case
        note = c.known_deviation if r.verdict == "known deviation" else c.normalisation or c.configuration
        rows.append(
            f'<tr class="v-{_VERDICT_CLASS[r.verdict]}"><td><b>{e(c.name)}</b><br><small>{e(c.title)}</small></td>'
            f"<td>{e(c.source)}</td><td>{e(c.metric)}</td>"
            f'<td class="n">{r.published:.4g} {e(c.published.unit)}</td><td class="n">{r.simulated:.4g}</td>'
            f'<td class="n">{r.error_pct:+.1f}</td><td>{e(c.band.text())}</td><td>{e(r.verdict)}</td>'
            f"<td><small>{e(note)}</small></td></tr>")
    counts = {v: sum(r.verdict == v for r in results) for v in _VERDICT_CLASS}
    summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    return (
        '<section class="imcsim-validation">\n<h2>Validation against published figures</h2>\n'
        f"<p>{e(summary)}; {e(hardware_summary_text(results))}. Silicon macros: pass within a factor of 2; accounting claims: within the rounding "
        "of the claim. <i>fitted</i> rows were used for calibration and are not evidence.</p>\n"
        "<style>.imcsim-validation table{border-collapse:collapse;font-size:90%}"
        ".imcsim-validation td,.imcsim-validation th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}"
        ".imcsim-validation td.n{text-align:right;white-space:nowrap}"
        ".imcsim-validation .v-pass{background:#eaf7ea}.imcsim-validation .v-fail{background:#fbe3e3}"
        ".imcsim-validation .v-deviation{background:#fff4d6}.imcsim-validation .v-fitted{background:#e8eefb}"
        ".imcsim-validation .v-informative{background:#f2f2f2}</style>\n"
        "<table><thead><tr><th>case</th><th>source</th><th>metric</th><th>published</th><th>simulated</th>"
        "<th>error %</th><th>band</th><th>verdict</th><th>configuration / cause</th></tr></thead><tbody>\n"
        + "\n".join(rows) + "\n</tbody></table>\n</section>\n")


def write_outputs(results: list[CaseResult], out_dir: Path) -> list[Path]:
    """``validation.csv`` and ``validation.html`` (fragment) in ``out_dir`` (created)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(results, out_dir / "validation.csv")
    html_path = out_dir / "validation.html"
    html_path.write_text(html_fragment(results), encoding="utf-8")
    return [csv_path, html_path]
