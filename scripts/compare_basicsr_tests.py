"""Run BasicSR's own test suite with the plugin installed and without it, and compare the outcomes.

Usage::

    git clone --branch v1.4.2 https://github.com/XPixelGroup/BasicSR /tmp/BasicSR
    python scripts/compare_basicsr_tests.py /tmp/BasicSR

The suite runs twice from the checkout (its tests read ``tests/data`` relative to it):

- *with the plugin*: this environment as it is (the start-up hook loads the plugin on
  ``import basicsr``);
- *as released*: ``R2RNET_PLUGIN_AUTOLOAD=0`` and only BasicSR's torchvision import fixed
  (``scripts/plain_basicsr`` on ``PYTHONPATH``).

Prints the outcome counts of both and every test whose outcome differs. Exit status 0 when
every test has the same outcome both ways, 1 otherwise, 2 when the suite could not run.
"""
import argparse
import collections
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree

PLAIN_BASICSR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'plain_basicsr')


def environments():
    """The two environments compared: name -> environment variables."""
    base = {k: v for k, v in os.environ.items() if not k.startswith('R2RNET_')}
    plain_path = os.pathsep.join(filter(None, [PLAIN_BASICSR, base.get('PYTHONPATH')]))
    return {'with the plugin': base, 'as released': dict(base, R2RNET_PLUGIN_AUTOLOAD='0', PYTHONPATH=plain_path)}


def outcomes(junit_file):
    """``{test id: 'passed' | 'failed' | 'error' | 'skipped'}`` from a pytest JUnit XML report."""
    results = {}
    for case in ElementTree.parse(junit_file).getroot().iter('testcase'):
        kinds = [child.tag for child in case if child.tag in ('failure', 'error', 'skipped')]
        outcome = {'failure': 'failed'}.get(kinds[0], kinds[0]) if kinds else 'passed'
        results[f"{case.get('classname')}::{case.get('name')}"] = outcome
    return results


def run_suite(checkout, env, extra_args):
    """Outcomes of ``pytest tests`` in ``checkout`` with ``env``."""
    with tempfile.TemporaryDirectory() as scratch:
        report = os.path.join(scratch, 'report.xml')
        command = [
            sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', f'--junitxml={report}', 'tests', *extra_args
        ]
        done = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True)
        if not os.path.exists(report):
            tail = (done.stdout + done.stderr)[-3000:]
            raise RuntimeError(f'pytest wrote no report (exit {done.returncode}):\n{tail}')
        return outcomes(report)


def compare(results):
    """Lines describing ``{environment: outcomes}``, and whether every test agrees."""
    (name_a, a), (name_b, b) = results.items()
    lines = [
        f'{name}: ' + ', '.join(f'{n} {k}' for k, n in sorted(collections.Counter(r.values()).items()))
        for name, r in results.items()
    ]
    differing = sorted(t for t in set(a) | set(b) if a.get(t) != b.get(t))
    for test in differing:
        lines.append(f'  differs: {test}: {a.get(test, "absent")} {name_a}, {b.get(test, "absent")} {name_b}')
    lines.append('every test has the same outcome both ways' if not differing else f'{len(differing)} test(s) differ')
    return lines, not differing


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('checkout', help='a BasicSR checkout (its tests/ folder is run)')
    parser.add_argument('pytest_args', nargs='*', help='extra pytest arguments, e.g. -k "not cuda"')
    args = parser.parse_args(argv)
    if not os.path.isdir(os.path.join(args.checkout, 'tests')):
        print(f'error: {args.checkout} has no tests/ folder', file=sys.stderr)
        return 2
    try:
        results = {name: run_suite(args.checkout, env, args.pytest_args) for name, env in environments().items()}
    except RuntimeError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    lines, same = compare(results)
    print('\n'.join(lines))
    return 0 if same else 1


if __name__ == '__main__':
    sys.exit(main())
