"""Scripted model answers for the Agent Builder fixtures, reusable in end-to-end tests.

Every script here is a pure function of the request's *content* (which agent's
instructions, which tools, whether a tool result or an earlier agent's answer is
already in the input, whether a structured output is asked for). None keeps state
between requests, so a script gives the same answers whether the workflow runs in
this process or in a sandboxed subprocess that reaches the model server over HTTP,
and a retried request gets the same answer again.

``RECIPES`` maps each fixture file to its input, script, and the expected outcome.
Use it like::

    recipe = RECIPES["ghidx_weather_function_tool.py"]
    with run_model_server(script=recipe.script) as server:
        ...submit fixture_path(recipe.fixture) with {"input_as_text": recipe.input_text}
        and environmentVariables {"OPENAI_BASE_URL": server.base_url, ...}...
        assert result == recipe.expected_result
        assert len(server.requests_to("responses")) == recipe.model_calls
"""

from __future__ import annotations

import ast
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model_server import (
    ModelRequest,
    Reply,
    ScriptFunction,
    json_output,
    moderation,
    text,
    tool_call,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Where the fixture files may live: a copy in the repo, or shared/ beside the repo (CI).
FIXTURE_DIRS = (
    REPO_ROOT / "tests" / "fixtures" / "agent_builder",
    REPO_ROOT.parent / "shared" / "fixtures" / "agent_builder",
)
EXAMPLE_WORKFLOW = REPO_ROOT / "examples" / "agent_builder" / "workflow.py"
#: The PII guardrail needs this spaCy model; without it the guardrail config fails to load.
SPACY_MODEL_INSTALLED = importlib.util.find_spec("en_core_web_sm") is not None
#: What a run of an export with a hosted tool must report against the model server.
HOSTED_TOOL_ERROR = "hosted tool web_search is not available in the local model server"


def fixture_path(name: str) -> Path:
    """The path of one fixture file, or FileNotFoundError naming where it was looked for."""
    for directory in FIXTURE_DIRS:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{name} not found in {', '.join(map(str, FIXTURE_DIRS))}")


def model_env(base_url: str) -> dict[str, str]:
    """``environmentVariables`` for a run against the model server (no secrets involved)."""
    return {
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": "test-key",
        "OPENAI_AGENTS_DISABLE_TRACING": "1",
    }


def parse_tool_output(output: Any) -> Any:
    """A tool result as the SDK sent it back: JSON, a Python literal (``str(dict)``) or text."""
    if not isinstance(output, str):
        return output
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(output)
        except (ValueError, SyntaxError):
            continue
    return output


# --- ghidx_weather_function_tool.py ----------------------------------------------
WEATHER_CITIES = {
    "paris": ("Paris", "France"),
    "lyon": ("Lyon", "France"),
    "marseille": ("Marseille", "France"),
    "montreal": ("Montreal", "Canada"),
}


def weather_script(request: ModelRequest) -> Reply | None:
    """Ask for ``get_weather(city, country)``; once its result is in, quote it in French."""
    if not request.is_model_call or "get_weather" not in request.tool_names:
        return None
    outputs = request.tool_outputs
    if not outputs:
        asked = (request.last_user_text or "").lower()
        city, country = next(
            (where for key, where in WEATHER_CITIES.items() if key in asked), ("Paris", "France")
        )
        return tool_call("get_weather", {"city": city, "country": country})
    data = parse_tool_output(outputs[-1]["output"])
    return text(f"Météo à {data['city']} : {data['condition']}, {data['temperature_c']} °C.")


# --- oakb_function_tool_multi_instructions.py ------------------------------------
def stub_tool_script(request: ModelRequest) -> Reply | None:
    """Call the stub ``get_weather(location, unit)``; then report what it returned."""
    if not request.is_model_call or "get_weather" not in request.tool_names:
        return None
    outputs = request.tool_outputs
    if not outputs:
        return tool_call("get_weather", {"location": "Paris", "unit": "celsius"})
    return text(f"The tool returned {outputs[-1]['output']}.")


# --- oakb_agent_end_json_schema.py -----------------------------------------------
AGENT_SCHEMA_SAMPLE = {
    "name": "Ada",
    "age": 36,
    "married": True,
    "set": "F",
    "work": {"place": "London", "salary": 1000.5},
    "habby": ["chess", "poetry"],
}
#: The export's End node ignores the parsed output and returns fixed nulls.
AGENT_END_RESULT = {
    "name": None,
    "age": None,
    "good": None,
    "sex": None,
    "position": {"x": None, "y": None},
    "hobby": [],
}


def structured_output_script(request: ModelRequest) -> Reply | None:
    """Answer any structured-output request with a valid ``AgentSchema`` object."""
    if request.is_model_call and request.output_schema is not None:
        return json_output(AGENT_SCHEMA_SAMPLE)
    return None


# --- oakb_template_data_enrichment.py --------------------------------------------
COMPANY = {
    "company_name": "Contoso",
    "industry": "Retail",
    "headquarters_location": "Seattle, USA",
    "company_size": "1000-5000",
    "website": "https://contoso.example",
    "description": "A fictional retailer.",
    "founded_year": 1999,
}


def data_enrichment_script(request: ModelRequest) -> Reply | None:
    """Research agent -> ``{"companies": [...]}``; summarize agent -> one company."""
    instructions = request.instructions or ""
    if not request.is_model_call:
        return None
    if instructions.startswith("You are a helpful assistant. Use web search"):
        return json_output({"companies": [COMPANY]})
    if instructions.startswith("Put the research together"):
        return json_output(COMPANY)
    return None


# --- oakb_user_approval_with_agents.py -------------------------------------------
FIRST_AGENT_ANSWER = "first agent: approved and done"
SECOND_AGENT_ANSWER = "second agent: saw the first agent's answer"


def two_agents_script(request: ModelRequest) -> Reply | None:
    """Two agents with identical settings: the second one sees the first one's answer."""
    if not request.is_model_call:
        return None
    if FIRST_AGENT_ANSWER in request.assistant_texts:
        return text(SECOND_AGENT_ANSWER)
    return text(FIRST_AGENT_ANSWER)


# --- chatkit_simple_chat.py ------------------------------------------------------
def simple_chat_script(request: ModelRequest) -> Reply | None:
    """Greet back."""
    if request.is_model_call and request.instructions == "You are a helpful assistant.":
        return text("Hello! How can I help?")
    return None


# --- guardrails (oakb_guardrails_pii.py with other Agent Builder guardrail configs) ---
def moderation_script(*flagged_categories: str) -> ScriptFunction:
    """Moderation flags ``flagged_categories`` (none: clean); LLM checks say "not flagged"."""

    def script(request: ModelRequest) -> Reply | None:
        if request.endpoint == "moderations":
            return moderation(*flagged_categories)
        if request.endpoint == "chat/completions" and request.output_schema is not None:
            return json_output({"flagged": False, "confidence": 0.0})
        return None

    return script


def jailbreak_script(*, flagged: bool, confidence: float) -> ScriptFunction:
    """An LLM-based guardrail check (``chat.completions`` with a JSON schema) answers this."""

    def script(request: ModelRequest) -> Reply | None:
        schema = request.output_schema
        if request.endpoint != "chat/completions" or schema is None:
            return None
        answer: dict[str, Any] = {"flagged": flagged, "confidence": confidence}
        if "reason" in (schema.get("schema") or {}).get("properties", {}):
            answer["reason"] = "scripted verdict"
        return json_output(answer)

    return script


# --- examples/agent_builder/workflow.py (classify, then branch) --------------------
WEATHER_WORDS = ("weather", "météo", "forecast", "rain", "sunny")
FALLBACK_ANSWER = "Sorry, this desk only answers questions about the weather."


def weather_desk_script(request: ModelRequest) -> Reply | None:
    """Classifier -> intent from the user's words; weather agent -> tool call, then answer."""
    if not request.is_model_call:
        return None
    instructions = request.instructions or ""
    asked = (request.user_texts[0] if request.user_texts else "").lower()
    if instructions.startswith("Classify the user's request"):
        intent = "weather" if any(word in asked for word in WEATHER_WORDS) else "other"
        city = next((where[0] for key, where in WEATHER_CITIES.items() if key in asked), "")
        return json_output({"intent": intent, "city": city})
    if instructions.startswith("Give the user the current weather"):
        outputs = request.tool_outputs
        if not outputs:
            city, country = next(
                (where for key, where in WEATHER_CITIES.items() if key in asked),
                ("Paris", "France"),
            )
            return tool_call("get_weather", {"city": city, "country": country})
        data = parse_tool_output(outputs[-1]["output"])
        return text(f"It is {data['condition']} in {data['city']}, {data['temperature_c']} °C.")
    if instructions.startswith("Politely explain"):
        return text(FALLBACK_ANSWER)
    return None


# --- the catalogue ---------------------------------------------------------------
@dataclass(frozen=True)
class FixtureRecipe:
    """How to run one export offline and what a correct runtime returns."""

    fixture: str
    input_text: str
    script: ScriptFunction | None
    expected_result: Any = None
    #: For failures: a substring of the error the run must report (then no result).
    expected_error: str | None = None
    #: Model calls (``/v1/responses``) the run makes.
    model_calls: int = 0
    notes: str = ""
    path: Path | None = field(default=None, compare=False)

    def source(self) -> Path:
        """The workflow file to submit."""
        return self.path or fixture_path(self.fixture)


RECIPES: dict[str, FixtureRecipe] = {
    recipe.fixture: recipe
    for recipe in (
        FixtureRecipe(
            fixture="chatkit_simple_chat.py",
            input_text="Hi!",
            script=simple_chat_script,
            expected_result=None,
            model_calls=1,
            notes="returns nothing: a correct runtime reports a null result",
        ),
        FixtureRecipe(
            fixture="ghidx_weather_function_tool.py",
            input_text="Quel temps fait-il à Paris ?",
            script=weather_script,
            expected_result={"output_text": "Météo à Paris : partiellement nuageux, 18 °C."},
            model_calls=2,
            notes="the tool runs in the workflow's process; its result reaches call 2",
        ),
        FixtureRecipe(
            fixture="oakb_function_tool_multi_instructions.py",
            input_text="weather please",
            script=stub_tool_script,
            expected_result=None,
            model_calls=2,
            notes="the stub tool returns None, sent back as the string 'None'",
        ),
        FixtureRecipe(
            fixture="oakb_agent_end_json_schema.py",
            input_text="Tell me about Ada",
            script=structured_output_script,
            expected_result=AGENT_END_RESULT,
            model_calls=1,
            notes="structured output parsed into AgentSchema; the End node returns fixed nulls",
        ),
        FixtureRecipe(
            fixture="oakb_template_data_enrichment.py",
            input_text="Contoso",
            script=data_enrichment_script,
            expected_result=None,
            model_calls=2,
        ),
        FixtureRecipe(
            fixture="oakb_user_approval_with_agents.py",
            input_text="Do the thing",
            script=two_agents_script,
            expected_result={"output_text": SECOND_AGENT_ANSWER},
            model_calls=2,
        ),
        FixtureRecipe(
            fixture="oakb_guardrails_pii.py",
            input_text="Hello, nothing sensitive here.",
            script=None,
            expected_result="Hello, nothing sensitive here." if SPACY_MODEL_INSTALLED else None,
            expected_error=None if SPACY_MODEL_INSTALLED else "en_core_web_sm",
            model_calls=0,
            notes=(
                "no HTTP call: PII detection is local (presidio + spaCy). Without the spaCy "
                "model en_core_web_sm, guardrails.exceptions.ConfigError names it (fails closed); "
                "SPACY_MODEL_INSTALLED reflects *this* interpreter, which the local sandbox shares"
            ),
        ),
        FixtureRecipe(
            fixture="ghidx_prospector_websearch_structured.py",
            input_text="Axecibles, https://www.axecibles.com",
            script=None,
            expected_error=HOSTED_TOOL_ERROR,
            model_calls=1,
            notes="openai.BadRequestError (HTTP 400) at the first model call, never retried",
        ),
        FixtureRecipe(
            fixture="oakb_nested_if_else_agents.py",
            input_text="anything",
            script=None,
            expected_error="expected an indented block after 'else' statement on line 82",
            model_calls=0,
            notes="SyntaxError at line 83: must be a 400 at submission, nothing started",
        ),
        FixtureRecipe(
            fixture="example:weather_desk",
            input_text="What is the weather like in Paris today?",
            script=weather_desk_script,
            expected_result={"output_text": "It is partly cloudy in Paris, 18 °C."},
            model_calls=3,
            path=EXAMPLE_WORKFLOW,
            notes="classifier -> weather branch -> tool call -> answer",
        ),
        FixtureRecipe(
            fixture="example:weather_desk_fallback",
            input_text="Can you book me a table for two?",
            script=weather_desk_script,
            expected_result={"output_text": FALLBACK_ANSWER},
            model_calls=2,
            path=EXAMPLE_WORKFLOW,
            notes="classifier -> else branch",
        ),
    )
}
