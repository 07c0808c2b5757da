"""Which files are images: one list for the dataset, ``prepare_lmdb``, ``enhance`` and the benchmark."""
import os

# Formats OpenCV decodes everywhere; matched case-insensitively.
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')
EIGHT_BIT_ONLY = ('.jpg', '.jpeg', '.bmp', '.webp')  # encoders that take uint8 only


def is_image_file(name):
    """Whether ``name`` (a path or a file name) has one of :data:`IMAGE_EXTENSIONS`."""
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS
