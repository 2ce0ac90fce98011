"""Validation benchmarks: a pytest-benchmark suite and an interleaved comparison script.

Not part of the unit run (the project's ``testpaths`` is ``tests``). See ``benchmarks/README.md``.
"""
