"""``python -m tracker``: see :mod:`tracker.cli`."""

import sys

from tracker.cli import main

sys.exit(main())
