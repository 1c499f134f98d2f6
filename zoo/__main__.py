"""`python -m zoo`: the command line, where the package is on the path but not installed."""

import sys

from zoo.cli import main

sys.exit(main())
