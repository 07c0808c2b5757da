"""Enhancing users' photos with a trained R2RNet (the library behind ``python -m r2rnet_plugin.enhance``).

- :mod:`~r2rnet_plugin.inference.weights`: an R2RNet from a BasicSR file or the published checkpoints
- :mod:`~r2rnet_plugin.inference.image_io`: photos in (8/16-bit, grey, alpha) and back out alike
- :mod:`~r2rnet_plugin.inference.tiling`: tile-by-tile processing with blended overlaps
- :mod:`~r2rnet_plugin.inference.enhancer`: one image through the network (device, precision, tiles)
- :mod:`~r2rnet_plugin.inference.batch`: many files into a folder, failures reported, not fatal
"""
