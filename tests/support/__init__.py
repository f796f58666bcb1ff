"""Helpers shared by test folders (scripted model answers for the Agent Builder fixtures)."""
