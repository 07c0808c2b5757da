"""The end-to-end demo: ``python -m r2rnet_plugin.demo`` (:mod:`.run`), its data, options and report."""


def main(argv=None):
    """The demo command (the console script ``r2rnet-demo``); see :mod:`r2rnet_plugin.demo.run`."""
    from r2rnet_plugin.demo.run import main as run
    return run(argv)
