"""The type stubs (python/xbuf/__init__.pyi) describe what the extension has:
every public name of the module and of each class appears in both."""
import ast
from pathlib import Path

import pytest

import xbuf

STUBS = Path(xbuf.__file__).with_name("__init__.pyi")


def stub_tree():
    return ast.parse(STUBS.read_text())


def stub_names(body):
    names = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def public(names):
    return {n for n in names if not n.startswith("_")}


def test_module_names_match():
    assert public(stub_names(stub_tree().body)) == set(xbuf.__all__) | {"library_version"}


@pytest.mark.parametrize("cls", [xbuf.View, xbuf.Format, xbuf.Exporter])
def test_class_members_match(cls):
    classes = {n.name: n for n in stub_tree().body if isinstance(n, ast.ClassDef)}
    assert cls.__name__ in classes
    assert public(stub_names(classes[cls.__name__].body)) == public(dir(cls))
