"""``python -m opscope.gui.export``: the same as ``python main.py export``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
