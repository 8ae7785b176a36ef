"""Executing networks on the bit-serial kernels (INT8 inference and training, bit-exact against an integer
reference); see docs/execution.md. A regular package so the wheel ships it (setup.cfg lists packages)."""
