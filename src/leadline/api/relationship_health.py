"""(being built this session)"""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Relationship health"])
