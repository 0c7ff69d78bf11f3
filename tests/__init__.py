"""The tests of cams_notebook: a package, so that they import their helpers as ``tests.helpers``."""
