"""`python -m r2rnet_plugin.train -opt OPTIONS.yml`: BasicSR's training pipeline with the plugin loaded.

Same arguments as `python -m basicsr.train`; experiments, results and logs go under the current directory.
"""
import os

import r2rnet_plugin  # noqa: F401  (registers the plugin and adapts basicsr)


def main():
    from basicsr.train import train_pipeline
    train_pipeline(os.getcwd())


if __name__ == '__main__':
    main()
