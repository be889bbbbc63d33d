"""reference_stack: everything that SERVES (gateway, provider stand-ins, engines, profiles)."""
