"""``python -m chainrule ...`` is the ``chainrule`` command."""

import sys

from .cli import main

sys.exit(main())
