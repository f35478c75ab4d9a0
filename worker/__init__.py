"""The Celery app and its tasks: deadlines, verification, money recovery, email."""
