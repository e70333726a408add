"""Benchmarks: run each with `.venv/bin/python -m bench.<name>` (or as a file); see each module."""
