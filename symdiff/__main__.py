"""`python -m symdiff` runs the command line."""

import sys

from symdiff.cli import main

sys.exit(main())
