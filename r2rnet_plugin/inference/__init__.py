"""Enhancing users' photos with a trained R2RNet (the library behind ``python -m r2rnet_plugin.enhance``).

- :mod:`~r2rnet_plugin.weights.reader`: an R2RNet from a BasicSR file or the published checkpoints
- :mod:`~r2rnet_plugin.inference.image_probe`: an image file's header (size, frames), read without decoding
- :mod:`~r2rnet_plugin.inference.image_io`: photos in (8/16-bit, grey, alpha) and back out alike
- :mod:`~r2rnet_plugin.inference.safe_write`: outputs written whole or not at all, never through a symlink
- :mod:`~r2rnet_plugin.inference.memory`: whether an image fits in memory, whole or tiled
- :mod:`~r2rnet_plugin.inference.output_plan`: the output folder and every output checked before writing
- :mod:`~r2rnet_plugin.inference.tiling`: tile-by-tile processing with blended overlaps
- :mod:`~r2rnet_plugin.inference.enhancer`: one image through the network (device, precision, tiles)
- :mod:`~r2rnet_plugin.inference.batch`: many files into a folder, failures reported, not fatal
"""
