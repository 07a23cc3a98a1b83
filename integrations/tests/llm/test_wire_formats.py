"""Each provider kind reaches the fake server through its real SDK, in its own wire format."""

import pytest

from integrations.llm.gateway import llm_complete
from testing.fake_llm import Reply

pytestmark = pytest.mark.django_db

SCHEMA = {
    "type": "object",
    "properties": {"reply": {"type": "string"}, "confidence": {"type": "number", "minimum": 0, "maximum": 1}},
    "required": ["reply", "confidence"],
}
KEY = "sk-test-wire-format-key-0123456789"


def _call(workspace, **kwargs):
    return llm_complete(workspace=workspace, purpose="test", system="Be brief.",
                        messages=[{"role": "user", "content": "Hello there"}], **kwargs)


def test_anthropic_messages_api(fake_llm, llm_workspace):
    fake_llm.provider(llm_workspace, kind="anthropic", model="claude-sonnet-4-6", api_key=KEY)
    fake_llm.queue(Reply.text("Hi!", input_tokens=12, output_tokens=3))

    result = _call(llm_workspace)

    request = fake_llm.last_request
    assert request.protocol == "anthropic" and request.path == "/v1/messages"
    assert request.api_key == KEY
    assert "anthropic-version" in request.headers
    assert request.json["model"] == "claude-sonnet-4-6"
    assert request.json["system"] == "Be brief."
    assert request.json["messages"] == [{"role": "user", "content": "Hello there"}]
    assert request.json["max_tokens"] == 1024 and "temperature" not in request.json
    assert "tools" not in request.json
    assert (result.text, result.parsed, result.input_tokens, result.output_tokens) == ("Hi!", None, 12, 3)
    assert result.stop_reason == "end_turn" and result.provider_kind == "anthropic"


def test_anthropic_structured_output_is_a_forced_tool_call(fake_llm, llm_workspace):
    fake_llm.provider(llm_workspace, kind="anthropic")
    fake_llm.queue(Reply.structured({"reply": "Sure", "confidence": 0.9}))

    result = _call(llm_workspace, schema=SCHEMA, schema_name="draft_reply")

    body = fake_llm.last_request.json
    assert body["tools"][0]["name"] == "draft_reply"
    assert body["tools"][0]["input_schema"] == SCHEMA
    assert body["tool_choice"] == {"type": "tool", "name": "draft_reply"}
    assert result.parsed == {"reply": "Sure", "confidence": 0.9}
    assert result.stop_reason == "tool_use"


@pytest.mark.parametrize("kind", ["openai", "openai_compatible"])
def test_openai_chat_completions(fake_llm, llm_workspace, kind):
    fake_llm.provider(llm_workspace, kind=kind, model="gpt-4o-mini", api_key=KEY, temperature=0.2)
    fake_llm.queue(Reply.structured({"reply": "Sure", "confidence": 0.7}, input_tokens=40, output_tokens=9))

    result = _call(llm_workspace, schema=SCHEMA)

    request = fake_llm.last_request
    assert request.protocol == "openai" and request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json["messages"][0] == {"role": "system", "content": "Be brief."}
    assert request.json["messages"][1] == {"role": "user", "content": "Hello there"}
    assert request.json["response_format"]["type"] == "json_schema"
    assert request.json["response_format"]["json_schema"]["schema"] == SCHEMA
    assert request.json["temperature"] == 0.2
    token_field = "max_completion_tokens" if kind == "openai" else "max_tokens"
    assert request.json[token_field] == 1024
    assert result.parsed == {"reply": "Sure", "confidence": 0.7}
    assert (result.input_tokens, result.output_tokens, result.stop_reason) == (40, 9, "stop")


def test_azure_openai_deployment_route(fake_llm, llm_workspace):
    fake_llm.provider(llm_workspace, kind="azure_openai", model="sales-gpt4o", api_key=KEY, api_version="2024-10-21")

    result = _call(llm_workspace)

    request = fake_llm.last_request
    assert request.protocol == "azure"
    assert request.path == "/openai/deployments/sales-gpt4o/chat/completions"
    assert request.query["api-version"] == "2024-10-21"
    assert request.headers["api-key"] == KEY
    assert result.text == "OK"


def test_ollama_without_key_uses_v1_and_no_real_key(fake_llm, llm_workspace, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-someone-elses-environment-key-123456")
    fake_llm.provider(llm_workspace, kind="ollama", model="llama3.1", api_key="")
    fake_llm.handler = lambda request: Reply.text("echo: " + request.last_user_text)

    result = _call(llm_workspace)

    request = fake_llm.last_request
    assert request.path == "/v1/chat/completions" and request.json["model"] == "llama3.1"
    assert "someone-elses" not in request.headers.get("authorization", "")
    assert result.text == "echo: Hello there"
    assert result.cost_usd == 0  # local models are free


def test_openai_compatible_tool_call_answer_is_accepted(fake_llm, llm_workspace):
    """Some compatible servers answer a schema request with a tool call instead of JSON content."""
    fake_llm.provider(llm_workspace, kind="openai_compatible", model="qwen")
    fake_llm.queue(Reply.raw(
        b'{"id":"x","object":"chat.completion","created":1,"model":"qwen","choices":[{"index":0,'
        b'"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",'
        b'"function":{"name":"respond","arguments":"{\\"reply\\":\\"ok\\",\\"confidence\\":1}"}}]},'
        b'"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}'
    ))

    result = _call(llm_workspace, schema=SCHEMA)

    assert result.parsed == {"reply": "ok", "confidence": 1}
    assert result.stop_reason == "tool_calls"


def test_markdown_fenced_json_is_accepted(fake_llm, llm_workspace):
    fake_llm.provider(llm_workspace, kind="ollama")
    fake_llm.queue(Reply.text('```json\n{"reply": "hey", "confidence": 0.5}\n```'))

    assert _call(llm_workspace, schema=SCHEMA).parsed == {"reply": "hey", "confidence": 0.5}
