"""Compatibility layers that map other tools' recipe APIs onto recipe-runner's own."""
