"""The I/O side: one small async activity per session operation."""
