"""Routing policy `python-ecmp`: shortest paths over link costs with every equal-cost next
hop, written in Python (componentize-py). The same contract as the Rust `ecmp` policy, so
`ouro policy test` checks it for exact ECMP optimality against the native reference."""

import heapq

import wit_world
from wit_world.imports import host
from wit_world.imports.routing_types import RoutingOutput, RoutingTable, Topology
from componentize_py_types import Err


class WitWorld(wit_world.WitWorld):
    def compute(self, source: int, topology: Topology) -> RoutingOutput:
        addrs = topology.addresses
        offsets, targets, costs = topology.offsets, topology.targets, topology.costs
        n = len(addrs)
        if len(offsets) != n + 1 or len(targets) != len(costs):
            raise Err("malformed topology")
        index = {a: i for i, a in enumerate(addrs)}
        table = RoutingTable(destinations=[], hop_offsets=[0], next_hops=[], alternates=[])
        src = index.get(source)
        if src is None:
            return RoutingOutput(table=table, cubes=[])
        inf = float("inf")
        dist = [inf] * n
        # First hops as a set of neighbour addresses per node.
        first = [frozenset()] * n
        dist[src] = 0
        heap = []
        for k in range(offsets[src], offsets[src + 1]):
            v, c = targets[k], max(costs[k], 1)
            if c < dist[v]:
                dist[v], first[v] = c, frozenset([addrs[v]])
                heapq.heappush(heap, (c, v))
            elif c == dist[v]:
                first[v] = first[v] | {addrs[v]}
        while heap:
            d, u = heapq.heappop(heap)
            if d > dist[u]:
                continue
            for k in range(offsets[u], offsets[u + 1]):
                v = targets[k]
                if v == src:
                    continue
                nd = d + max(costs[k], 1)
                if nd < dist[v]:
                    dist[v], first[v] = nd, first[u]
                    heapq.heappush(heap, (nd, v))
                elif nd == dist[v]:
                    first[v] = first[v] | first[u]
        for d in range(n):
            if d == src or dist[d] == inf:
                continue
            table.destinations.append(addrs[d])
            table.next_hops.extend(sorted(first[d]))
            table.hop_offsets.append(len(table.next_hops))
            table.alternates.append(0)
        host.log(host.Level.DEBUG, f"python-ecmp: {len(table.destinations)} routes from {source}")
        # One table for every QoS cube.
        return RoutingOutput(table=table, cubes=[])
