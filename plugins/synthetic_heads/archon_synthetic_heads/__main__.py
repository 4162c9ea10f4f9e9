"""``python -m archon_synthetic_heads ...``: the plugin's commands without the core CLI."""

from archon_synthetic_heads._cli import make_app

make_app()()
