"""One stack per concern: network, data, api (storage, processing, monitoring follow)."""
