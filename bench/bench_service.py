"""Load benchmark of Floodwall as a service: HTTP API -> NATS JetStream -> workers -> PostgreSQL.

Pushes the tiny scenario's simulated event stream through the real API (loopback only) into 1 and
then 2 workers and prints sustained events/s and p50/p99 event-to-verdict latency (from the API
receiving a batch to the worker's store commit of it, per event). Then the go-live gate's p50/p99
at a fixed request rate (open loop, measured at the client). ``--soak SECONDS`` runs a steady rate
instead and prints the RSS of the API and workers at the start and the end.

    python bench/bench_service.py --minutes 12 --gate-seconds 10 --gate-rps 500
    python bench/bench_service.py --soak 600 --rate 300
    python bench/bench_service.py --frame-forms --minutes 2   # bytes a frame, events/s: raw, JPEG, PDQ; JSON, msgpack
    python bench/bench_service.py --compare /path/to/base/src --rounds 2   # embedded default, side by side

Needs PostgreSQL (127.0.0.1:5432) and NATS with JetStream (127.0.0.1:4222): scripts/services.sh.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import msgspec
import numpy as np
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
NATS = "nats://127.0.0.1:4222"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432"


def scenario_events(minutes: float, frames_every: int) -> list:
    """The simulated platform's events (no truth), first ``minutes`` of the tiny scenario at scale 0.02."""
    from floodwall.events import FrameSampled
    from floodwall.sim.platform import SimPlatform
    from floodwall.sim.scenario import load_scenario

    p = SimPlatform(load_scenario(ROOT / "tests/data/scenarios/tiny.toml"), seed=1, scale=0.02)
    out, n, t = list(p.initial_events()), 0, p.t0
    while t < p.t0 + minutes * 60:
        for ev in p.tick(t, 1.0):
            if type(ev) is FrameSampled:
                n += 1
                if n % frames_every:
                    continue
            out.append(ev)
        t += 1.0
    return out


def chunks(events: list, size: int) -> list[bytes]:
    """Request bodies of ``size`` events each."""
    from floodwall.events import encode_event

    enc = [encode_event(e) for e in events]
    return [b"[" + b",".join(enc[i:i + size]) + b"]" for i in range(0, len(enc), size)]


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, timeout: float = 120.0, step: float = 0.25) -> float:
    """Wait until a process uses under a tenth of a core over two steps in a row; seconds waited."""
    t0 = time.monotonic()
    quiet, last = 0, cpu_s(pid)
    while quiet < 2 and time.monotonic() - t0 < timeout:
        time.sleep(step)
        now = cpu_s(pid)
        quiet = quiet + 1 if now - last < 0.1 * step else 0
        last = now
    return time.monotonic() - t0


def server_quantiles(port: int, name: str = "floodwall_gate_seconds") -> str:
    """p50/p99 upper bucket bounds of a server-side histogram, from /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    buckets = []
    for line in text.splitlines():
        if line.startswith(name + "_bucket"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float(le), float(line.rsplit(" ", 1)[1])))
    total = buckets[-1][1] if buckets else 0
    if not total:
        return "no samples"
    q = {p: next(le for le, c in buckets if c >= p * total) for p in (0.5, 0.99)}
    return f"server-side p50 <= {q[0.5] * 1000:g} ms, p99 <= {q[0.99] * 1000:g} ms ({total:.0f} calls)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident set size of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Deployment:
    """A fresh database and stream, the API, N workers and (with 2 or more) the coordinator as processes."""

    def __init__(self, workers: int, logdir: Path, embedded: bool = False, coordinator: bool | None = None,
                 start_consumers: bool = True) -> None:
        self.run = f"b{uuid.uuid4().hex[:8]}"
        self.db_name = f"fwbench_{self.run}"
        self.admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
        with self.admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{self.db_name}"'))
        self.url = f"{PG}/{self.db_name}"
        from floodwall.adapters.keys import KeyStore
        from floodwall.service.runtime import open_store

        open_store(self.url, self.run).engine.dispose()
        self.db = sa.create_engine(self.url)
        self.secret, _ = KeyStore(self.db).create("bench", ["ingest", "gate"], rate=1e6, burst=1e6)
        self.port = free_port()
        common = ["--store", self.url, "--run", self.run, "--partitions", str(workers)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        py = [sys.executable, "-m", "floodwall.cli"]
        self.embedded = embedded
        self.coordinated = workers > 1 if coordinator is None else coordinator
        self.n_workers = workers
        self.common, self.env, self.py, self.logdir = common, env, py, logdir
        self.logs = [open(logdir / f"{self.run}-api.log", "wb")]  # noqa: SIM115
        self.api = subprocess.Popen([*py, "serve", "--log", "memory" if embedded else NATS, "--port", str(self.port),
                                     *common], stdout=self.logs[0], stderr=subprocess.STDOUT, env=env)
        self.workers: list[subprocess.Popen] = []
        self.coordinator: subprocess.Popen | None = None
        if start_consumers:
            self.start_consumers()
        end = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > end:
                raise SystemExit("the API did not come up")
            time.sleep(0.2)
        time.sleep(3)  # workers load the policy and the chat classifier

    def start_consumers(self) -> None:
        """Start the workers (and the coordinator)."""
        def spawn(name: str, args: list[str]) -> subprocess.Popen:
            self.logs.append(open(self.logdir / f"{self.run}-{name}.log", "wb"))  # noqa: SIM115
            return subprocess.Popen([*self.py, *args, "--log", NATS, *self.common], stdout=self.logs[-1],
                                    stderr=subprocess.STDOUT, env=self.env)
        self.workers = [spawn(f"w{i}", ["worker", "--partition", str(i)]) for i in range(self.n_workers)]
        if self.coordinated and not self.embedded:
            self.coordinator = spawn("co", ["coordinator"])

    @property
    def procs(self) -> dict[str, int]:
        """Process ids by role."""
        out = {"api": self.api.pid, **{f"worker{i}": w.pid for i, w in enumerate(self.workers)}}
        if self.coordinator is not None:
            out["coordinator"] = self.coordinator.pid
        return out

    def committed(self) -> tuple[int, int]:
        """(messages, events) of the API's messages committed by the workers (not the coordinator's notices)."""
        from floodwall.persistence.tables import log_batches as lb

        with self.db.connect() as c:
            return tuple(c.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(lb.c.events), 0))
                                   .where(lb.c.run == self.run, lb.c.published.is_not(None))).one())

    def settle(self, timeout: float = 120.0) -> float:
        """Wait until the workers and the coordinator have handled everything in the stream; seconds waited."""
        from floodwall.adapters.nats_log import (
            events_subject,
            sketch_subject,
            stream_name,
        )
        from floodwall.persistence.tables import coord_batches, log_batches

        async def in_stream() -> tuple[int, int]:
            import nats

            nc = await nats.connect(NATS)
            js = nc.jetstream()
            ev = await js.stream_info(stream_name(self.run), subjects_filter=events_subject(self.run, "*"))
            sk = await js.stream_info(stream_name(self.run), subjects_filter=sketch_subject(self.run, "*"))
            await nc.close()
            return sum((ev.state.subjects or {}).values()), sum((sk.state.subjects or {}).values())

        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            events, sketches = asyncio.run(in_stream())
            with self.db.connect() as c:
                handled = c.execute(sa.select(sa.func.count()).select_from(log_batches)
                                    .where(log_batches.c.run == self.run)).scalar()
                coordinated = c.execute(sa.select(sa.func.count()).select_from(coord_batches)
                                        .where(coord_batches.c.run == self.run)).scalar()
            if handled >= events and (coordinated >= sketches or self.coordinator is None):
                return time.monotonic() - t0
            time.sleep(0.2)
        raise SystemExit("the deployment did not settle")

    def commit_span(self) -> float:
        """Seconds from the first to the last commit of the API's messages."""
        from floodwall.persistence.tables import log_batches as lb

        with self.db.connect() as c:
            lo, hi = c.execute(sa.select(sa.func.min(lb.c.committed), sa.func.max(lb.c.committed))
                               .where(lb.c.run == self.run, lb.c.published.is_not(None))).one()
        return (hi or 0.0) - (lo or 0.0)

    def latencies(self, since: float = 0.0) -> np.ndarray:
        """Per event: seconds from the API publishing its batch to the worker's commit."""
        from floodwall.persistence.tables import log_batches as lb

        with self.db.connect() as c:
            rows = c.execute(sa.select(lb.c.events, lb.c.published, lb.c.committed)
                             .where(lb.c.run == self.run, lb.c.published.is_not(None), lb.c.published >= since)).all()
        if not rows:
            return np.zeros(0)
        return np.repeat([r.committed - r.published for r in rows], [r.events for r in rows])

    def close(self) -> None:
        procs = [self.api, *self.workers, *([self.coordinator] if self.coordinator else [])]
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()

        async def drop_stream():
            import nats

            from floodwall.adapters.nats_log import stream_name
            nc = await nats.connect(NATS)
            try:
                await nc.jetstream().delete_stream(stream_name(self.run))
            finally:
                await nc.close()
        for f in self.logs:
            f.close()
        if not self.embedded:
            asyncio.run(drop_stream())
        self.db.dispose()
        with self.admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))


class EmbeddedTree:
    """`floodwall serve` on the embedded default (SQLite file, in-memory log or journal) from a given source tree."""

    def __init__(self, src: Path, logdir: Path, tag: str) -> None:
        import tempfile

        self.dir = Path(tempfile.mkdtemp(prefix=f"fwcmp-{tag}-"))
        self.url = f"sqlite:///{self.dir}/fw.db"
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(Path(src).resolve())}
        # The key is made by the tree's own code: the two trees may store keys differently.
        make = ("import sqlalchemy as sa, sys; from floodwall.adapters.keys import KeyStore; "
                "from floodwall.service.runtime import open_store; open_store(sys.argv[1], 'service'); "
                "print(KeyStore(sa.create_engine(sys.argv[1])).create('bench', ['ingest', 'gate'], "
                "rate=1e6, burst=1e6)[0])")
        self.secret = subprocess.run([sys.executable, "-c", make, self.url], env=self.env, check=True,
                                     capture_output=True, text=True).stdout.strip().splitlines()[-1]
        self.port = free_port()
        self.log = open(logdir / f"compare-{tag}-{self.port}.log", "wb")  # noqa: SIM115
        self.api = subprocess.Popen([sys.executable, "-m", "floodwall.cli", "serve", "--store", self.url,
                                     "--port", str(self.port)], stdout=self.log, stderr=subprocess.STDOUT,
                                    env=self.env, cwd=self.dir)
        end = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > end or self.api.poll() is not None:
                raise SystemExit(f"the API of {src} did not come up; see {self.log.name}")
            time.sleep(0.2)

    def close(self) -> None:
        import shutil

        self.api.send_signal(signal.SIGTERM)
        try:
            self.api.wait(15)
        except subprocess.TimeoutExpired:
            self.api.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def compare(base_src: Path, events: list, bodies: list[bytes], args, logdir: Path) -> None:
    """Main's tree and this one, one after the other per round, on the same machine in one run."""
    trees = {"base": Path(base_src), "this": ROOT / "src"}
    accounts = sorted({e.account for e in events if type(e).__name__ == "AccountRegistered"})
    got: dict[str, dict[str, list[float]]] = {k: {"ingest": [], "p50": [], "p99": []} for k in trees}
    for rnd in range(args.rounds):
        for tag, src in trees.items():
            d = EmbeddedTree(src, logdir, tag)
            try:
                t = time.perf_counter()
                n = asyncio.run(post_all(d.port, d.secret, bodies, args.concurrency))
                got[tag]["ingest"].append(n / (time.perf_counter() - t))
                # The loop works through the ingest after the last 202: the gate starts once the server idles.
                idle = wait_idle(d.api.pid)
                lat = asyncio.run(gate_load(d.port, d.secret, accounts, args.gate_rps, args.gate_seconds))
                got[tag]["p50"].append(float(np.percentile(lat, 50) * 1000))
                got[tag]["p99"].append(float(np.percentile(lat, 99) * 1000))
            finally:
                d.close()
            print(f"round {rnd + 1} {tag}: ingest {got[tag]['ingest'][-1]:.0f} events/s, gate at "
                  f"{args.gate_rps:.0f} rps p50 {got[tag]['p50'][-1]:.1f} ms p99 {got[tag]['p99'][-1]:.1f} ms "
                  f"(server idle {idle:.1f} s after the ingest)", flush=True)
    print(f"\nembedded default, {args.rounds} round(s), median per tree ({os.cpu_count()} CPUs):")
    print(f"{'tree':6} {'ingest events/s':>16} {'gate p50 ms':>12} {'gate p99 ms':>12}")
    for tag in trees:
        g = got[tag]
        print(f"{tag:6} {np.median(g['ingest']):16.0f} {np.median(g['p50']):12.1f} {np.median(g['p99']):12.1f}")
    b, t = got["base"], got["this"]
    print(f"this / base: ingest {np.median(t['ingest']) / np.median(b['ingest']):.2f}x, "
          f"gate p99 {np.median(t['p99']) / np.median(b['p99']):.2f}x")


async def post_all(port: int, secret: str, bodies: list[bytes], concurrency: int,
                   content_type: str = "application/json") -> int:
    """Post every body (``concurrency`` in flight); returns events accepted."""
    accepted = 0
    q: asyncio.Queue = asyncio.Queue()
    for b in bodies:
        q.put_nowait(b)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120,
                                 headers={"Authorization": f"Bearer {secret}", "content-type": content_type}) as cl:
        async def poster():
            nonlocal accepted
            while not q.empty():
                r = await cl.post("/v1/events", content=q.get_nowait())
                r.raise_for_status()
                accepted += r.json()["accepted"]
        await asyncio.gather(*(poster() for _ in range(concurrency)))
    return accepted


def backlog(workers: int, bodies: list[bytes], logdir: Path, concurrency: int, coordinator: bool | None = None) -> dict:
    """Workers draining a log the API filled first: the workers' own rate, with the API out of the way."""
    d = Deployment(workers, logdir, coordinator=coordinator, start_consumers=False)
    try:
        accepted = asyncio.run(post_all(d.port, d.secret, bodies, concurrency))
        d.start_consumers()
        pids = d.procs
        before = {k: cpu_s(p) for k, p in pids.items()}
        t0 = time.perf_counter()
        while d.committed()[1] < accepted:
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        span = d.commit_span()
        cpu = {k: (cpu_s(p) - before[k]) / wall for k, p in pids.items() if k != "api"}
        return {"workers": workers, "events": accepted, "span_s": span, "events_per_s": accepted / span,
                "cpu": cpu, "coordinated": d.coordinated, "deployment": d}
    except BaseException:
        d.close()
        raise


def throughput(workers: int, bodies: list[bytes], n_events: int, logdir: Path, concurrency: int) -> dict:
    """Sustained events/s and event-to-verdict latency with ``workers`` workers."""
    d = Deployment(workers, logdir)
    try:
        t0 = time.perf_counter()
        accepted = asyncio.run(post_all(d.port, d.secret, bodies, concurrency))
        t_posted = time.perf_counter() - t0
        while d.committed()[1] < accepted:
            time.sleep(0.05)
        elapsed = time.perf_counter() - t0
        lat = d.latencies()
        return {"workers": workers, "events": accepted, "ingest_s": t_posted, "total_s": elapsed,
                "events_per_s": accepted / elapsed, "ingest_events_per_s": accepted / t_posted,
                "p50_ms": float(np.percentile(lat, 50) * 1000), "p99_ms": float(np.percentile(lat, 99) * 1000),
                "deployment": d}
    except BaseException:
        d.close()
        raise


FRAME_FORMS = (("raw JSON", "raw", "json"), ("JPEG JSON", "jpeg", "json"), ("raw msgpack", "raw", "msgpack"),
               ("JPEG msgpack", "jpeg", "msgpack"), ("PDQ JSON", "pdq", "json"), ("PDQ msgpack", "pdq", "msgpack"))


def frame_forms(events: list, chunk: int, concurrency: int, logdir: Path) -> list[dict]:
    """Bytes per frame and ingest events/s of the embedded API for each frame form and encoding."""
    from floodwall.events import FrameSampled, encode_event
    from floodwall.sim.record import compact_frames
    from floodwall.adapters.wire import encode_msgpack

    out = []
    for label, form, enc in FRAME_FORMS:
        evs = compact_frames(events, form)
        frames = [e for e in evs if type(e) is FrameSampled]
        one = encode_event if enc == "json" else (lambda e: encode_msgpack([e])[1:])  # drop the array header
        per_frame = sum(len(one(f)) for f in frames) / max(1, len(frames))
        if enc == "json":
            bodies = chunks(evs, chunk)
        else:
            bodies = [encode_msgpack(evs[i:i + chunk]) for i in range(0, len(evs), chunk)]
        d = Deployment(0, logdir, embedded=True)
        try:
            t0 = time.perf_counter()
            accepted = asyncio.run(post_all(d.port, d.secret, bodies, concurrency,
                                            "application/json" if enc == "json" else "application/msgpack"))
            wall = time.perf_counter() - t0
        finally:
            d.close()
        out.append({"form": label, "bytes_per_frame": per_frame, "mb": sum(map(len, bodies)) / 1e6,
                    "events": accepted, "events_per_s": accepted / wall})
        print(f"{label:13} {per_frame:8.0f} B/frame  {out[-1]['mb']:7.1f} MB  {accepted} events in {wall:.1f} s = "
              f"{accepted / wall:.0f} events/s ingest (embedded API)", flush=True)
    base = out[0]
    for r in out[1:]:
        print(f"  {r['form']:13} vs raw JSON: {base['bytes_per_frame'] / r['bytes_per_frame']:.1f}x fewer bytes a frame, "
              f"{r['events_per_s'] / base['events_per_s']:.2f}x events/s")
    return out


class RawHttp:
    """A minimal keep-alive HTTP/1.1 client (httpx costs ~1 ms of CPU a request: the load generator
    would be what is measured on 2 cores)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader = self.writer = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.decode().partition(":")
            if k.lower() == "content-length":
                length = int(v)
        data = await self.reader.readexactly(length)
        return int(status_line.split()[1]), data


async def gate_load(port: int, secret: str, accounts: list[str], rps: float, seconds: float) -> np.ndarray:
    """Open-loop gate requests at ``rps`` for ``seconds`` over a pool of connections; client-side latency, s."""
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(64):
        c = RawHttp(port)
        await c.open()
        pool.put_nowait(c)
    lat: list[float] = []
    errors = 0

    async def one(i: int) -> None:
        nonlocal errors
        acc = accounts[i % len(accounts)]
        body = msgspec.json.encode({"type": "stream_started", "id": f"g-{uuid.uuid4().hex}", "ts": time.time(),
                                    "stream": f"gate-{i}", "account": acc, "device": f"dev-{acc}", "ip": "10.0.0.1"})
        t = time.perf_counter()  # from the moment it is due, so waiting for a connection counts
        c = await pool.get()
        try:
            status, _ = await c.post("/v1/gate", body, headers)
        finally:
            pool.put_nowait(c)
        if status != 200:
            errors += 1
        lat.append(time.perf_counter() - t)

    await asyncio.gather(*(one(-k - 1) for k in range(50)))  # warm connections and the key cache
    lat.clear()
    tasks = []
    start = time.perf_counter()
    n = int(rps * seconds)
    for i in range(n):
        delay = start + i / rps - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    offered = n / (time.perf_counter() - start)
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().writer.close()
    print(f"  gate: {n} requests offered at {offered:.0f} rps, {errors} errors")
    return np.array(lat)


def soak(seconds: float, rate: float, events: list, logdir: Path, workers: int) -> None:
    """A steady ``rate`` of events/s for ``seconds``; prints RSS of every process at start, each minute, end."""
    from floodwall.events import encode_event

    span = max(e.ts for e in events) - min(e.ts for e in events) + 60
    d = Deployment(workers, logdir)
    try:
        procs = d.procs
        per_post = max(1, int(rate / 4))  # four requests a second
        k, i, sent = 0, 0, 0
        cl = httpx.Client(base_url=f"http://127.0.0.1:{d.port}", timeout=60,
                          headers={"Authorization": f"Bearer {d.secret}", "content-type": "application/json"})
        t0 = time.monotonic()
        start_rss = None
        next_print = t0
        while time.monotonic() - t0 < seconds:
            batch = []
            for _ in range(per_post):
                ev = events[i]
                # each lap through the recording gets fresh ids and later times (else it is deduplicated)
                batch.append(encode_event(msgspec.structs.replace(ev, id=f"{ev.id}~{k}", ts=ev.ts + k * span)))
                i += 1
                if i == len(events):
                    i, k = 0, k + 1
            r = cl.post("/v1/events", content=b"[" + b",".join(batch) + b"]")
            r.raise_for_status()
            sent += len(batch)
            if time.monotonic() >= next_print:
                rss = {n: rss_mb(p) for n, p in procs.items()}
                if start_rss is None and time.monotonic() - t0 > 30:  # after warm-up (classifier, imports, caches)
                    start_rss = rss
                print(f"  t={time.monotonic() - t0:5.0f}s sent={sent} committed={d.committed()[1]} RSS MiB " +
                      " ".join(f"{n}={v:.0f}" for n, v in rss.items()), flush=True)
                next_print += 60 if start_rss is not None else 31
            time.sleep(max(0.0, t0 + sent / rate - time.monotonic()))
        end_rss = {n: rss_mb(p) for n, p in procs.items()}
        end = time.monotonic() + 60
        while d.committed()[1] < sent and time.monotonic() < end:
            time.sleep(0.2)
        lat = d.latencies()
        print(f"soak: {seconds:.0f} s at {rate:.0f} events/s offered, {sent} sent, {d.committed()[1]} committed, "
              f"event-to-verdict p50 {np.percentile(lat, 50) * 1000:.0f} ms p99 {np.percentile(lat, 99) * 1000:.0f} ms")
        print("soak RSS MiB start (t=30 s) -> end: " + ", ".join(
            f"{n} {start_rss[n]:.0f} -> {end_rss[n]:.0f}" for n in procs))
        cl.close()
    finally:
        d.close()


def gate_sweep(rates: list[float], seconds: float, logdir: Path) -> None:
    """The gate alone at several rates, on an idle deployment: NATS + 2 workers, then embedded."""
    for embedded in (False, True):
        d = Deployment(0 if embedded else 2, logdir, embedded=embedded)
        try:
            for rps in rates:
                t0 = time.time()
                lat = asyncio.run(gate_load(d.port, d.secret, [f"acct{i}" for i in range(1000)], rps, seconds))
                extra = ""
                if not embedded:
                    w = d.latencies(since=t0)
                    extra = f" (publish->commit p50 {np.percentile(w, 50) * 1000:.1f} ms p99 {np.percentile(w, 99) * 1000:.1f} ms)"
                print(f"gate {'embedded' if embedded else 'NATS, 2 workers'} at {rps:.0f} rps for {seconds:g} s: "
                      f"p50 {np.percentile(lat, 50) * 1000:.1f} ms p99 {np.percentile(lat, 99) * 1000:.1f} ms{extra}",
                      flush=True)
        finally:
            d.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=12, help="minutes of the tiny scenario to push")
    ap.add_argument("--frames-every", type=int, default=1, help="keep one frame in N (1: all)")
    ap.add_argument("--chunk", type=int, default=200,
                    help="events per HTTP request (200 raw 64x64 frames are about 3.3 MB, under serve's 8 MiB body cap)")
    ap.add_argument("--concurrency", type=int, default=2, help="requests in flight")
    ap.add_argument("--gate-rps", type=float, default=500)
    ap.add_argument("--gate-seconds", type=float, default=10)
    ap.add_argument("--gate-only", action="store_true", help="skip the 1-worker throughput run")
    ap.add_argument("--gate-sweep", help="only the gate, NATS + 2 workers then embedded, at these rates (e.g. 100,250,500)")
    ap.add_argument("--soak", type=float, default=0, help="run a steady-rate soak of this many seconds instead")
    ap.add_argument("--backlog", action="store_true",
                    help="only the workers' drain rate: fill the log first, then start 1, then 2 workers")
    ap.add_argument("--rate", type=float, default=300, help="--soak: events per second")
    ap.add_argument("--frame-forms", action="store_true",
                    help="bytes a frame and ingest events/s for raw/JPEG/PDQ frames in JSON and msgpack (embedded API)")
    ap.add_argument("--logs", default="/tmp/fw-bench-logs")
    ap.add_argument("--compare", metavar="BASE_SRC",
                    help="only the embedded default (SQLite): BASE_SRC's tree (e.g. main's src/) and this one, "
                         "side by side: ingest events/s and gate p50/p99 at --gate-rps")
    ap.add_argument("--rounds", type=int, default=1, help="--compare: rounds (each runs both trees)")
    args = ap.parse_args()
    logdir = Path(args.logs)
    logdir.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    events = scenario_events(args.minutes, args.frames_every)
    frames = sum(type(e).__name__ == "FrameSampled" for e in events)
    print(f"{len(events)} events ({frames} frames of 64x64) from {args.minutes:g} min of the tiny scenario "
          f"in {time.perf_counter() - t:.1f} s; {os.cpu_count()} CPUs")
    if args.frame_forms:
        frame_forms(events, args.chunk, args.concurrency, logdir)
        return
    if args.soak:
        soak(args.soak, args.rate, events, logdir, workers=2)
        return
    if args.compare:
        compare(Path(args.compare), events, chunks(events, args.chunk), args, logdir)
        return
    if args.gate_sweep:
        gate_sweep([float(x) for x in args.gate_sweep.split(",")], args.gate_seconds, logdir)
        return
    from floodwall.service.limits import DEFAULT_MAX_BODY

    bodies = chunks(events, args.chunk)
    biggest = max(len(b) for b in bodies)
    if biggest > DEFAULT_MAX_BODY:  # the API would answer 413 and close the connection
        raise SystemExit(f"a request body of {biggest:,} bytes exceeds serve's {DEFAULT_MAX_BODY:,}-byte cap: "
                         "lower --chunk")
    mb = sum(map(len, bodies)) / 1e6
    if args.backlog:
        drained = []
        for n, coord in ((1, False), (2, False), (2, True)):
            r = backlog(n, bodies, logdir, args.concurrency, coordinator=coord)
            r.pop("deployment").close()
            drained.append(r)
            print(f"{n} worker(s){' + coordinator' if coord else ''}: drained {r['events']} events ({mb:.0f} MB JSON) "
                  f"in {r['span_s']:.1f} s = {r['events_per_s']:.0f} events/s; CPU share " +
                  ", ".join(f"{k} {v:.0%}" for k, v in r["cpu"].items()), flush=True)
        print(f"drain scaling, 2 workers / 1: {drained[1]['events_per_s'] / drained[0]['events_per_s']:.2f}x "
              f"(with the coordinator: {drained[2]['events_per_s'] / drained[0]['events_per_s']:.2f}x)")
        return
    results = []
    for n in (1, 2):
        if args.gate_only and n == 1:
            continue
        r = throughput(n, bodies, len(events), logdir, args.concurrency)
        results.append(r)
        print(f"{n} worker(s): {r['events']} events ({mb:.0f} MB JSON) in {r['total_s']:.1f} s = "
              f"{r['events_per_s']:.0f} events/s sustained (ingest alone {r['ingest_events_per_s']:.0f}/s); "
              f"event-to-verdict p50 {r['p50_ms']:.0f} ms p99 {r['p99_ms']:.0f} ms")
        d = r.pop("deployment")
        if n == 2:
            print(f"  settled {d.settle():.1f} s after the last commit (the coordinator's backlog)")
            accounts = sorted({e.account for e in events if type(e).__name__ == "AccountRegistered"})
            pids = d.procs
            before = {k: cpu_s(p) for k, p in pids.items()}
            t_g = time.perf_counter()
            lat = asyncio.run(gate_load(d.port, d.secret, accounts, args.gate_rps, args.gate_seconds))
            wall = time.perf_counter() - t_g
            print("  CPU share during the gate run: " + ", ".join(
                f"{k} {(cpu_s(p) - before[k]) / wall:.0%}" for k, p in pids.items()) + f" (of one core; {wall:.1f} s)")
            print("  " + server_quantiles(d.port))
            print(f"gate at {args.gate_rps:.0f} rps for {args.gate_seconds:g} s (NATS, 2 workers): "
                  f"p50 {np.percentile(lat, 50) * 1000:.1f} ms p99 {np.percentile(lat, 99) * 1000:.1f} ms")
        d.close()
    # The same gate load on the embedded service (engine in the API process, no NATS hop).
    d = Deployment(0, logdir, embedded=True)
    try:
        accounts = sorted({e.account for e in events if type(e).__name__ == "AccountRegistered"})
        before = cpu_s(d.api.pid)
        t_g = time.perf_counter()
        lat = asyncio.run(gate_load(d.port, d.secret, accounts, args.gate_rps, args.gate_seconds))
        print(f"  CPU share during the gate run: api {(cpu_s(d.api.pid) - before) / (time.perf_counter() - t_g):.0%}")
        print("  " + server_quantiles(d.port))
        print(f"gate at {args.gate_rps:.0f} rps for {args.gate_seconds:g} s (embedded): "
              f"p50 {np.percentile(lat, 50) * 1000:.1f} ms p99 {np.percentile(lat, 99) * 1000:.1f} ms")
    finally:
        d.close()
    if len(results) == 2:
        print(f"scaling 2 workers / 1 worker: {results[1]['events_per_s'] / results[0]['events_per_s']:.2f}x")


if __name__ == "__main__":
    main()
