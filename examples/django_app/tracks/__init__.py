"""Tracks: asks for a replace-section edit and keeps the tracks Suno sends back."""
