"""The files people look for at the root of a project: LICENSE (the licence pyproject.toml declares), CHANGELOG.md
(a section for the package's version) and CITATION.cff (valid Citation File Format, with the paper of every
registered architecture among its references); the version is written once, in kgen/version.py."""

import ast
import re
import tomllib
from pathlib import Path

import yaml

import kgen

ROOT = Path(__file__).resolve().parent.parent


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def project():
    return pyproject()["project"]


def test_the_version_is_written_once_in_kgen_version():
    """pyproject.toml reads the version from kgen/version.py (a dynamic field, parsed without importing kgen), which
    assigns one string literal: the package, `kgen --version` and the metadata agree by construction."""
    assert "version" not in project() and "version" in project()["dynamic"]
    assert pyproject()["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "kgen.version.__version__"}
    tree = ast.parse((ROOT / "kgen" / "version.py").read_text())
    (literal,) = [node.value.value for node in tree.body if isinstance(node, ast.Assign)
                  and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["__version__"]
                  and isinstance(node.value, ast.Constant)]
    assert literal == kgen.__version__ and re.fullmatch(r"\d+\.\d+\.\d+(\S*)", literal), literal


def test_license_is_the_declared_apache_2():
    text = (ROOT / "LICENSE").read_text()
    assert project()["license"] == "Apache-2.0"
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and "[yyyy]" not in text


def test_changelog_has_the_version_and_an_unreleased_section():
    text = (ROOT / "CHANGELOG.md").read_text()
    versions = re.findall(r"^## \[([^\]]+)\]", text, flags=re.M)
    assert versions[0] == "Unreleased", versions
    assert kgen.__version__ in versions, (kgen.__version__, versions)


def test_citation_cff_names_every_architecture_paper():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert cff["version"] == kgen.__version__ and cff["license"] == project()["license"]
    assert cff["message"] and cff["title"] and cff["authors"]
    references = cff["references"]
    for ref in references:
        assert {"type", "title", "authors", "year", "notes"} <= set(ref), ref.get("title")
        assert all("family-names" in a or "name" in a for a in ref["authors"]), ref["title"]
    notes = " ".join(ref["notes"] for ref in references)
    named = set(re.findall(r"\b[a-z][a-z0-9_]+\b", notes))
    missing = [arch for arch in kgen.zoo.architectures() if arch not in named]
    assert not missing, f"CITATION.cff names no paper for {missing}"
