from django.core.files.uploadedfile import SimpleUploadedFile

from knowledge import services


def upload(workspace, name: str, content: bytes | str, *, run_tasks=None, actor=None, document=None, title=""):
    """Upload a file; with ``run_tasks`` the ingestion runs before this returns."""
    data = content.encode() if isinstance(content, str) else content
    file = SimpleUploadedFile(name, data)
    if run_tasks is None:
        return services.document_upload(workspace=workspace, upload=file, actor=actor, document=document, title=title)
    with run_tasks():
        outcome = services.document_upload(workspace=workspace, upload=file, actor=actor, document=document,
                                           title=title)
    outcome.document.refresh_from_db()
    return outcome
