"""Test doubles for the network edge (dev only: tests and bench/; never imported by the runtime apps).

- `testing.fake_llm`: `FakeLLMServer` (a local HTTP server speaking the providers' APIs) and `Reply`.
- `testing.pytest_fixtures`: the `fake_llm` and `llm_workspace` fixtures (loaded by the root conftest).
"""
