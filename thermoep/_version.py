"""The package version, in one place: ``thermoep.__version__`` imports it and pyproject.toml
reads it (``[tool.setuptools.dynamic]``). A plain literal, so setuptools reads it without
importing thermoep (and torch) at build time."""

__version__ = "0.2.0"
