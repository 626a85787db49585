"""The ``mesti`` command line: a thin layer over the package's Python API."""
