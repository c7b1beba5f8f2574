"""Measuring: the interleaved benchmark, its worker process, statistics, comparing results."""
