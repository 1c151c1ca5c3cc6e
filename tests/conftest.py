"""Test-wide settings: a check that raises fails the test instead of becoming a note."""

import os

os.environ.setdefault("LOSSDOCTOR_STRICT", "1")
