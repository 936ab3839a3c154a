"""A random connected graph in networkx node-link JSON, for `ouro sim` runs at scale: a random
spanning tree plus random extra links up to 2 links per node (average degree 4), link costs
1-10 under `weight`. Usage: random-graph.py NODES SEED OUT.json (needs networkx)"""
import json
import random
import sys

import networkx as nx

n, seed, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(seed)
g = nx.Graph()
g.add_nodes_from(range(n))
for i in range(1, n):
    g.add_edge(i, rng.randrange(i))
while g.number_of_edges() < 2 * n:
    a, b = rng.randrange(n), rng.randrange(n)
    if a != b:
        g.add_edge(a, b)
for a, b in g.edges:
    g[a][b]["weight"] = rng.randint(1, 10)
with open(out, "w") as f:
    json.dump(nx.node_link_data(g, edges="links"), f)
