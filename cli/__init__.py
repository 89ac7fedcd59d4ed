"""The ``vmscale`` command line: run services, the lab, and operator chores."""
