"""Believable, deterministic demo data: `leadline demo-data --people N --seed S`."""

DEMO_LOGINS = (
    ("admin", "admin"),
    ("maria", "marketing"),
    ("sam", "sales manager"),
    ("rita", "sales rep"),
    ("otto", "outside caller"),
)
DEMO_PASSWORD = "demo"  # noqa: S105 - the demo's well-known password, printed on start
