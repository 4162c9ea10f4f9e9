"""The `archon` command line (console script `archon = archon_framework.cli:main`).

One package: `_app` (the commands), `_common` (consoles, the registry, errors as exit codes),
`_data` (`archon data`), `_generate` (`archon generate`, `archon list-chains`), `_edit`
(`archon edit`) and `_verify` (`archon verify`). The library functions they call live in the
library's packages; nothing outside this package imports it.
"""

from archon_framework.cli._app import app, main, modality_rows, task_rows
from archon_framework.cli._common import load_registry_or_exit

__all__ = ["app", "load_registry_or_exit", "main", "modality_rows", "task_rows"]
