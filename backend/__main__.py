"""`python -m backend` (what `make run` runs): the whole stack on one machine.

With a command (`python -m backend scan|hash|import|jobs|duplicates ...`) it is the command line instead,
the same program as `modelvault`: a command must never start a second stack beside the running one.
"""

import sys

if len(sys.argv) > 1:
    from backend.cli.__main__ import main
else:
    from backend.stack import main

sys.exit(main())
