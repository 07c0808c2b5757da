"""r2rnet_plugin: R2RNet low-light enhancement as a plugin of the BasicSR toolbox."""
import os

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
PTH_FILE = 'r2rnet_plugin_autoload.pth'


class BuildPyWithStartupHook(build_py):
    """Also ship the .pth file that lets BasicSR discover the plugin (see r2rnet_plugin_autoload)."""

    def run(self):
        super().run()
        self.copy_file(os.path.join(HERE, PTH_FILE), os.path.join(self.build_lib, PTH_FILE))
        if getattr(self, 'editable_mode', False):
            # An editable wheel only ships the files put straight into its unpacked folder.
            wheel_dir = self.get_finalized_command('install').install_lib
            self.copy_file(os.path.join(HERE, PTH_FILE), os.path.join(wheel_dir, PTH_FILE))

    def get_outputs(self, include_bytecode=True):
        return super().get_outputs(include_bytecode) + [os.path.join(self.build_lib, PTH_FILE)]


COMMANDS = ['train', 'test', 'convert_official', 'prepare_lmdb', 'enhance', 'benchmark', 'demo']

setup(
    name='r2rnet_plugin',
    version='0.1.0',
    description='R2RNet (real-low to real-normal low-light enhancement) as a BasicSR plugin',
    long_description=open(os.path.join(HERE, 'README.md'), encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.9',
    packages=find_packages(include=['r2rnet_plugin', 'r2rnet_plugin.*']),
    py_modules=['r2rnet_plugin_autoload'],
    package_data={'r2rnet_plugin': ['samples/*.png', 'samples/README.md']},
    cmdclass={'build_py': BuildPyWithStartupHook},
    # basicsr 1.4.2 requires tb-nightly, which installs the `tensorboard` package; requiring
    # `tensorboard` as well would install a second distribution over the same files.
    install_requires=[
        'basicsr==1.4.2',
        'torch>=2.14.1',  # the version CI tests (run.sh installs exactly it)
        'torchvision>=0.29.1',
        'numpy',
        'opencv-python',
        'lmdb',
        'pyyaml',
        'scipy',
        'tqdm',
    ],
    extras_require={
        'test': ['pytest', 'flake8==7.5.0', 'isort==9.0.2', 'yapf==0.43.0'],
        'demo': ['scikit-image']
    },
    entry_points={'console_scripts': [f'r2rnet-{c.replace("_", "-")}=r2rnet_plugin.{c}:main' for c in COMMANDS]},
)
