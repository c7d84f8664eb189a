"""`python -m backend` (what `make run` runs): the whole stack on one machine."""

import sys

from backend.stack import main

sys.exit(main())
