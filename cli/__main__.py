"""``python -m cli``: the same as the ``vmscale`` command."""

from cli.main import main

main()
