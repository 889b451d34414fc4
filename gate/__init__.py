"""Offline policy gate: render a Pulumi program under mocks and drive CrossGuard packs like the engine."""
