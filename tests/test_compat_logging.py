"""BasicSR's training log shows a correct, never negative time left (compat, problem 20)."""
import re

import pytest

import basicsr.train
import basicsr.utils
import basicsr.utils.logger
import r2rnet_plugin  # noqa: F401  (registers the plugin)
from r2rnet_plugin.compat import install_run_fixes

install_run_fixes()  # as a run of the plugin's models does
OPT = {
    'name': 'eta_check',
    'model_type': 'R2RNetModel',
    'logger': {
        'print_freq': 1,
        'use_tb_logger': False
    },
    'train': {
        'total_iter': 10
    }
}


class Clock:
    now = 0.0

    def time(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(basicsr.utils.logger, 'time', fake)
    return fake


def logged_eta(logger, current_iter):
    messages = []
    logger.logger = type('Sink', (), {'info': staticmethod(messages.append)})()
    logger({'epoch': 0, 'iter': current_iter, 'lrs': [1e-4], 'time': 1.0, 'data_time': 0.0, 'l_total': 0.5})
    return re.search(r'\[eta: ([^,]+),', messages[0]).group(1)


def test_train_pipeline_uses_the_fixed_logger():
    assert basicsr.train.MessageLogger is basicsr.utils.MessageLogger is basicsr.utils.logger.MessageLogger
    assert basicsr.train.MessageLogger.__module__ == 'r2rnet_plugin.compat.reporting'


def test_eta_from_a_fresh_start(clock):
    logger = basicsr.train.MessageLogger(OPT, 0)
    clock.now = 100.0  # iteration 1 (start-up) took long; train_pipeline restarts the clock after it
    logger.reset_start_time()
    clock.now = 140.0  # iterations 2 to 5: 10 s each, 5 left
    assert logged_eta(logger, 5) == '0:00:50'
    clock.now = 190.0
    assert logged_eta(logger, 10) == '0:00:00'  # the last iteration: nothing left, not '-1 day'


def test_eta_after_a_resume(clock):
    logger = basicsr.train.MessageLogger(OPT, 4)  # resumed at iteration 4: the clock starts here
    clock.now = 20.0
    assert logged_eta(logger, 6) == '0:00:40'
    clock.now = 80.0
    assert logged_eta(logger, 12) == '0:00:00'  # past total_iter (a changed option file)
