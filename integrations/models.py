from integrations.llm.models import LLMProvider, LLMQuotaPolicy, LLMUsage  # noqa: F401
