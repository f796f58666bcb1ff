"""The HTTP surface: request models and validation, the starter, the status answer."""
