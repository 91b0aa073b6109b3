"""``python -m tlcore``: the command-line interface."""

from tlcore.cli import main

raise SystemExit(main())
