"""Helpers shared by more than one test folder (and nothing else): imported as ``tests.testkit.<module>``."""
