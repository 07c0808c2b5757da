"""`python -m r2rnet_plugin.train -opt OPTIONS.yml`: BasicSR's training pipeline with the plugin loaded.

Every BasicSR fix of the plugin applies, whatever the model (see README, "BasicSR compatibility").
Same arguments as `python -m basicsr.train`; experiments, results and logs go under the current directory.
"""
from r2rnet_plugin.compat import scope
from r2rnet_plugin.compat.launch import run_pipeline


def main():
    scope.opt_in_process()
    run_pipeline('basicsr.train', 'train_pipeline')


if __name__ == '__main__':
    main()
