"""Meta (Instagram / Messenger) platform code: webhook signature and parsing, Graph API client, sandbox."""
