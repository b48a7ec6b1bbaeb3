"""``python -m blacklodge_harness`` is the same as the ``blacklodge`` command."""

from __future__ import annotations

from blacklodge_harness.cli import main

raise SystemExit(main())
