import os
import sys

# Before torch loads OpenMP: its worker threads otherwise spin while they wait, which on a
# small machine shared with the app and a browser takes the cores the work needs
# (measured in docs/performance.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .cli import main  # noqa: E402

sys.exit(main())
