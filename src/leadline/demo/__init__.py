"""Believable, deterministic demo data: `leadline demo-data --people N --seed S`."""
