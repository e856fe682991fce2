"""Runs the trigger runner's tests (unittest) and ends with `triggers: N passed, N failed`.

Needs the environment of a running stack (source .local/test/env): some tests use its
DynamoDB Local and moto.
"""

import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

suite = unittest.defaultTestLoader.discover(str(HERE), pattern="test_*.py", top_level_dir=str(HERE))
result = unittest.TextTestRunner(verbosity=1).run(suite)
failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
print(f"triggers: {result.testsRun - failed - len(result.skipped)} passed, {failed} failed")
sys.exit(1 if failed or not result.testsRun else 0)
