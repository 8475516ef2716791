"""Entry point the Pulumi CLI runs for ``pulumi preview --policy-pack policy``."""

import sys
from pathlib import Path

# The CLI runs this file from policy/; the rules import each other as the ``policy`` package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import PolicyPack

from policy.pack import PACK_NAME, policies

PolicyPack(name=PACK_NAME, policies=policies())
