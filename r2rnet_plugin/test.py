"""`python -m r2rnet_plugin.test -opt OPTIONS.yml`: BasicSR's testing pipeline with the plugin loaded.

Same arguments as `python -m basicsr.test`; experiments, results and logs go under the current directory.
"""
import os

import r2rnet_plugin  # noqa: F401  (registers the plugin and adapts basicsr)


def main():
    from basicsr.test import test_pipeline
    test_pipeline(os.getcwd())


if __name__ == '__main__':
    main()
