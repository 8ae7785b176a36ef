"""The package list in setup.cfg must cover every subpackage (it is explicit, see setup.cfg)."""

import configparser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_setup_cfg_lists_every_subpackage():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = {p.strip() for p in cfg["options"]["packages"].split() if p.strip()}
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "imcsim").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    missing = on_disk - listed
    assert not missing, f"add to setup.cfg [options] packages: {sorted(missing)}"
    # a folder of modules without __init__.py is a namespace package: not listed, so not in the wheel
    code_dirs = {p.parent for p in (ROOT / "imcsim").rglob("*.py") if "__pycache__" not in p.parts}
    assert not [d for d in code_dirs if not (d / "__init__.py").is_file()], "add __init__.py"
    assert {"imcsim._builtin.devices", "imcsim._builtin.workloads"} <= listed


def test_builtin_folders_found_from_checkout():
    from imcsim import paths

    assert paths.devices_dir() == ROOT / "devices"
    assert paths.workloads_dir() == ROOT / "workloads"


@pytest.mark.slow
def test_installed_wheel_finds_the_builtin_cards(tmp_path):
    """Build the wheel, unpack it elsewhere, and run imcsim from another directory: the cards must come
    from the wheel's imcsim/_builtin/, not from this checkout."""
    import json
    import os
    import shutil
    import subprocess
    import sys
    import zipfile

    # build from a copy: setuptools leaves build/ and *.egg-info next to the sources it builds
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", "reports", "__pycache__",
                                                             "*.egg-info", ".pytest_cache", ".hypothesis"))
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), str(src)], capture_output=True, text=True, cwd=tmp_path)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheels.glob("imcsim-*.whl")
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    assert (site / "imcsim" / "_builtin" / "devices" / "sas-mram.yaml").is_file()
    assert (site / "imcsim" / "_builtin" / "workloads" / "studies" / "default.yaml").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = subprocess.run([sys.executable, "-c", "import imcsim, imcsim.paths as p; "
                            "print(imcsim.__file__); print(p.devices_dir())"],
                           capture_output=True, text=True, cwd=elsewhere, env=env)
    module_file, devices = probe.stdout.split()
    assert module_file.startswith(str(site)) and devices.startswith(str(site)), probe.stdout
    listed = subprocess.run([sys.executable, "-m", "imcsim", "devices", "--format", "json"],
                            capture_output=True, text=True, cwd=elsewhere, env=env)
    assert listed.returncode == 0, listed.stderr
    names = {rec["device"] for rec in json.loads(listed.stdout)}
    assert {"sas-mram", "sot-mram", "stt-mram", "reram", "sram"} <= names
