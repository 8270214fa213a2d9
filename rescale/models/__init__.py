"""Learned rescaling models (each registered by name in :mod:`rescale.methods`)."""
