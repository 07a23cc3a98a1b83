from integrations.llm import admin as llm_admin  # noqa: F401
