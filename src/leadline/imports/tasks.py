"""Background work for imports: thin wrappers that call services."""

from __future__ import annotations

from django_tasks import task


@task()
def import_run_task(job_id: int) -> None:
    from leadline.imports.services import import_run

    import_run(job_id=job_id)
