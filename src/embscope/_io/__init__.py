"""What touches the machine rather than the geometry: atomic writes, the on-disk cache, progress
bars, JSON read from users, the torch device. Private: nothing here is API."""
