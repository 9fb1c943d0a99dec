"""The whole schema: importing this module registers, on ``billing.models.Base.metadata``, the
tables every package's store room declares (for the migrations and their comparison test)."""

import billing.events.store
import billing.jobs.store
import billing.reports.store
import billing.setup.store  # noqa: F401
