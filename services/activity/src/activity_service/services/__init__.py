"""The activity service's business rules: reading the trail (`ActivityService`), verifying its
hash chain (`ChainVerifier`) and appending to it (`ChainWriter`, the consumer's); the other
modules hold the formats they share (rows, link hashes, exports)."""

from activity_service.services.activity import ActivityService, Export
from activity_service.services.chain_writer import AppendResult, ChainWriter, RejectedBatch
from activity_service.services.verification import ChainBroken, ChainIntact, ChainVerifier

__all__ = [
    "ActivityService",
    "AppendResult",
    "ChainBroken",
    "ChainIntact",
    "ChainVerifier",
    "ChainWriter",
    "Export",
    "RejectedBatch",
]
