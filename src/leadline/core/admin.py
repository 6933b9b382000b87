"""The Django admin, for admins only: the role decides, not Django's is_staff flag."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest

from leadline.core.models import (
    Account,
    AccountDomain,
    ApiToken,
    AuditEntry,
    LoginFailure,
    LoginLockout,
    Membership,
    Person,
    PersonEmail,
    PersonPhone,
    PersonSearch,
    Team,
    TimelineEvent,
    User,
    WorkerHeartbeat,
)
from leadline.core.permissions import access_admin
from leadline.core.services import people_search_refresh


def _admin_site_has_permission(request: HttpRequest) -> bool:
    return access_admin(request.user)


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's own login page lets in active users whose role is admin."""

    def confirm_login_allowed(self, user: AbstractBaseUser) -> None:
        if not access_admin(user):
            raise forms.ValidationError(
                "Only users with the admin role may use the admin. Log in with an admin account.",
                code="invalid_login",
            )


admin.site.has_permission = _admin_site_has_permission  # type: ignore[method-assign]
admin.site.login_form = AdminLoginForm
admin.site.site_header = "Leadline admin"
admin.site.site_title = "Leadline admin"
admin.site.index_title = "Everything else"
admin.site.site_url = "/"


class AdminRoleOnly:
    """Every model page is for the admin role, without per-model Django permissions."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return access_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access_admin(request.user)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return access_admin(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access_admin(request.user)


class ReadOnly(AdminRoleOnly):
    """Records of what happened are not edited after the fact (an admin may still erase them)."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class KeepsSearch:
    """An admin's edit of a name, an address, a membership or a company's name changes what
    people are found by: their search text is rewritten after the save or delete, as the
    services do (`people_search_refresh`)."""

    def searched_people(self, obj: Any) -> list[int]:
        if isinstance(obj, Person):
            return [obj.pk]
        if isinstance(obj, Account):
            return list(obj.memberships.values_list("person_id", flat=True))
        return [obj.person_id]  # an address or a membership

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        people_search_refresh(person_ids=self.searched_people(form.instance))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        people = self.searched_people(obj)
        super().delete_model(request, obj)  # type: ignore[misc]
        people_search_refresh(person_ids=people)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        people = [pk for obj in queryset for pk in self.searched_people(obj)]
        super().delete_queryset(request, queryset)  # type: ignore[misc]
        people_search_refresh(person_ids=people)


@admin.register(User)
class LeadlineUserAdmin(AdminRoleOnly, UserAdmin):  # type: ignore[type-arg]
    list_display = ("username", "first_name", "last_name", "email", "role", "team", "is_active")
    list_filter = ("role", "team", "is_active")
    search_fields = ("username", "first_name", "last_name", "email")
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("Leadline", {"fields": ("role", "team", "time_zone")}),
    )
    add_fieldsets = (
        *UserAdmin.add_fieldsets,
        ("Leadline", {"fields": ("role", "team", "time_zone")}),
    )


@admin.register(Team)
class TeamAdmin(AdminRoleOnly, admin.ModelAdmin[Team]):
    list_display = ("name", "manager", "time_zone", "country")
    search_fields = ("name",)
    raw_id_fields = ("manager",)


@admin.register(ApiToken)
class ApiTokenAdmin(AdminRoleOnly, admin.ModelAdmin[ApiToken]):
    """Tokens are made with `leadline token`, which shows the key once; here they are revoked."""

    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username", "prefix")
    readonly_fields = ("user", "name", "prefix", "key_hash", "created_at", "last_used_at")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False


class AccountDomainInline(AdminRoleOnly, admin.TabularInline[AccountDomain, Account]):
    model = AccountDomain
    extra = 0


class AccountMembershipInline(AdminRoleOnly, admin.TabularInline[Membership, Account]):
    model = Membership
    extra = 0
    raw_id_fields = ("person",)
    fields = ("person", "title", "role_in_company", "is_current")


@admin.register(Account)
class AccountAdmin(KeepsSearch, AdminRoleOnly, admin.ModelAdmin[Account]):
    list_display = ("name", "industry", "employees", "country", "created_at", "merged_into")
    list_filter = ("industry", "country")
    search_fields = ("name", "domains__domain")
    raw_id_fields = ("merged_into",)
    inlines = (AccountDomainInline, AccountMembershipInline)
    date_hierarchy = "created_at"


@admin.register(AccountDomain)
class AccountDomainAdmin(AdminRoleOnly, admin.ModelAdmin[AccountDomain]):
    list_display = ("domain", "account")
    search_fields = ("domain", "account__name")
    raw_id_fields = ("account",)


class PersonEmailInline(AdminRoleOnly, admin.TabularInline[PersonEmail, Person]):
    model = PersonEmail
    extra = 0
    fields = ("email", "is_primary", "created_at")


class PersonPhoneInline(AdminRoleOnly, admin.TabularInline[PersonPhone, Person]):
    model = PersonPhone
    extra = 0
    fields = ("e164", "label", "created_at")


class PersonMembershipInline(AdminRoleOnly, admin.TabularInline[Membership, Person]):
    model = Membership
    extra = 0
    raw_id_fields = ("account",)
    fields = ("account", "title", "role_in_company", "is_current")


@admin.register(Person)
class PersonAdmin(KeepsSearch, AdminRoleOnly, admin.ModelAdmin[Person]):
    list_display = ("__str__", "role_own_words", "title", "country", "created_at", "merged_into")
    list_filter = ("preferred_channel", "country")
    search_fields = ("first_name", "last_name", "emails__email", "role_own_words", "title")
    raw_id_fields = ("merged_into",)
    inlines = (PersonEmailInline, PersonPhoneInline, PersonMembershipInline)
    date_hierarchy = "created_at"


@admin.register(PersonEmail)
class PersonEmailAdmin(KeepsSearch, AdminRoleOnly, admin.ModelAdmin[PersonEmail]):
    list_display = ("email", "person", "is_primary", "created_at")
    list_filter = ("is_primary",)
    search_fields = ("email",)
    raw_id_fields = ("person",)


@admin.register(PersonPhone)
class PersonPhoneAdmin(AdminRoleOnly, admin.ModelAdmin[PersonPhone]):
    list_display = ("e164", "label", "person", "created_at")
    search_fields = ("e164",)
    raw_id_fields = ("person",)


@admin.register(Membership)
class MembershipAdmin(KeepsSearch, AdminRoleOnly, admin.ModelAdmin[Membership]):
    list_display = ("person", "account", "title", "is_current", "created_at")
    list_filter = ("is_current",)
    search_fields = ("person__last_name", "person__emails__email", "account__name", "title")
    raw_id_fields = ("person", "account")


@admin.register(LoginFailure)
class LoginFailureAdmin(ReadOnly, admin.ModelAdmin[LoginFailure]):
    list_display = ("at", "kind", "key")
    list_filter = ("kind",)
    search_fields = ("key",)


@admin.register(LoginLockout)
class LoginLockoutAdmin(ReadOnly, admin.ModelAdmin[LoginLockout]):
    """Who is locked out of logging in; `leadline unlock` ends a lockout (audited)."""

    list_display = ("locked_at", "kind", "key", "until", "released_at")
    list_filter = ("kind",)
    search_fields = ("key",)


@admin.register(PersonSearch)
class PersonSearchAdmin(ReadOnly, admin.ModelAdmin[PersonSearch]):
    """What people search reads, for looking into a search that finds too much or too little."""

    list_display = ("person", "text")
    search_fields = ("text",)
    raw_id_fields = ("person",)


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnly, admin.ModelAdmin[WorkerHeartbeat]):
    """The running workers as they last reported (`leadline doctor` reads these)."""

    list_display = ("name", "beat_at", "sweeps_at", "timers_at", "cadences_at", "started_at")
    search_fields = ("name", "host")


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnly, admin.ModelAdmin[TimelineEvent]):
    list_display = ("occurred_at", "kind", "summary", "person", "account", "actor")
    list_filter = ("kind",)
    search_fields = ("summary", "person__last_name", "account__name")
    date_hierarchy = "occurred_at"
    list_select_related = ("person", "account", "actor")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnly, admin.ModelAdmin[AuditEntry]):
    list_display = ("at", "actor", "action", "object_type", "object_id")
    list_filter = ("action", "object_type")
    search_fields = ("action", "object_id", "actor__username")
    date_hierarchy = "at"
    list_select_related = ("actor",)
