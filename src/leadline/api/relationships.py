"""The API for relationships: each seller's active relationships against their cap."""

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate

from leadline.api.auth import REFUSALS, ErrorOut, require, rule
from leadline.api.common import Paging
from leadline.core.models import Team, User
from leadline.core.permissions import access_relationship_health, access_team_load
from leadline.relationships.capacity import SellerLoad, seller_load, team_loads
from leadline.relationships.selectors import relationship_loads

router = Router(tags=["Relationships"])


class SellerLoadOut(Schema):
    user_id: int
    username: str
    name: str
    team_id: int | None
    team: str | None = Field(description="The team's name")
    is_active: bool = Field(description="false: deactivated (listed while they still own some)")
    load: int = Field(
        description="Active relationships: an open request or deal, or a recent "
        "touch or conversation"
    )
    owned: int = Field(description="Every relationship they own now, dormant ones included")
    cap: int = Field(description="Most active relationships routing lets them hold")
    share: float = Field(description="load / cap (1.0 = at the cap)")
    alert: bool = Field(description="At the alert share of the cap (90%) or more")
    over: bool = Field(description="More active relationships than the cap")
    alert_since: dt.datetime | None = Field(description="When their open capacity alert was raised")


class LoadFilter(Schema):
    team_id: int | None = Field(None, description="Only this team's sellers (404: unknown)")


def _out(s: SellerLoad) -> SellerLoadOut:
    return SellerLoadOut(
        user_id=s.user.pk,
        username=s.user.username,
        name=str(s.user),
        team_id=s.team.pk if s.team else None,
        team=s.team.name if s.team else None,
        is_active=s.user.is_active,
        load=s.load,
        owned=s.owned,
        cap=s.cap,
        share=round(s.share, 4),
        alert=s.alert,
        over=s.over,
        alert_since=s.alert_since,
    )


@router.get(
    "/load",
    response={200: list[SellerLoadOut], 404: ErrorOut, **REFUSALS},
    summary="Every seller's load against their cap",
)
@paginate(Paging)
@rule(access_team_load)
def loads_list(request: HttpRequest, filters: Query[LoadFilter]) -> list[SellerLoadOut]:
    """Active sales reps, and anyone else who still owns a relationship (a manager, a
    deactivated leaver), by team and the fullest first. Sales managers and admins."""
    require(request, access_team_load)
    team = None
    if filters.team_id is not None:
        team = Team.objects.filter(pk=filters.team_id).first()
        if team is None:
            raise HttpError(404, f"no team {filters.team_id}")
    return [_out(s) for s in team_loads(team=team)]


@router.get(
    "/load/{user_id}",
    response={200: SellerLoadOut, 404: ErrorOut, **REFUSALS},
    summary="One seller's load against their cap",
)
@rule(access_relationship_health)
def load_get(request: HttpRequest, user_id: int) -> SellerLoadOut:
    """Sales managers and admins read anyone's; a sales rep reads only their own."""
    caller = require(request, access_relationship_health)
    if caller.pk != user_id and not access_team_load(caller):
        raise HttpError(403, "a sales rep reads only their own load; managers and admins anyone's")
    found = team_loads(user_ids=[user_id])
    if found:
        return _out(found[0])
    # Not a seller by team_loads' rule (a manager who owns nothing): their load is still asked.
    user = User.objects.select_related("team").filter(pk=user_id).first()
    if user is None:
        raise HttpError(404, f"no user {user_id}")
    load = relationship_loads(user_ids=[user.pk]).get(user.pk, 0)
    return _out(seller_load(user=user, load=load))
