"""imcsim: cycle-level simulator of in-memory-computing accelerators."""

__version__ = "0.1.0"
