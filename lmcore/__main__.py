import os
import sys

from .threads import choose_wait_policy

# Before torch loads OpenMP, which reads the wait policy once: passive only when other work
# shares the cores (lmcore/threads.py says why; measured in docs/performance.md).
choose_wait_policy(sys.argv[1] if len(sys.argv) > 1 else "", os.environ)

from .cli import main  # noqa: E402

sys.exit(main())
