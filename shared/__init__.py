"""Domain and storage code shared by every function of the app (host-free)."""
