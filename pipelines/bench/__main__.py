"""``python -m pipelines.bench [args]``: the benchmark (:func:`pipelines.bench.run.main`)."""

import sys

from pipelines.bench.run import main

sys.exit(main())
