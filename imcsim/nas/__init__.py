"""FLASH-style hardware-aware architecture search: search space, NN-Degree, accuracy predictor, SHGO search.

It sits above the engine (it prices candidates with the analytic engine) and below report and cli.
"""
