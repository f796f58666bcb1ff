"""Function names shared by the orchestrator, the starter and ``function_app.py``."""

ORCHESTRATOR = "WorkflowOrchestrator"
#: Delivers one run's webhook (started by ``ScheduleCallback`` as the run ends).
CALLBACK_ORCHESTRATOR = "CallbackOrchestrator"
ORCHESTRATORS = (ORCHESTRATOR, CALLBACK_ORCHESTRATOR)

UPLOAD_WORKFLOW_FILES = "UploadWorkflowFiles"
START_EXECUTION = "StartExecution"
GET_EXECUTION = "GetExecution"
DOWNLOAD_OUTPUT = "DownloadOutput"
CLEANUP_SESSION = "CleanupSession"
STOP_SESSION = "StopSession"
#: ``watch`` mode: upload + start + watch + collect, then watch windows.
RUN_EXECUTION = "RunExecution"
WATCH_EXECUTION = "WatchExecution"
#: Webhooks: start the delivery orchestration; one delivery attempt.
SCHEDULE_CALLBACK = "ScheduleCallback"
DELIVER_CALLBACK = "DeliverCallback"

ACTIVITIES = (
    UPLOAD_WORKFLOW_FILES,
    START_EXECUTION,
    GET_EXECUTION,
    DOWNLOAD_OUTPUT,
    CLEANUP_SESSION,
    STOP_SESSION,
    RUN_EXECUTION,
    WATCH_EXECUTION,
    SCHEDULE_CALLBACK,
    DELIVER_CALLBACK,
)
