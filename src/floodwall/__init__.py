"""Floodwall: real-time defence for live-streaming platforms against automated saturation attacks."""
__version__ = "0.1.0"
