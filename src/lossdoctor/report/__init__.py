"""Renderers of a Diagnosis: terminal text and JSON."""
