"""``python -m workloads.bronze``: the ECS task's entry point."""

import sys

from .handlers import container_main

sys.exit(container_main())
