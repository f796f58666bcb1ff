"""The smallest workflow: a plain ``run(payload)`` that greets."""


def run(payload: dict) -> dict:
    """Greet whoever input.json names."""
    return {"greeting": f"Hello, {payload.get('name', 'world')}!"}
