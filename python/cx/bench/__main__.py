"""``python -m cx.bench``: see :mod:`cx.bench.suite`."""
import sys

from cx.bench.suite import main

sys.exit(main())
