"""i2i's pytest plugin: the model-family contract tests and fixtures, for i2i and for plugins.

Installed with i2i as the pytest plugin ``i2i`` (entry point ``pytest11``): every pytest session
in an environment with i2i loads :mod:`i2i.testing.plugin`, which costs a few imports of the
standard library and runs nothing until a project asks for the contract tests with one line::

    # pyproject.toml of a plugin package
    [tool.pytest.ini_options]
    i2i_contract = ["colorize"]        # families to test; "*" = every registered family

Then ``pytest`` also runs, for each named family, the tests of :mod:`i2i.testing.contract`
(tiny training run, exact resume, reload and translation at any size, ONNX export parity, bad
input), marked ``i2i_contract``. ``pytest --i2i-contract=NAME,...`` does the same from the
command line; ``-p no:i2i`` turns the plugin off.

The plugin's fixtures are public, for a plugin's own tests: ``i2i_context`` (the plugin
context), ``i2i_demo_data`` (``i2i_demo_data(format_name)`` -> a demo dataset, made once per
session) and ``i2i_tiny_run`` (``i2i_tiny_run(family, data, out, steps=2, ...)`` trains a tiny
model with the family's ``tiny`` overrides on the CPU).
"""
