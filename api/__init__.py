"""The HTTP surface: request validation, starter, status, cancel, listing, health, OpenAPI."""
