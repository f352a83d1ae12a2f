"""The ``kinnsci`` command line: generate, train, evaluate, quickstart, info."""
