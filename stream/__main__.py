"""``python -m stream``."""

import sys

from stream.tools.cli import main

sys.exit(main())
