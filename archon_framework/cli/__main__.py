"""`python -m archon_framework.cli`: the `archon` command."""

from archon_framework.cli._app import main

main()
