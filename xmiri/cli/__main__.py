"""``python -m xmiri.cli``: the same as the ``xmiri`` console script."""
import sys

from .commands import main

if __name__ == "__main__":
    sys.exit(main())
