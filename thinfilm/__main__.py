"""`python -m thinfilm`: the `thinfilm` command."""

import sys

from . import main

sys.exit(main())
