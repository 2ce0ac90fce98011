"""Tests of the legacy generations (2.x XML: JW303/JW304, WMO303/WMO304)."""
