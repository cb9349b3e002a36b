"""The provider's test suite, a package: test modules are ``tests.<folder>.test_x``."""
