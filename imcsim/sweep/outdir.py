"""Output folders that never destroy earlier results: one writer at a time, files swapped in whole.

Both ``imcsim run`` and ``imcsim sweep`` write into a folder the user names, so both go through here:

- **One writer per folder**: a lock file (:data:`LOCK`) holding the writer's pid, taken before anything
  is written; a lock left by a dead process is taken over. A second ``run`` or ``sweep`` into the same
  folder is refused with one line naming the pid, instead of both "succeeding" with one result gone.
- **Nothing overwritten by accident**: a folder that already holds a run (``run.json`` or a
  ``summary.csv``) or a sweep (``sweep.json``) is refused unless ``force``; what is there is only
  deleted once the new results are complete.
- **Atomic files**: a run writes into a hidden staging folder inside the output folder, then every
  file is renamed into place (``os.replace``, atomic on one file system) and ``run.json`` written
  last, so a crash or a full disk leaves either the old files or the new ones, never half a file.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from imcsim.errors import SpecError

LOCK = ".sweep.lock"          # one name for both kinds of writer, so they exclude each other
RUN_MANIFEST = "run.json"
RUN_FORMAT = "imcsim-run"
SWEEP_MANIFEST = "sweep.json"
_STAGING = ".staging-"
#: files an earlier ``imcsim run`` leaves (besides report tables and plots, which the report rewrites)
_RUN_PATTERNS = ("*summary.csv", "*layers.csv", "*ledger.json", "*timeline.csv", "description.txt", RUN_MANIFEST)


# ---------------------------------------------------------------------------------------------- lock


def acquire_lock(out: Path) -> Path:
    """One writer per folder: a lock file holding our pid; a lock of a dead process is taken over."""
    path = out / LOCK
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            pid = lock_pid(path)
            if pid is not None and pid != os.getpid() and _alive(pid):
                raise _locked(out, pid) from None
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        return path
    raise SpecError(str(out), LOCK, problem="cannot take the folder's lock file")


def check_not_locked(out: Path) -> None:
    pid = lock_pid(out / LOCK)
    if pid is not None and pid != os.getpid() and _alive(pid):
        raise _locked(out, pid)


def release_lock(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            if lock_pid(path) == os.getpid():
                path.unlink()


def lock_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _locked(out: Path, pid: int) -> SpecError:
    return SpecError(str(out), LOCK, pid, problem="another imcsim run or sweep is writing into this folder, pid",
                     allowed="wait for it to finish, or use another output folder")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------------------------------------- what a folder holds


def check_folder(out: Path) -> None:
    """The output path is a folder or does not exist yet (a file there is an error, not a crash)."""
    if out.exists() and not out.is_dir():
        raise SpecError(str(out), None, problem="output path exists and is not a folder",
                        allowed="a new or empty folder, or an imcsim output folder")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise SpecError(str(out), None, problem=f"{parent} is a file, not a folder",
                                allowed="an output path whose parents are folders")
            break


def run_files(out: Path) -> list[Path]:
    """The files an earlier ``imcsim run`` left in ``out`` (empty when it holds no run)."""
    if not out.is_dir():
        return []
    found: dict[Path, None] = {}
    for pattern in _RUN_PATTERNS:
        found.update(dict.fromkeys(p for p in sorted(out.glob(pattern)) if p.is_file()))
    return list(found)


def holds_sweep(out: Path) -> bool:
    return (out / SWEEP_MANIFEST).is_file() or any((out / "results").glob("part-*.parquet"))


# ---------------------------------------------------------------------------------------------- runs


class RunFolder:
    """The output folder of ``imcsim run``: checked and locked on entry, files staged, then committed.

    Use as a context manager; write every file under :attr:`staging`, then call :meth:`commit`.
    Leaving without ``commit`` (an error, Ctrl-C) removes the staging folder and keeps what was there.
    """

    def __init__(self, out: str | Path, *, force: bool = False, flag: str = "--out") -> None:
        self.out = Path(out)
        self.force = force
        self.flag = flag
        self.staging = self.out / f"{_STAGING}{os.getpid()}"
        self._lock: Path | None = None
        self._old_runs: list[Path] = []
        self._old_sweep = False
        self._created: list[Path] = []

    def __enter__(self) -> RunFolder:
        out = self.out
        check_folder(out)
        check_not_locked(out)
        self._old_runs = run_files(out)
        self._old_sweep = holds_sweep(out)
        if not self.force:
            if self._old_sweep:
                raise SpecError(str(out), SWEEP_MANIFEST, problem="holds a sweep; a run would mix with it",
                                allowed=f"another {self.flag} folder, or --force to replace the sweep's results")
            if self._old_runs:
                raise SpecError(str(out), self._old_runs[0].name, problem="holds an earlier run",
                                allowed=f"another {self.flag} folder, or --force to replace it")
        self._created = [p for p in (out, *out.parents) if not p.exists()]
        out.mkdir(parents=True, exist_ok=True)
        self._lock = acquire_lock(out)
        try:
            for stale in out.glob(f"{_STAGING}*"):   # left by a killed run (its lock is gone, or we hold it)
                shutil.rmtree(stale, ignore_errors=True)
            self.staging.mkdir()
        except BaseException:
            release_lock(self._lock)
            raise
        return self

    def commit(self, manifest: Mapping[str, Any]) -> list[Path]:
        """Replace the folder's earlier results by the staged files; ``run.json`` goes in last."""
        if self._old_sweep:
            from imcsim.sweep.store import clear_store

            clear_store(self.out)
        staged = sorted(p for p in self.staging.iterdir() if p.is_file())
        new_names = {p.name for p in staged}
        for old in self._old_runs:
            if old.name not in new_names:
                old.unlink(missing_ok=True)
        moved = []
        for p in staged:
            os.replace(p, self.out / p.name)
            moved.append(self.out / p.name)
        write_json(self.out / RUN_MANIFEST, {"format": RUN_FORMAT, **manifest})
        shutil.rmtree(self.staging, ignore_errors=True)
        self._created = []
        return moved

    def __exit__(self, *exc: Any) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        release_lock(self._lock)
        for folder in self._created:  # a run that failed leaves no empty folders it made behind
            with contextlib.suppress(OSError):
                folder.rmdir()


@contextlib.contextmanager
def locked(out: Path) -> Iterator[Path]:
    """Hold the folder's lock (e.g. while a report is written next to the results)."""
    lock = acquire_lock(out)
    try:
        yield lock
    finally:
        release_lock(lock)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON to a temporary name, then rename it into place."""
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
