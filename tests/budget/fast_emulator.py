"""The speed of the budget tests' emulator (a module of its own, so tests need not import a conftest)."""

#: Emulator seconds per real second: Stitch's 600-second Jobs window lasts one real second.
FAST_SPEED = 600.0
