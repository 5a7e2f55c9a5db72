#!/usr/bin/env python3
"""The in-repo copies of the golden vectors and the reference schemas must equal the shared
project material they were copied from. Exit 77 (ctest: skipped) when the shared directory is
absent, e.g. in a clone of this repository alone.
Usage: check_reference_copies.py SHARED_DIR VECTORS_COPY SCHEMAS_COPY"""
import filecmp
import os
import sys


def compare_tree(src, copy, ignore=()):
    """Files of src missing from copy or different, and files of copy not in src."""
    problems = []
    for root, _dirs, files in os.walk(src):
        rel = os.path.relpath(root, src)
        for f in files:
            a = os.path.join(root, f)
            b = os.path.join(copy, rel, f)
            if not os.path.exists(b):
                problems.append("missing in the copy: %s" % os.path.normpath(os.path.join(rel, f)))
            elif not filecmp.cmp(a, b, shallow=False):
                problems.append("differs: %s" % os.path.normpath(os.path.join(rel, f)))
    for root, _dirs, files in os.walk(copy):
        rel = os.path.relpath(root, copy)
        for f in files:
            name = os.path.normpath(os.path.join(rel, f))
            if name not in ignore and not os.path.exists(os.path.join(src, rel, f)):
                problems.append("only in the copy: %s" % name)
    return problems


def main():
    shared, vectors, schemas = sys.argv[1], sys.argv[2], sys.argv[3]
    src_vectors = os.path.join(shared, "vectors")
    src_schemas = os.path.join(shared, "spec", "schemas")
    if not os.path.isdir(src_vectors) or not os.path.isdir(src_schemas):
        print("SKIP: %s (vectors/ and spec/schemas/) not found: nothing to compare the in-repo copies with"
              % os.path.abspath(shared))
        return 77
    problems = [("vectors: " + p) for p in compare_tree(src_vectors, vectors, ignore=("PROVENANCE.md",))]
    problems += [("schemas: " + p) for p in compare_tree(src_schemas, schemas, ignore=("README.md",))]
    for p in problems:
        print("FAIL %s" % p)
    if problems:
        print("the in-repo copies are out of date: copy %s and %s again" % (src_vectors, src_schemas))
        return 1
    print("in-repo vectors and reference schemas equal %s" % os.path.abspath(shared))
    return 0


if __name__ == "__main__":
    sys.exit(main())
