"""Training of the learned methods: ``python -m rescale.train MODEL [options]``.

Each trainer is a module ``rescale.train.<model>`` with ``add_arguments(parser)`` and
``main(args) -> int``; the shared pieces (patch sampling, checkpoints, logs, weight export) live in
:mod:`rescale.train.patches` and :mod:`rescale.train.run`, the training loop of the LR-guided
invertible trainers (IRN, IARN) in :mod:`rescale.train.loop`.
"""

#: model name -> trainer module
TRAINERS = {
    "cairn": "rescale.train.cairn",
    "espcn": "rescale.train.espcn",
    "iarn": "rescale.train.iarn",
    "irn": "rescale.train.irn",
    "muller": "rescale.train.muller",
}
