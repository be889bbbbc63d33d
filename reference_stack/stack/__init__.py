"""The stack's supervisor: profiles (what to run), start in order, wait for health, stop cleanly."""
