"""Leadline: a B2B lead system that keeps the person at the centre and never drops a lead."""

__version__ = "0.1.0"
