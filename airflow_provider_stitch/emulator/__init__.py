"""Offline Stitch Connect API emulator."""
