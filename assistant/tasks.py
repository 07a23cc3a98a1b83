from celery import shared_task

from assistant.answer import answer_write
from assistant.services import assistant_answers_fail_stale
from assistant.suggest import suggestions_write


# On the `llm` queue (sidekick_project.celery task_routes). Not acks_late: a redelivered answer would
# start again from nothing over text the reader already saw. A lost one stays "writing" with no text:
# Stop marks it stopped at once, and Retry asks again.
@shared_task(ignore_result=True, time_limit=180, soft_time_limit=170)
def assistant_answer(message_id: int) -> str:
    return answer_write(message_id=message_id)


# Not acks_late either: the rows are written once (suggestions_write checks); a lost job stays
# "running" until the user asks again after the time limit (services.suggestions_request).
@shared_task(ignore_result=True, time_limit=120, soft_time_limit=110)
def assistant_suggest(message_id: int) -> str:
    return suggestions_write(message_id=message_id)


# Beat, every minute (sidekick_project.celery): answers lost with their worker say so instead of "Thinking…".
@shared_task(ignore_result=True, time_limit=60, soft_time_limit=50)
def assistant_answers_sweep() -> int:
    return assistant_answers_fail_stale()
