"""Entry point of the ``imcsim`` console script: discovers subcommands, turns errors into one line."""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import math
import os
import pkgutil
import sys
from collections.abc import Sequence

import imcsim
from imcsim.errors import EXIT_USAGE, ImcsimError, SpecError, os_error_line

_NOT_COMMANDS = {"main", "output"}


def _command_modules() -> list:
    import imcsim.cli as pkg

    mods = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name in _NOT_COMMANDS or info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"imcsim.cli.{info.name}")
        if hasattr(mod, "register"):
            mods.append(mod)
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imcsim",
        description="Cycle-level simulator of in-memory-computing accelerators: device models "
                    "(SAS-MRAM, SOT-MRAM, STT-MRAM, ReRAM, SRAM), bit-exact INT8 bit-serial kernels, "
                    "inference and on-device training cost.",
    )
    parser.add_argument("--version", action="version", version=f"imcsim {imcsim.__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    for name in ("stdout", "stderr"):  # started with a closed stream (cmd >&-): write nowhere, not crash
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w"))  # noqa: SIM115 (lives as long as the process)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        check_numeric_flags(args)
        return int(args.func(args) or 0)
    except ImcsimError as exc:
        if args.debug:
            raise
        print(f"imcsim: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("imcsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except OSError as exc:  # read-only or full disk, a file where a folder is expected, a name too long ...
        if args.debug:
            raise
        if exc.errno == errno.EBADF and _stdout_closed():
            return 0  # stdout closed by the caller: nothing to tell, nobody to tell it to
        _say(f"imcsim: error: {os_error_line(exc)}")
        return EXIT_USAGE


#: bound on every numeric flag (commands add tighter ones where a value sizes memory or work)
MAX_FLAG_INT = 2**31 - 1
MAX_FLAG_FLOAT = 1e30


def check_numeric_flags(args: argparse.Namespace) -> None:
    """Every number given as a flag is finite and bounded: ``--clock inf`` or ``--batch 10**18`` is
    one line and exit 2 before any command code runs."""
    for name, value in sorted(vars(args).items()):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, int) and abs(value) > MAX_FLAG_INT:
            raise SpecError("<flags>", flag, value, problem="out of range:",
                            allowed=f"an integer of magnitude at most {MAX_FLAG_INT}")
        if isinstance(value, float) and not (math.isfinite(value) and abs(value) <= MAX_FLAG_FLOAT):
            raise SpecError("<flags>", flag, value, problem="out of range:",
                            allowed="a finite number of magnitude at most 1e30")


def _say(line: str) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(line, file=sys.stderr)


def _stdout_closed() -> bool:
    try:
        os.fstat(1)
    except OSError:
        return True
    return sys.stdout is None or sys.stdout.closed


def _quiet_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so Python's exit flush cannot fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
