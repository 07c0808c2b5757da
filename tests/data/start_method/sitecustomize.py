"""Sets the multiprocessing start method named by R2RNET_TEST_START_METHOD (tests put this on PYTHONPATH)."""
import multiprocessing
import os

if os.environ.get('R2RNET_TEST_START_METHOD'):
    multiprocessing.set_start_method(os.environ['R2RNET_TEST_START_METHOD'])
