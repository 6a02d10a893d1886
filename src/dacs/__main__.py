"""``python -m dacs``: the same as the ``dacs`` command."""

import sys

from .cli import main

sys.exit(main())
