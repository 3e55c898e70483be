"""``python -m cli``: the ``factory`` command without its console script."""

from cli.main import app

app()
