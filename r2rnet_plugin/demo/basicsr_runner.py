"""Run ``python -m basicsr.train|test`` in a child process, with a progress bar and a log file."""
import os
import re
import subprocess
import sys

import yaml
from tqdm import tqdm

ITER_PATTERN = re.compile(r'iter:\s*(\d+),')


class BasicSRRunError(RuntimeError):
    """The BasicSR command failed; the message ends with the tail of its log."""


def run_basicsr(module, opt, option_file, log_file, cwd, total_iter=None, desc=None, extra_args=()):
    """Write ``opt`` to ``option_file`` and run ``python -m <module> -opt option_file`` in ``cwd``.

    BasicSR's output goes to ``log_file``; a tqdm bar follows the logged iterations when
    ``total_iter`` is given.

    Raises:
        BasicSRRunError: on a non-zero exit, with the last lines of the log.
    """
    with open(option_file, 'w') as f:
        yaml.safe_dump(opt, f, sort_keys=False)
    command = [sys.executable, '-m', module, '-opt', os.path.abspath(option_file), *extra_args]
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    bar = tqdm(total=total_iter, desc=desc or module, unit='iter', disable=total_iter is None)
    tail = []
    with open(log_file, 'w') as log, subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            log.write(line)
            tail = (tail + [line])[-30:]
            match = ITER_PATTERN.search(line)
            if match:
                bar.update(int(match.group(1)) - bar.n)
    bar.close()
    if proc.returncode != 0:
        raise BasicSRRunError(f'{" ".join(command)} failed (exit {proc.returncode}); log: {log_file}\n' + ''.join(tail))
