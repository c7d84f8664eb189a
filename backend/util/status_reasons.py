"""What a service adds to a gRPC status whose code alone means several things, as trailing metadata.

RESOURCE_EXHAUSTED is gRPC's own answer to a message or metadata over its limits, and the services' answer to a
full disk: only the second is a 507 to the gateway's clients, so the services say which, under this key.
"""

REASON_KEY = "modelvault-reason"
DISK_FULL = "disk-full"
