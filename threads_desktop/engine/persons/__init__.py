"""One person, several devices (issue 19): this profile's person, its
devices, and the threads a new device of it takes over (service.py)."""
