# Agent Builder export, adapted from the public weather and if/else exports in the test fixtures:
# a classifier agent with a structured output, an if/else on its parsed output, and a weather
# agent with a local function tool. Kept in the exporter's shape (module-level agents and tools,
# `WorkflowInput`, `run_workflow`, `Runner.run` inside `with trace(...)`), only reformatted by ruff.
from agents import (
    Agent,
    ModelSettings,
    RunConfig,
    Runner,
    TResponseInputItem,
    function_tool,
    trace,
)
from openai.types.shared.reasoning import Reasoning
from pydantic import BaseModel


# Tool definitions
@function_tool
def get_weather(city: str, country: str) -> dict:
    """Return demo weather data for a city."""
    sample_data = {
        ("paris", "france"): {"condition": "partly cloudy", "temperature_c": 18},
        ("lyon", "france"): {"condition": "sunny", "temperature_c": 21},
        ("montreal", "canada"): {"condition": "light showers", "temperature_c": 12},
    }
    forecast = sample_data.get(
        (city.strip().lower(), country.strip().lower()),
        {"condition": "stable", "temperature_c": 20},
    )
    return {
        "city": city,
        "country": country,
        "condition": forecast["condition"],
        "temperature_c": forecast["temperature_c"],
        "source": "demo weather service",
    }


class ClassifierSchema(BaseModel):
    intent: str
    city: str


classifier = Agent(
    name="Classifier",
    instructions="""Classify the user's request.
Set intent to "weather" when the user asks about the weather, otherwise "other".
Set city to the city named, or an empty string.""",
    model="gpt-5-mini",
    output_type=ClassifierSchema,
    model_settings=ModelSettings(store=True, reasoning=Reasoning(effort="minimal")),
)


weather_agent = Agent(
    name="Weather agent",
    instructions="""Give the user the current weather.
Call get_weather for the city, then answer in one sentence.""",
    model="gpt-5",
    tools=[get_weather],
    model_settings=ModelSettings(
        parallel_tool_calls=True, store=True, reasoning=Reasoning(effort="minimal", summary="auto")
    ),
)


fallback_agent = Agent(
    name="Fallback agent",
    instructions="Politely explain that this desk only answers questions about the weather.",
    model="gpt-5-mini",
    model_settings=ModelSettings(store=True, reasoning=Reasoning(effort="minimal")),
)


class WorkflowInput(BaseModel):
    input_as_text: str


# Main code entrypoint
async def run_workflow(workflow_input: WorkflowInput):
    with trace("Weather desk"):
        state = {}  # noqa: F841 (the exporter always emits the state dict)
        workflow = workflow_input.model_dump()
        conversation_history: list[TResponseInputItem] = [
            {"role": "user", "content": [{"type": "input_text", "text": workflow["input_as_text"]}]}
        ]
        classifier_result_temp = await Runner.run(
            classifier,
            input=[*conversation_history],
            run_config=RunConfig(
                trace_metadata={
                    "__trace_source__": "agent-builder",
                    "workflow_id": "wf_example_weather_desk",
                }
            ),
        )

        conversation_history.extend(
            [item.to_input_item() for item in classifier_result_temp.new_items]
        )

        classifier_result = {
            "output_text": classifier_result_temp.final_output.model_dump_json(),
            "output_parsed": classifier_result_temp.final_output.model_dump(),
        }
        if classifier_result["output_parsed"]["intent"] == "weather":
            weather_agent_result_temp = await Runner.run(
                weather_agent,
                input=[*conversation_history],
                run_config=RunConfig(
                    trace_metadata={
                        "__trace_source__": "agent-builder",
                        "workflow_id": "wf_example_weather_desk",
                    }
                ),
            )

            conversation_history.extend(
                [item.to_input_item() for item in weather_agent_result_temp.new_items]
            )

            weather_agent_result = {"output_text": weather_agent_result_temp.final_output_as(str)}
            return weather_agent_result
        else:
            fallback_agent_result_temp = await Runner.run(
                fallback_agent,
                input=[*conversation_history],
                run_config=RunConfig(
                    trace_metadata={
                        "__trace_source__": "agent-builder",
                        "workflow_id": "wf_example_weather_desk",
                    }
                ),
            )

            conversation_history.extend(
                [item.to_input_item() for item in fallback_agent_result_temp.new_items]
            )

            fallback_agent_result = {"output_text": fallback_agent_result_temp.final_output_as(str)}
            return fallback_agent_result
