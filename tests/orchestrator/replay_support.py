"""A tiny durable engine for tests: history JSON in, the library's real handle, state out.

It follows the verified host contract (shared reference, sections 1-4): one
``OrchestratorStarted`` per episode, sequence ids in action order, activity
results as JSON text, ``TimerFired`` carrying the timer's id. No failures or
retries: tests that need them use the generator driver.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def _stamp(when: datetime) -> str:
    return when.strftime(STAMP)


class ReplayEngine:
    """Runs one orchestration instance to completion (or failure) through ``handle``."""

    def __init__(
        self,
        handle: Callable[[str], str],
        *,
        instance_id: str,
        input_: Any,
        start: datetime,
        activity: Callable[[str, Any], Any],
    ) -> None:
        self.handle = handle
        self.instance_id = instance_id
        self.input = json.dumps(input_)
        self.now = start
        self.activity = activity
        self.history: list[dict[str, Any]] = []
        self.seen_actions = 0
        self.next_id = 0
        self.episodes = 0
        self.states: list[dict[str, Any]] = []
        self.scheduled: list[tuple[int, dict[str, Any]]] = []

    def _event(self, event_type: int, **fields: Any) -> dict[str, Any]:
        return {
            "EventType": event_type,
            "EventId": fields.pop("EventId", -1),
            "IsPlayed": False,
            "Timestamp": _stamp(self.now),
            **fields,
        }

    def _invoke(self) -> dict[str, Any]:
        context = {
            "history": self.history,
            "instanceId": self.instance_id,
            "isReplaying": False,
            "parentInstanceId": None,
            "input": self.input,
            "upperSchemaVersion": 1,
        }
        state = json.loads(self.handle(json.dumps(context)))
        self.states.append(state)
        for event in self.history:
            event["IsPlayed"] = True
        self.episodes += 1
        return state

    @staticmethod
    def _leaves(actions: list[Any]) -> list[dict[str, Any]]:
        leaves: list[dict[str, Any]] = []
        for action in actions:
            if isinstance(action, list):
                leaves.extend(ReplayEngine._leaves(action))
            elif action.get("actionType") in (11, 12):
                leaves.extend(ReplayEngine._leaves(action["compoundActions"]))
            else:
                leaves.append(action)
        return leaves

    def run(self, *, max_episodes: int = 200) -> dict[str, Any]:
        """Replay until ``isDone``; returns the final state (the handle raises on failure)."""
        self.history = [
            self._event(12),
            self._event(0, Name="WorkflowOrchestrator", Version="", Input=self.input),
        ]
        while self.episodes < max_episodes:
            state = self._invoke()
            if state.get("isDone"):
                return state
            leaves = self._leaves(state.get("actions", []))
            new = leaves[self.seen_actions :]
            self.seen_actions = len(leaves)
            assert new, f"stuck: no new actions in episode {self.episodes}"
            completions: list[dict[str, Any]] = []
            wake = self.now + timedelta(milliseconds=100)
            for action in new:
                seq, self.next_id = self.next_id, self.next_id + 1
                self.scheduled.append((seq, action))
                if action["actionType"] in (0, 1):
                    self.history.append(self._event(4, EventId=seq, Name=action["functionName"]))
                    result = self.activity(action["functionName"], json.loads(action["input"]))
                    completions.append(
                        {"type": 5, "TaskScheduledId": seq, "Result": json.dumps(result)}
                    )
                elif action["actionType"] == 5:
                    self.history.append(self._event(10, EventId=seq, FireAt=action["fireAt"]))
                    fire_at = datetime.strptime(action["fireAt"], STAMP).replace(
                        tzinfo=self.now.tzinfo
                    )
                    wake = max(wake, fire_at)
                    completions.append({"type": 11, "TimerId": seq, "FireAt": action["fireAt"]})
                else:
                    raise AssertionError(f"unexpected action {action}")
            self.history.append(self._event(13))
            self.now = wake
            self.history.append(self._event(12))
            for completion in completions:
                event_type = completion.pop("type")
                self.history.append(self._event(event_type, **completion))
        raise AssertionError("too many episodes")
