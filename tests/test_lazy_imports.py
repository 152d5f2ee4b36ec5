"""`import kgen` gives every public module as an attribute, imported on first use, and lists them in `dir(kgen)`
(issue 26, point 2); the `kgen` command's lazy import stays light (tests/test_cli_shell.py)."""

import os
import pkgutil
import subprocess
import sys

import kgen
import pytest

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)

ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))


def _public_modules():
    return sorted(m.name for m in pkgutil.iter_modules(kgen.__path__) if not m.name.startswith("_"))


def test_the_list_of_submodules_is_every_public_module():
    assert sorted(kgen._SUBMODULES) == _public_modules()
    assert set(_public_modules()) <= set(dir(kgen))
    assert set(kgen.__all__) == set(_public_modules()) | {"__version__"}


def test_every_public_module_is_an_attribute_after_import_kgen():
    """In a fresh interpreter, as a script or a notebook imports kgen: `kgen.export`, `kgen.plotting`, ... without
    importing them first; an unknown name is still an AttributeError."""
    code = (
        "import sys, kgen\n"
        "names = [n for n in dir(kgen) if n in kgen._SUBMODULES]\n"
        "late = [n for n in names if 'kgen.' + n not in sys.modules]\n"
        "assert 'export' in late and 'plotting' in late, late\n"  # not imported by `import kgen`
        "for n in names:\n"
        "    assert getattr(kgen, n) is sys.modules['kgen.' + n], n\n"
        "try:\n"
        "    kgen.no_such_module\n"
        "except AttributeError as e:\n"
        "    assert 'no_such_module' in str(e)\n"
        "else:\n"
        "    raise AssertionError('kgen.no_such_module')\n"
        "print(len(names))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=300)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) == len(_public_modules())


def test_the_command_imports_no_submodule_it_does_not_need():
    """`kgen --help` (argv[0] is the console script): `import kgen` imports nothing heavy, yet the attributes work."""
    code = (
        "import sys\n"
        "sys.argv = ['kgen']\n"
        "import kgen\n"
        "assert 'kgen.models' not in sys.modules and 'keras' not in sys.modules\n"
        "assert kgen.catalog.list_models('pixelcnn.tiny') == ['pixelcnn.tiny']\n"
        "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=300)
    assert result.returncode == 0, result.stderr
