"""The Function App: wiring only. Logic lives in ``api/``, ``orchestrator/``, ``activities/``.

Importing this module reads no settings; handlers call ``get_settings()`` when they run.

Annotations are part of the contract with Azure's Python worker, which checks them when it
indexes the app: an HTTP function must be annotated ``-> func.HttpResponse`` (or ``str``);
any other return annotation (``Any`` included) is a ``FunctionLoadError`` and the host then
serves no function at all. ``tests/worker`` loads this module with that worker.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df
import azure.functions as func

from activities import session_activities, webhook_activities
from api.cancel import cancel_workflow
from api.health import health
from api.listing import list_workflows
from api.openapi import openapi
from api.starter import start_workflow
from api.status import get_workflow_status
from api.trace import get_workflow_trace
from api.ui import run_viewer
from orchestrator.callback_orchestrator import callback_orchestrator
from orchestrator.workflow_orchestrator import workflow_orchestrator

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="workflows", methods=["POST"])
@app.durable_client_input(client_name="client")
async def StartWorkflow(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """POST /api/workflows: validate and start a workflow run."""
    return await start_workflow(req, client)


@app.route(route="workflows", methods=["GET"])
@app.durable_client_input(client_name="client")
async def ListWorkflows(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """GET /api/workflows: recent runs, newest first, in pages."""
    return await list_workflows(req, client)


@app.route(route="workflowStatus/{instanceId}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def GetWorkflowStatus(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """GET /api/workflowStatus/{instanceId}: phase, output or structured error."""
    return await get_workflow_status(req, client)


@app.route(route="workflows/{instanceId}/trace", methods=["GET"])
@app.durable_client_input(client_name="client")
async def GetWorkflowTrace(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """GET /api/workflows/{instanceId}/trace: the agent trace of a finished run, in pages."""
    return await get_workflow_trace(req, client)


@app.route(route="workflows/{instanceId}/cancel", methods=["POST"])
@app.durable_client_input(client_name="client")
async def CancelWorkflow(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """POST /api/workflows/{instanceId}/cancel: terminate the run and delete its session."""
    return await cancel_workflow(req, client)


@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def Health(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/health[?deep=true]: settings (and pool) check."""
    return await health(req)


@app.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def OpenApi(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/openapi.json: the OpenAPI 3.1 document."""
    return await openapi(req)


@app.route(route="ui", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def RunViewer(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/ui: the run viewer (a static page that calls this API with your key)."""
    return await run_viewer(req)


@app.route(route="ui/{asset}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def RunViewerAsset(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/ui/app.js, /api/ui/app.css: the viewer's script and styles."""
    return await run_viewer(req)


@app.orchestration_trigger(context_name="context")
def WorkflowOrchestrator(context: df.DurableOrchestrationContext) -> Any:
    """Upload, start, poll on durable timers, collect, clean up."""
    return (yield from workflow_orchestrator(context))


@app.activity_trigger(input_name="payload")
async def UploadWorkflowFiles(payload: str) -> str:
    """Upload workflow.py, run.py and input.json."""
    return await session_activities.upload_workflow_files(payload)


@app.activity_trigger(input_name="payload")
async def StartExecution(payload: str) -> str:
    """Start the launcher asynchronously in the session."""
    return await session_activities.start_execution(payload)


@app.activity_trigger(input_name="payload")
async def GetExecution(payload: str) -> str:
    """Read the execution's status and output tails."""
    return await session_activities.get_execution(payload)


@app.activity_trigger(input_name="payload")
async def DownloadOutput(payload: str) -> str:
    """Download and parse output.json."""
    return await session_activities.download_output(payload)


@app.activity_trigger(input_name="payload")
async def CleanupSession(payload: str) -> str:
    """Delete this run's files from an ephemeral session."""
    return await session_activities.cleanup_session(payload)


@app.activity_trigger(input_name="payload")
async def StopSession(payload: str) -> str:
    """Delete the session so a run past its deadline stops."""
    return await session_activities.stop_session(payload)


@app.activity_trigger(input_name="payload")
async def RunExecution(payload: str) -> str:
    """Upload, start, watch a short while; collect and clean up a run that ended (no timer)."""
    return await session_activities.run_execution(payload)


@app.activity_trigger(input_name="payload")
async def WatchExecution(payload: str) -> str:
    """Poll the execution for one watch window; collect and clean up if it ended."""
    return await session_activities.watch_execution(payload)


@app.orchestration_trigger(context_name="context")
def CallbackOrchestrator(context: df.DurableOrchestrationContext) -> Any:
    """Deliver a finished run's webhook, retrying with back-off for a bounded time."""
    return (yield from callback_orchestrator(context))


@app.activity_trigger(input_name="payload")
@app.durable_client_input(client_name="client")
async def ScheduleCallback(payload: str, client: df.DurableOrchestrationClient) -> str:
    """Start the delivery orchestration of a run that is ending."""
    return await webhook_activities.schedule_callback(payload, client)


@app.activity_trigger(input_name="payload")
@app.durable_client_input(client_name="client")
async def DeliverCallback(payload: str, client: df.DurableOrchestrationClient) -> str:
    """POST a finished run's status to its callbackUrl once, signed."""
    return await webhook_activities.deliver_callback(payload, client)
