"""A small app with one HTTP function per auth level and a key-protected durable starter."""

from __future__ import annotations

import asyncio
import json

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

TERMINAL = {"Completed", "Failed", "Terminated", "Canceled"}


@app.route(route="open", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def open_route(req: func.HttpRequest) -> func.HttpResponse:
    """Anonymous: always callable."""
    return func.HttpResponse("open")


@app.route(route="guarded", methods=["GET"])
def guarded(req: func.HttpRequest) -> func.HttpResponse:
    """Function level (the app default)."""
    return func.HttpResponse("guarded")


@app.route(route="admin", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
def admin_route(req: func.HttpRequest) -> func.HttpResponse:
    """Admin level."""
    return func.HttpResponse("admin")


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """start_new + get_status until finished, through the library's client."""
    instance_id = await client.start_new("o_greet", client_input=req.route_params["name"])
    status = await client.get_status(instance_id)
    for _ in range(500):
        if status.runtime_status is not None and status.runtime_status.value in TERMINAL:
            break
        await asyncio.sleep(0.01)
        status = await client.get_status(instance_id)
    check = client.create_check_status_response(req, instance_id)
    body = {
        "id": instance_id,
        "runtimeStatus": status.runtime_status.value if status.runtime_status else None,
        "output": status.output,
        "management": json.loads(check.get_body()),
    }
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.orchestration_trigger(context_name="context")
def o_greet(context: df.DurableOrchestrationContext):
    """One activity."""
    return (yield context.call_activity("greet", context.get_input()))


@app.activity_trigger(input_name="name")
def greet(name: str) -> str:
    """Sync activity."""
    return f"Hello {name}!"
