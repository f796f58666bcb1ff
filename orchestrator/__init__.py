"""The deterministic part: the workflow orchestration and the models it exchanges."""
