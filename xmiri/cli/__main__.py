"""``python -m xmiri.cli``: the same as the ``xmiri`` console script."""
import sys

from .commands import main

sys.exit(main())
