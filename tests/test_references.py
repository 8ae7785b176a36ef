"""Citations resolve inside the project: every ``[KEY]`` cited in cards, presets, code and docs is defined in
docs/references.md, and no file points at a path outside the repository (the project must stand alone)."""
from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFS = ROOT / "docs" / "references.md"
#: Provenance tags, never keys: S/T/D/A for numbers, P/U for method facts (see docs/references.md);
#: ``[KEY]`` is the placeholder the docs use to show the citation form.
TAGS = {"S", "T", "D", "A", "P", "U"}
PLACEHOLDERS = {"KEY"}
DEFINITION = re.compile(r"^- \*\*\[([A-Z][A-Z0-9-]*)\]\*\*", re.M)
# One key or a comma-separated list in brackets; not an index (``x[N]``) and not a Markdown link (``[A](b)``).
CITATION = re.compile(r"(?<![\w\]\[])\[([A-Z][A-Z0-9-]*(?:, ?[A-Z][A-Z0-9-]*)*)\](?![(\[])")
# Cited folders (what issue 14 names) and the README; tests are scanned only for outside paths.
CITING = ["devices", "workloads", "imcsim", "docs", "benchmarks", "README.md"]
SKIP_DIRS = {".venv", ".git", "__pycache__", "reports", "build", "dist", ".hypothesis", ".pytest_cache",
             ".ruff_cache", "node_modules"}
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".cfg", ".toml", ".txt", ".ipynb", ".json", ".csv", ".html"}
OUTSIDE = [
    (re.compile(r"\.\./shared|/work/(?:shared|main|wt)\b|shared[/]reference"), "a path outside the repository"),
    (re.compile(r"\b(?:training-methods|seed-systems|peers)\.md\b"), "a reference file that is not in the project"),
    (re.compile(r"\bdevices\.md,? (?:sections? |section |sec\. )?\d"), "a section number of the outside devices.md"),
]


def _definitions() -> list[str]:
    return DEFINITION.findall(REFS.read_text(encoding="utf-8"))


def _files(entries: list[str]):
    for entry in entries:
        path = ROOT / entry
        if path.is_file():
            yield path
            continue
        for f in sorted(path.rglob("*")):
            if f.is_file() and f.suffix in TEXT_SUFFIXES and not SKIP_DIRS.intersection(f.relative_to(ROOT).parts):
                yield f


def _citable_text(path: Path) -> str:
    """The prose of a file: for Python only comments and string literals (code like ``type[M]`` is not prose)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        return text
    parts = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in (tokenize.COMMENT, tokenize.STRING) or tok.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
            parts.append(tok.string)
    return "\n".join(parts)


def test_reference_keys_are_unique_and_complete_entries():
    keys = _definitions()
    assert len(keys) >= 40, "docs/references.md lost its entries"
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    assert not dupes, f"keys defined twice in docs/references.md: {dupes}"
    assert not TAGS.intersection(keys), "a provenance tag letter is used as a key"
    text = REFS.read_text(encoding="utf-8")
    for key in keys:
        entry = text[text.index(f"**[{key}]**"):].split("\n- **[", 1)[0]
        assert len(" ".join(entry.split())) >= 80, f"[{key}] is too short to say what it is and what it supports"
        assert re.search(r"\b(19|20)\d\d\b|repository|github|onnx\.ai|DOI|arXiv|NSF PAR|not recorded|mipi\.org", entry), f"[{key}] has no year or repository"


def test_every_cited_key_resolves():
    known = set(_definitions()) | TAGS | PLACEHOLDERS
    missing: dict[str, set[str]] = {}
    cited = 0
    for f in _files(CITING):
        if f == REFS:
            continue
        for group in CITATION.findall(_citable_text(f)):
            for key in re.split(r", ?", group):
                cited += 1
                if key not in known:
                    missing.setdefault(key, set()).add(str(f.relative_to(ROOT)))
    assert cited > 100, "the scan found almost no citations: the pattern or the folders are wrong"
    assert not missing, "keys cited but not defined in docs/references.md: " + "; ".join(
        f"[{k}] in {', '.join(sorted(v))}" for k, v in sorted(missing.items()))


def test_device_card_sources_cite_keys_in_brackets():
    """A card's sources name their keys as [KEY], so the resolution check above sees them."""
    bare = re.compile(r"(?<![\[\w-])(?:P[1-8]|S[1-6]|M[12]|R[1-3]|T[1-9]|N1|L1|E1)(?![\]\w])")
    offenders = []
    for f in _files(["devices", "workloads"]):
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if bare.search(line.split("#", 1)[0] if f.suffix in (".yaml", ".yml") else line):
                offenders.append(f"{f.relative_to(ROOT)}:{n}")
    assert not offenders, "bare source keys (write [KEY]): " + ", ".join(offenders[:20])


@pytest.mark.parametrize("pattern,what", OUTSIDE, ids=["path", "file", "section"])
def test_nothing_points_outside_the_repository(pattern, what):
    hits = []
    for f in _files(CITING + ["tests", "Makefile", "setup.cfg", "pyproject.toml", "examples"]):
        if f == Path(__file__).resolve():
            continue
        for n, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{f.relative_to(ROOT)}:{n}")
    assert not hits, f"{what}: " + ", ".join(hits[:30])
