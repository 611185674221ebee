"""``python -m opscope``: the same as the ``opscope`` command."""

import sys

from opscope.main import main

if __name__ == "__main__":
    sys.exit(main())
