"""The ``imcsim`` command. Each subcommand lives in its own module of this package.

A command module defines ``ORDER`` (its place in ``imcsim --help``) and ``register(subparsers)``,
which adds its parser and sets ``func`` (called with the parsed args, returns an exit code).
``main.py`` discovers the modules, so adding a command never edits a shared file.
Command modules import heavy libraries (numba, pandas, matplotlib, simpy) inside ``func``,
so ``imcsim --help`` stays fast.
"""
