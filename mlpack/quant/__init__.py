"""Shrinking a model: simplification and quantisation as passes, their registry, calibration."""
