"""`python -m activity_service.consumer`: consume the audit stream into the chain until SIGTERM
or SIGINT (the batch under way is stored and acknowledged first; exit status 0)."""

from __future__ import annotations

import asyncio
import sys

from activity_service.consumer.startup import run
from activity_service.settings import get_settings
from common.logging import configure_logging


def main() -> int:
    settings = get_settings()
    # Its own name in logs, log file and `application_name`, apart from the API's.
    settings = settings.model_copy(update={"service_name": f"{settings.service_name}-consumer"})
    configure_logging(settings)
    return asyncio.run(run(settings))


if __name__ == "__main__":
    sys.exit(main())
