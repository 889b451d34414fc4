"""Pulumi ComponentResources that assemble the secure API platform, one per tier."""
