"""(issue 6, being built)"""

from ninja import Router

router = Router(tags=["transitions"])
