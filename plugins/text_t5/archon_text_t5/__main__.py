"""``python -m archon_text_t5 ...``: the plugin's commands without the core CLI."""

from archon_text_t5._cli import make_app

make_app()()
