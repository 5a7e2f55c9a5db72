#!/usr/bin/env python3
"""Placeholder: replaced by the real generator in the next commit."""
import argparse, os
ap = argparse.ArgumentParser()
ap.add_argument('--out-dir', required=True)
ap.add_argument('--schema', action='append', default=[])
a = ap.parse_args()
os.makedirs(a.out_dir, exist_ok=True)
open(os.path.join(a.out_dir, 'common.h'), 'w').write('#pragma once\n')
for s in a.schema:
    open(os.path.join(a.out_dir, s.split('=')[0] + '.h'), 'w').write('#pragma once\n#include "tp_sbe/common.h"\n')
