"""Builders and helpers the tests share (plain modules: conftest.py keeps only fixtures)."""
