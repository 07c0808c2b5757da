"""Logging and validation fixes, for the runs that get them.

- ``final_validation_iter`` (problem 11): ``train_pipeline`` runs its final validation with
  ``total_iter + 1``, so the last metrics (and saved images) are labelled one iteration too far;
  the iteration is clamped to ``total_iter``.
- ``eta`` (problem 20): ``MessageLogger`` estimates the time left as the mean time per
  iteration times ``total_iter - iter - 1`` (negative, '-1 day, 23:59:..', at the last
  iteration), the mean dividing the time since ``reset_start_time`` (called after iteration 1)
  by ``iter + 1`` iterations. The mean is taken over the iterations actually timed and the ETA
  counts the iterations left, never fewer than zero.
"""
import functools

from r2rnet_plugin.compat import scope


def make_clamped_validation(original):
    """``make`` of the ``final_validation_iter`` patch of ``BaseModel.validation``."""

    @functools.wraps(original)
    def validation(self, dataloader, current_iter, tb_logger, save_img=False):
        if (scope.wants(self.opt, 'final_validation_iter') and self.is_train and isinstance(current_iter, int)
                and 'train' in self.opt):
            current_iter = min(current_iter, int(self.opt['train']['total_iter']))
        return original(self, dataloader, current_iter, tb_logger, save_img)

    return validation


def make_message_logger(original):
    """``make`` of the ``eta`` patch: a ``MessageLogger`` subclass, BasicSR's unless the run gets it."""

    class MessageLogger(original):
        __doc__ = original.__doc__

        def __init__(self, opt, start_iter=1, tb_logger=None):
            super().__init__(opt, start_iter, tb_logger)
            self.fixed_eta = scope.wants(opt, 'eta')
            self.done_at_start = start_iter  # iterations already done when the clock started

        def reset_start_time(self):  # train_pipeline calls it after iteration 1
            super().reset_start_time()
            self.done_at_start = 1

        def __call__(self, log_vars):
            if not self.fixed_eta:
                return super().__call__(log_vars)
            # The base class computes mean = elapsed / (iter - start_iter + 1) and
            # eta = mean * (max_iters - iter - 1); these two values make that exact.
            current_iter, max_iters = log_vars['iter'], self.max_iters
            self.start_iter = min(self.done_at_start, current_iter - 1) + 1
            self.max_iters = max(max_iters, current_iter) + 1
            try:
                return super().__call__(log_vars)
            finally:
                self.max_iters = max_iters

    return MessageLogger
