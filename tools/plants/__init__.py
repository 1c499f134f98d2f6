"""Planted regressions (ZOO_PLUGINS modules) that show each gate stopping what it must stop."""
