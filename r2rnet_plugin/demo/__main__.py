"""`python -m r2rnet_plugin.demo`: see :mod:`r2rnet_plugin.demo.run`."""
from r2rnet_plugin.demo.run import main

if __name__ == '__main__':
    main()
