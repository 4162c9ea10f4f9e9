"""``python -m archon_flame_rvq ...``: the plugin's commands without the core CLI."""

from archon_flame_rvq._cli import make_app

make_app()()
