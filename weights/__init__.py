"""Trained weights, installed as ``rescale.weights``: ``NAME.safetensors`` beside ``NAME.json``,
its manifest (architecture, command, data, steps, wall time, hardware, metrics). Load them with
:func:`rescale.pretrained.load_state_dict`."""
