"""The package list in setup.cfg must cover every subpackage (it is explicit, see setup.cfg)."""

import configparser
from pathlib import Path

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
    assert {"imcsim._builtin.devices", "imcsim._builtin.workloads"} <= listed


def test_builtin_folders_found_from_checkout():
    from imcsim import paths

    assert paths.devices_dir() == ROOT / "devices"
    assert paths.workloads_dir() == ROOT / "workloads"
