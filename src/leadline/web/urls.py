from django.contrib.auth import views as auth_views
from django.urls import path

from leadline.web import (
    booking,
    cadences,
    calls,
    commitments,
    committee,
    conversations,
    handoff,
    inbound,
    inbox,
    journeys,
    outreach,
    sla,
    views,
)

app_name = "web"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("people/", views.people, name="people"),
    path("people/<int:pk>/", views.person_detail, name="person"),
    path("accounts/", views.accounts, name="accounts"),
    path("accounts/<int:pk>/", views.account_detail, name="account"),
    path("people/<int:pk>/merge/", views.merge_search, {"kind": "person"}, name="person_merge"),
    path(
        "people/<int:pk>/merge/<int:other>/",
        views.merge_confirm,
        {"kind": "person"},
        name="person_merge_confirm",
    ),
    path("accounts/<int:pk>/merge/", views.merge_search, {"kind": "account"}, name="account_merge"),
    path(
        "accounts/<int:pk>/merge/<int:other>/",
        views.merge_confirm,
        {"kind": "account"},
        name="account_merge_confirm",
    ),
    path("forms/", views.forms_list, name="forms"),
    path("forms/new/", views.form_new, name="form_new"),
    path("forms/field-row/", views.form_field_row, name="form_field_row"),
    path("forms/<int:pk>/", views.form_detail, name="form"),
    path("forms/<int:pk>/edit/", views.form_edit, name="form_edit"),
    path("journeys/", journeys.journeys_list, name="journeys"),
    path("journeys/import/", journeys.journey_import_page, name="journey_import"),
    path("journeys/new/", journeys.journey_new, name="journey_new"),
    path("journeys/<slug:slug>/", journeys.journey_detail, name="journey"),
    path("journeys/<slug:slug>/export.yaml", journeys.journey_export, name="journey_export"),
    path("journeys/<slug:slug>/edit/", journeys.journey_edit, name="journey_edit"),
    path("journeys/<slug:slug>/editor/", journeys.journey_editor, name="journey_editor"),
    path(
        "people/<int:pk>/journeys/<slug:slug>/move/",
        journeys.person_journey_move,
        name="person_journey_move",
    ),
    path("accounts/<int:pk>/committee/add/", committee.committee_add, name="committee_add"),
    path("accounts/<int:pk>/committee/links/", committee.committee_link, name="committee_link"),
    path(
        "accounts/<int:pk>/committee/<int:stakeholder_id>/",
        committee.committee_change,
        name="committee_change",
    ),
    path(
        "accounts/<int:pk>/journeys/<slug:slug>/move/",
        journeys.account_journey_move,
        name="account_journey_move",
    ),
    path(
        "people/<int:pk>/conversations/new/",
        conversations.person_conversation_new,
        name="person_conversation_new",
    ),
    path(
        "accounts/<int:pk>/conversations/new/",
        conversations.account_conversation_new,
        name="account_conversation_new",
    ),
    path(
        "pain-point-suggestions/<int:pk>/decide/",
        conversations.suggestion_decide,
        name="pain_point_decide",
    ),
    path("pain-points/", conversations.pain_points, name="pain_points"),
    path("pain-points/new/", conversations.pain_point_new, name="pain_point_new"),
    path("pain-points/<int:pk>/", conversations.pain_point_edit, name="pain_point_edit"),
    path("pain-points/<int:pk>/active/", conversations.pain_point_active, name="pain_point_active"),
    path("sla/", sla.sla_board, name="sla"),
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/live/", inbox.inbox_live, name="inbox_live"),
    path("inbox/requests/<int:pk>/touch/", inbox.inbox_touch, name="inbox_touch"),
    path("inbox/requests/<int:pk>/email/", inbox.inbox_email, name="inbox_email"),
    path("inbox/notifications/read/", inbox.inbox_notes_read_all, name="inbox_notes_read_all"),
    path("inbox/notifications/<int:pk>/", inbox.inbox_note_open, name="inbox_note_open"),
    path("inbox/notifications/<int:pk>/read/", inbox.inbox_note_read, name="inbox_note_read"),
]

# Each area's pages, listed in its own module.
urlpatterns += [
    *handoff.urlpatterns,
    *outreach.urlpatterns,
    *cadences.urlpatterns,
    *calls.urlpatterns,
    *booking.urlpatterns,
    *commitments.urlpatterns,
    *inbound.urlpatterns,
]
