"""``python -m basicsr.train`` with one pause point, for the kill-and-resume tests (not a test itself).

Usage: ``python train_with_pause.py -opt OPTIONS.yml [--auto_resume]``, run from the work folder.

Environment:
    R2RNET_TEST_PAUSE: where to stop: ``iter:<n>`` (before training iteration n runs) or
        ``save:<file name>`` (its temporary file is written and synced, not yet renamed into
        place: the moment an interrupted save leaves behind). Unset: run through.
    R2RNET_TEST_PAUSED: file written (with this process's pid) on reaching the point; the
        process then sleeps until the test kills it with SIGKILL.

Runs deterministically on the CPU: ``torch.use_deterministic_algorithms(True)``, one thread.
"""
import os
import runpy
import sys
import time

import torch

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

import r2rnet_plugin  # noqa: E402,F401  (adapts basicsr and registers the plugin)
from r2rnet_plugin.models.r2rnet_model import R2RNetModel  # noqa: E402
from r2rnet_plugin.utils import checkpoint_io  # noqa: E402


def pause():
    marker = os.environ['R2RNET_TEST_PAUSED']
    with open(marker + '.part', 'w') as f:
        f.write(str(os.getpid()))
    os.replace(marker + '.part', marker)
    while True:
        time.sleep(60)


def install_pause(point):
    kind, _, where = point.partition(':')
    if kind == 'iter':
        optimize = R2RNetModel.optimize_parameters

        def optimize_or_pause(self, current_iter):
            if current_iter == int(where):
                pause()
            return optimize(self, current_iter)

        R2RNetModel.optimize_parameters = optimize_or_pause
    elif kind == 'save':
        write = checkpoint_io.write_temporary

        def write_or_pause(obj, path):
            temp = write(obj, path)
            if os.path.basename(path) == where:
                pause()
            return temp

        checkpoint_io.write_temporary = write_or_pause
    elif point:
        raise ValueError(f'R2RNET_TEST_PAUSE: unknown point {point!r}')


if __name__ == '__main__':
    install_pause(os.environ.get('R2RNET_TEST_PAUSE', ''))
    sys.argv = ['basicsr.train', *sys.argv[1:]]
    runpy.run_module('basicsr.train', run_name='__main__', alter_sys=True)
