# The checks' pytest glue lives in labcheck/plugin.py.
pytest_plugins = ["labcheck.plugin"]
