"""Imports flow one way: bottom layer < registered parts < libraries < commands < demo.

Every ``import`` of the package (also inside functions) is read from the source with ``ast``.
"""
import ast
import glob
import os

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'r2rnet_plugin')
COMMANDS = ('train', 'test', 'enhance', 'benchmark', 'prepare_lmdb', 'convert_official')
LAYERS = {  # unit -> layer; a module may import units of its own layer or below (and its own unit)
    'ops': 0, 'utils': 0,
    'archs': 1, 'losses': 1, 'data': 1, 'models': 1,
    'weights': 2, 'compat': 2, 'inference': 3, 'comparison': 3, 'lmdb_tool': 3,
    **{command: 4 for command in COMMANDS}, 'demo': 5,
}
# within a layer, only these imports between units
ALLOWED_SIDEWAYS = {('utils', 'ops'), ('models', 'archs'), ('models', 'losses'), ('models', 'data'),
                    ('comparison', 'inference'), ('compat', 'weights')}


def unit_of(module):
    """``r2rnet_plugin.archs.r2r_blocks`` -> ``archs``; the package itself -> ``__init__``."""
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else '__init__'


def source_modules():
    for path in sorted(glob.glob(os.path.join(PACKAGE, '**', '*.py'), recursive=True)):
        rel = os.path.relpath(path, os.path.dirname(PACKAGE))[:-3].replace(os.sep, '.')
        yield rel.removesuffix('.__init__'), path


def imported_modules(path, module):
    tree = ast.parse(open(path, encoding='utf-8').read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:  # relative import
                base = '.'.join(module.split('.')[:-node.level] + ([base] if base else []))
            names = [f'{base}.{alias.name}' if base == 'r2rnet_plugin' else base for alias in node.names]
        else:
            continue
        yield from (name for name in names if name == 'r2rnet_plugin' or name.startswith('r2rnet_plugin.'))


def violations():
    found = []
    for module, path in source_modules():
        unit = unit_of(module)
        if unit == '__init__' or unit == 'samples':
            continue
        assert unit in LAYERS, f'{module}: put it in a unit of tests/test_layers.py LAYERS'
        for target in imported_modules(path, module):
            other = unit_of(target)
            if other == unit or other == '__init__' and LAYERS[unit] >= 4:
                continue
            if other == '__init__':
                found.append(f'{module} imports the package root (only commands and the demo may)')
            elif LAYERS[other] > LAYERS[unit]:
                found.append(f'{module} (layer {LAYERS[unit]}) imports {target} (layer {LAYERS[other]})')
            elif LAYERS[other] == LAYERS[unit] and (unit, other) not in ALLOWED_SIDEWAYS:
                found.append(f'{module} imports {target}, a unit of its own layer')
    return found


def test_imports_flow_one_way():
    assert violations() == []


def test_the_bottom_layer_imports_nothing_above_it():
    for module, path in source_modules():
        if unit_of(module) == 'ops':
            assert all(unit_of(t) == 'ops' for t in imported_modules(path, module)), module


@pytest.mark.parametrize('source, expected', [
    ('from r2rnet_plugin.inference.enhancer import Enhancer\n', 'layer 1'),
    ('def f():\n    from r2rnet_plugin import enhance\n', 'layer 1'),
])
def test_the_check_sees_imports_inside_functions(tmp_path, monkeypatch, source, expected):
    fake = tmp_path / 'r2rnet_plugin' / 'archs'
    fake.mkdir(parents=True)
    (fake / 'bad_arch.py').write_text(source)
    monkeypatch.setattr(__import__(__name__), 'PACKAGE', str(tmp_path / 'r2rnet_plugin'))
    assert any(expected in v for v in violations())
