"""The PhoenixFlight API contract: ``v1`` (generated from proto/) and ``protocol`` (the
canonical JSON and handoff-token bytes both sides compute). Shared by the daemon and the SDK."""
