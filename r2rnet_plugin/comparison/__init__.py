"""Library behind ``python -m r2rnet_plugin.benchmark``: LLIE methods compared on the same images.

One responsibility per module:

- :mod:`.config`: the YAML options, read and checked.
- :mod:`.plugins`: importing modules (or .py files, by path) that register more archs.
- :mod:`.llie_archs`: which registered archs are low-light enhancers; unknown-arch errors.
- :mod:`.methods`: building a method's network and loading its weights.
- :mod:`.widths`: the network width a weights file holds.
- :mod:`.padding`: ``pad_to``: pad to a multiple, crop back.
- :mod:`.device`: device and precision.
- :mod:`.quality`: PSNR / SSIM (RGB, Y, GT-mean) and NIQE through BasicSR's metric registry, LOE.
- :mod:`.loe`: the lightness-order error.
- :mod:`.cost`: parameters, MACs, latency and peak memory.
- :mod:`.runner`: every method on every image of every dataset, with a progress bar.
- :mod:`.ranking`: the summary's mean ranks.
- :mod:`.reports`: results.md, results.csv, summary.csv, results.json.
- :mod:`.figures`: the quality-vs-latency plot and the sheet of crops (drawn with OpenCV).
"""
