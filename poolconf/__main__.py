"""``python -m poolconf`` is the ``poolconf`` command."""

from poolconf.tools.cli import main

raise SystemExit(main())
