#!/usr/bin/env python3
"""Module import graph of src/: file -> files it names via crate:: paths; prints cycles (SCCs)."""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else 'src'
files = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p = os.path.join(d, f)
            rel = os.path.relpath(p, root)[:-3]
            parts = rel.split('/')
            if parts[-1] == 'mod': parts = parts[:-1]
            if parts == ['main'] or parts == ['lib']: parts = []
            files['::'.join(parts)] = p
mods = set(files)
def resolve(path):
    segs = path.split('::')
    for i in range(len(segs), 0, -1):
        m = '::'.join(segs[:i])
        if m in mods: return m
    return None
edges = {m: set() for m in mods}
pat = re.compile(r'crate::((?:[a-z_][a-z0-9_]*)(?:::[a-z_][a-z0-9_]*)*)(?:::\{([^}]*)\})?')
for m, p in files.items():
    src = open(p).read()
    # strip test modules
    src = re.split(r'#\[cfg\(test\)\]', src)[0]
    for mt in pat.finditer(src):
        base = mt.group(1)
        targets = [base]
        if mt.group(2):
            for item in mt.group(2).split(','):
                item = item.strip().split(' as ')[0].strip()
                if item and re.match(r'[a-z_]', item) and item != 'self':
                    targets.append(base + '::' + item.split('::')[0])
        for t in targets:
            r = resolve(t)
            if r is not None and r != m and r != '':
                edges[m].add(r)
# SCCs (Tarjan)
idx = {}; low = {}; st = []; on = set(); out = []; c = [0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in edges[v]:
        if w not in idx: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: out.append(sorted(comp))
for v in sorted(mods):
    if v not in idx: sc(v)
if '--graph' in sys.argv:
    for m in sorted(edges):
        print(f"{m or 'crate'} -> {', '.join(sorted(edges[m]))}")
print(f"{len(out)} import cycle(s) (strongly connected groups of modules):")
for comp in out:
    print('  ' + ' <-> '.join(comp))
    for a in comp:
        for b in sorted(edges[a]):
            if b in comp: print(f'     {a} -> {b}')
