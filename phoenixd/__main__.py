"""``python -m phoenixd``: run the daemon."""

from phoenixd.app import main

raise SystemExit(main())
