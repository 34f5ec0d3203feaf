"""``python -m cxralign`` is the same as the ``cxralign`` console script."""

from cxralign.cli import main

raise SystemExit(main())
