"""A workflow that always fails, to show the error document in output.json."""


class InventoryError(RuntimeError):
    """The kind of domain error a real workflow raises."""


def check_stock(item: str) -> int:
    """Pretend to look the item up, and fail."""
    raise InventoryError(f"no stock record for {item!r}")


def run(payload: dict) -> dict:
    """Fail inside a helper, so the traceback tail shows the call chain."""
    return {"stock": check_stock(payload.get("item", "widget"))}
