"""The ``factory`` command line: the only package that may import every other one (stages, pipelines, benchmarks).

Each command lives in its own module; :mod:`cli.main` mounts them.
"""
