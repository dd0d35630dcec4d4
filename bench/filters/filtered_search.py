"""Filtered search on the dev set (../shared/data/dev) with synthetic metadata, against a real lynxd with HNSW at
its default settings: for each selectivity (50%, 10%, 1%, 0.1%, 0.01%) and each kind of filter (a keyword
equality, an integer range), recall@10 and queries/s of the planner's default plan, of forced exact scoring of
the matches, and of forced filtered graph traversal, all in the same run; the unfiltered figures beside them.

Metadata: `kw` takes the value `s<percent>` on a random share of that size of the records (disjoint shares) and
`rest` on the others; `rank` is a random permutation of 0..n-1, so `rank < share·n` selects exactly that share.
Ground truth: exact filtered top-10 by squared L2 in float64 (numpy). Queries run one at a time over one
keep-alive connection (the client's cost is in every figure alike); each figure is the median of
LYNX_BENCH_ROUNDS (4) passes, the three plans alternating (the default and forced exact in ABBA order). Every loop has a deadline.

    bench/filters/filtered_search.sh        (the wrapper: pins the binary, picks the venv)
"""
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
import pending_lib as L  # noqa: E402

SHARES = [0.5, 0.1, 0.01, 0.001, 0.0001]
K = 10
SEED = 20261202
ROUNDS = int(os.environ.get("LYNX_BENCH_ROUNDS", "4"))


def label(share):
    return "s" + ("%g" % (share * 100)).replace(".", "_")


def synthetic_metadata(n, rng):
    kw = np.array(["rest"] * n, dtype=object)
    order = rng.permutation(n)
    start = 0
    for share in SHARES:
        size = max(1, round(share * n))
        kw[order[start:start + size]] = label(share)
        start += size
    rank = rng.permutation(n)
    return kw, rank


def upsert_bodies(rows, kw, rank, batch=100):
    out = []
    for s in range(0, len(rows), batch):
        part = range(s, min(s + batch, len(rows)))
        body = '{"vectors":[' + ",".join(
            f'{{"id":{i},"vector":[{rows[i]}],"metadata":{{"kw":"{kw[i]}","rank":{int(rank[i])}}}}}' for i in part) + "]}"
        out.append((len(part), body.encode()))
    return out


def filtered_truth(q, base, mask, k=K):
    ids = np.nonzero(mask)[0]
    sub = base[ids].astype(np.float64)
    q64 = q.astype(np.float64)
    d = (q64 ** 2).sum(1)[:, None] - 2 * q64 @ sub.T + (sub ** 2).sum(1)[None, :]
    out = []
    for i in range(len(q)):
        order = np.lexsort((ids, d[i]))[:k]
        out.append(ids[order])
    return out


def run(port, qrows, flt, plan, deadline):
    c = L.conn(port, 60)
    found, plans = [], {}
    t0 = time.perf_counter()
    for v in qrows:
        if time.perf_counter() > deadline:
            raise RuntimeError("deadline passed")
        body = {"k": K, "explain": True}
        if flt is not None:
            body["filter"] = flt
        if plan is not None:
            body["plan"] = plan
        raw = json.dumps(body)[:-1] + f',"vector":[{v}]}}'
        st, data = L.call(c, "POST", "/search", raw.encode())
        if st != 200:
            raise RuntimeError(f"search {st}: {data[:300]!r}")
        answer = json.loads(data)
        found.append([r["id"] for r in answer["results"]])
        kind = answer["plan"]["kind"]
        plans[kind] = plans.get(kind, 0) + 1
    seconds = time.perf_counter() - t0
    c.close()
    return len(qrows) / seconds, found, plans


def recall(found, truth):
    hit = sum(len(set(f) & set(int(x) for x in t)) for f, t in zip(found, truth))
    return hit / sum(len(t) for t in truth)


def main():
    nq = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    deadline = time.perf_counter() + 1700
    base, q, gt = L.load_dev()
    q = q[:nq]
    n = len(base)
    rng = np.random.default_rng(SEED)
    kw, rank = synthetic_metadata(n, rng)
    print(L.env_line(f"n={n} nq={nq}"))
    data_dir = L.scratch_dir("lynx-filtered-")
    srv = L.Lynxd(data_dir, ["--dimension", str(base.shape[1]), "--metric", "l2", "--index", "hnsw"]).start()
    try:
        srv.wait_ready()
        t = time.perf_counter()
        L.load_batches(srv.port, upsert_bodies(L.encode_rows(base), kw, rank), conns=2)
        srv.wait_pending_zero(t, count=n)
        c = L.conn(srv.port)
        for field, type_ in (("kw", "keyword"), ("rank", "integer")):
            t = time.perf_counter()
            st, data = L.call(c, "PUT", f"/indexes/{field}", json.dumps({"type": type_}).encode())
            assert st == 201, data
            print(f"# index {field} ({type_}) built in {time.perf_counter() - t:.3f} s (request round trip)")
        c.close()
        qrows = L.encode_rows(q)
        qps, found, _ = run(srv.port, qrows, None, None, deadline)
        unfiltered = (recall(found, [g[:K] for g in gt[:nq]]), qps)
        print(f"unfiltered: recall@10 {unfiltered[0]:.4f}, {unfiltered[1]:.0f} q/s")
        print("| filter | share | matches | default plan (chosen) | default recall | default q/s | exact recall | exact q/s "
              "| graph recall | graph q/s | chose the faster, recall >= 0.95 |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        missed = 0
        for share in SHARES:
            size = max(1, round(share * n))
            for name, flt, mask in (
                ("kw =", {"kw": label(share)}, kw == label(share)),
                ("rank <", {"rank": {"$lt": size}}, rank < size),
            ):
                truth = filtered_truth(q, base, mask)
                rates = {None: [], "exact": [], "graph": []}
                row = {}
                chosen = ""
                # The plans alternate, so a burst of load hits all alike; the default and forced exact swap places
                # each round (a run just after a graph run at low share measured up to 2x slower, cause unknown).
                for r in range(ROUNDS):
                    for plan in ("graph", None, "exact") if r % 2 == 0 else ("graph", "exact", None):
                        qps, found, plans = run(srv.port, qrows, flt, plan, deadline)
                        rates[plan].append(qps)
                        row[plan] = (recall(found, truth), float(np.median(rates[plan])))
                        if plan is None:
                            chosen = ",".join(f"{k}:{v}" for k, v in sorted(plans.items()))
                # The goal: recall >= 0.95, and the plan chosen is the faster of the two forced plans (the default then
                # runs that same plan: its q/s differs from the forced run's by the machine's noise only).
                faster = "exact" if row["exact"][1] >= row["graph"][1] else "graph"
                ok = row[None][0] >= 0.95 and chosen == f"{faster}:{len(qrows)}"
                missed += not ok
                print(f"| {name} | {share:g} | {int(mask.sum())} | {chosen} | {row[None][0]:.4f} | {row[None][1]:.0f} "
                      f"| {row['exact'][0]:.4f} | {row['exact'][1]:.0f} | {row['graph'][0]:.4f} | {row['graph'][1]:.0f} "
                      f"| {'yes' if ok else 'NO'} |", flush=True)
        print(f"# unfiltered beside them: recall@10 {unfiltered[0]:.4f}, {unfiltered[1]:.0f} q/s; rows missing the goal: {missed}")
    finally:
        srv.stop_quiet()
        L.rm(data_dir)


if __name__ == "__main__":
    main()
