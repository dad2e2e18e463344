"""Commit: snapshot the staged configuration, render every engine's files, verify, apply."""
