/**
 * The Worker mask expander (node/worker_expander.ts): bit-identical to the inline expander
 * when a job is split over 2 and 3 workers (the `jobsPosted` counter shows the work went to
 * them), for vector lengths that are and are not multiples of the 16-word ChaCha20 block; jobs
 * that stay on the calling thread (small ones, a one-worker pool, a one-block vector: nothing
 * posted) give the same result; `close()` terminates the workers and rejects what is pending;
 * a worker that crashes (a wrapper around the real worker that throws on 7-term jobs) has its
 * slice redone inline and is replaced, or dropped if it never answered, so later jobs still
 * complete (Deno prints each such crash to stderr: expected); the default pool size. Every test
 * closes its expander so no worker outlives it.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import { equalBytes, u32Bytes } from "../../protocol/encoding/bytes.ts";
import type { MaskTerm } from "../../protocol/crypto/mod.ts";
import { inlineExpander } from "../../protocol/math/masking.ts";
import {
  defaultWorkerCount,
  INLINE_WORK,
  WorkerExpander,
  type WorkerExpanderOptions,
} from "../../node/worker_expander.ts";
import { simulate } from "../../protocol/sim/mod.ts";
import { rngFor } from "../protocol/_fixtures.ts";
import { withTempDir } from "./_helpers.ts";

function words(label: string, length: number): Uint32Array {
  return new Uint32Array(rngFor("worker", label)(4 * length).buffer.slice(0));
}

function terms(label: string, count: number): MaskTerm[] {
  const r = rngFor("worker", "keys", label);
  return Array.from({ length: count }, (_, i) => ({ key: r(32), negate: i % 2 === 1 }));
}

/** Word-for-word equality (fast: `assertEquals` on 10^5-element arrays takes seconds). */
function assertSameWords(actual: Uint32Array, expected: Uint32Array, msg?: string): void {
  assertEquals(actual.length, expected.length, msg);
  assert(equalBytes(u32Bytes(actual), u32Bytes(expected)), msg ?? "the vectors differ");
}

/** The split threshold these tests use (the default is 16× more: vectors here stay small). */
const TEST_INLINE = 1 << 20;

/** An expander of `count` workers with the tests' split threshold. */
function expanderOf(count?: number, options: WorkerExpanderOptions = {}): WorkerExpander {
  return new WorkerExpander(count, { inlineWork: TEST_INLINE, ...options });
}

async function inline(target: Uint32Array, ts: readonly MaskTerm[]): Promise<Uint32Array> {
  const out = target.slice();
  await inlineExpander.apply(out, ts);
  return out;
}

async function withExpander(
  count: number,
  fn: (e: WorkerExpander) => Promise<void>,
): Promise<void> {
  const expander = expanderOf(count);
  try {
    await fn(expander);
  } finally {
    expander.close();
  }
}

Deno.test("worker expander: split over 2 or 3 workers, bit-identical (1 worker: inline)", async () => {
  // 4 terms × ≥ 2^18 words reaches the split threshold; lengths on and off block boundaries.
  const lengths = [2 ** 18, 2 ** 18 + 1, 2 ** 18 + 15, 2 ** 18 + 16, 2 ** 18 + 17, 300_007];
  const ts = terms("big", 4);
  for (const length of lengths) assert(length * ts.length >= TEST_INLINE);
  const expected = new Map<number, { target: Uint32Array; result: Uint32Array }>();
  for (const length of lengths) {
    const target = words(`big/${length}`, length);
    expected.set(length, { target, result: await inline(target, ts) });
  }
  for (const count of [1, 2, 3]) {
    await withExpander(count, async (e) => {
      assertEquals(e.size, count);
      for (const length of lengths) {
        const { target, result } = expected.get(length)!;
        const v = target.slice();
        const posted = e.counters.jobsPosted;
        await e.apply(v, ts);
        assertSameWords(v, result, `${count} workers, length ${length}`);
        // Split into one slice per worker; a single worker has nothing to split with.
        const slices = count === 1 ? 0 : count;
        assertEquals(e.counters.jobsPosted - posted, slices, `${count} workers: slices posted`);
      }
    });
  }
});

Deno.test("worker expander: concurrent jobs on one pool do not mix", async () => {
  await withExpander(3, async (e) => {
    const jobs = [0, 1, 2, 3].map((k) => {
      const length = 2 ** 18 + 5 * k;
      const ts = terms(`concurrent/${k}`, 4 + k);
      const target = words(`concurrent/${k}`, length);
      return { target, ts, v: target.slice() };
    });
    await Promise.all(jobs.map((j) => e.apply(j.v, j.ts)));
    assertEquals(e.counters.jobsPosted, 4 * 3, "every job split over the 3 workers");
    for (const j of jobs) assertSameWords(j.v, await inline(j.target, j.ts));
  });
});

Deno.test("worker expander: many terms (more than the kernel's 4-way unroll)", async () => {
  await withExpander(2, async (e) => {
    const ts = terms("many", 11);
    const target = words("many", 100_003);
    assert(target.length * ts.length >= TEST_INLINE);
    const v = target.slice();
    await e.apply(v, ts);
    assertEquals(e.counters.jobsPosted, 2);
    assertSameWords(v, await inline(target, ts));
  });
});

Deno.test("worker expander: small jobs run inline and give the same result", async () => {
  await withExpander(2, async (expander) => {
    for (const [length, count] of [[1, 1], [15, 3], [16, 2], [17, 5], [1000, 9], [2 ** 16, 15]]) {
      assert(length * count < TEST_INLINE);
      const ts = terms(`small/${length}`, count);
      const target = words(`small/${length}`, length);
      const v = target.slice();
      await expander.apply(v, ts);
      assertSameWords(v, await inline(target, ts), `length ${length}, ${count} terms`);
    }
    // No terms: nothing to do, nothing changes.
    const v = words("none", 2 ** 20 + 3);
    const copy = v.slice();
    await expander.apply(v, []);
    assertSameWords(v, copy);
    assertEquals(expander.counters.jobsPosted, 0, "nothing went to the workers");
  });
});

Deno.test("worker expander: a vector of one block runs inline whatever the work", async () => {
  await withExpander(3, async (expander) => {
    // 16 words cannot be split across workers, so even work at the split threshold stays inline.
    const ts = terms("one-block", TEST_INLINE / 16);
    const target = words("one-block", 16);
    const v = target.slice();
    await expander.apply(v, ts);
    assertSameWords(v, await inline(target, ts));
    assertEquals(expander.counters.jobsPosted, 0, "nothing went to the workers");
  });
});

Deno.test("worker expander: close() rejects pending jobs and is harmless when idle", async () => {
  const expander = expanderOf(2);
  const v = words("pending", 2 ** 19);
  const job = expander.apply(v, terms("pending", 4));
  expander.close();
  await assertRejects(() => job, Error, "mask workers closed");
  // Closing again, or closing with nothing pending, throws nothing.
  expander.close();
  const idle = new WorkerExpander(1);
  idle.close();
});

Deno.test("worker expander: refuses bad keys and bad worker counts", async () => {
  for (const count of [0, -1, 1.5, NaN]) {
    assertThrows(() => new WorkerExpander(count), RangeError);
  }
  await withExpander(2, async (e) => {
    const v = words("bad-key", 2 ** 19);
    const ts = [...terms("bad-key", 3), { key: new Uint8Array(31), negate: false }];
    await assertRejects(() => e.apply(v, ts), RangeError, "32 bytes");
  });
});

Deno.test("worker expander: by default a d = 1M job of up to 15 terms runs inline, 16 split", async () => {
  // The default bar keeps a member's masking and a leader's unmasking at d = 1M in a federation
  // of up to 16 members on the calling thread (their keystream garbage stays collectable there).
  const expander = new WorkerExpander(2);
  try {
    const target = words("default-bar", 2 ** 20);
    for (const [count, posted] of [[15, 0], [16, 2]] as const) {
      assert((target.length * count < INLINE_WORK) === (posted === 0));
      const ts = terms(`default-bar/${count}`, count);
      const v = target.slice();
      const before = expander.counters.jobsPosted;
      await expander.apply(v, ts);
      assertEquals(expander.counters.jobsPosted - before, posted, `${count} terms`);
      assertSameWords(v, await inline(target, ts), `${count} terms`);
    }
  } finally {
    expander.close();
  }
  for (const inlineWork of [-1, 0.5, NaN, Infinity]) {
    assertThrows(() => new WorkerExpander(1, { inlineWork }), RangeError, "inlineWork");
  }
});

Deno.test("worker expander: the default pool has one worker per core, else 2", () => {
  for (const cores of [1, 2, 8, 64]) assertEquals(defaultWorkerCount(cores), cores);
  for (const cores of [0, -1, 1.5, NaN]) assertEquals(defaultWorkerCount(cores), 2, `${cores}`);
  const count = defaultWorkerCount();
  assert(Number.isSafeInteger(count) && count >= 1, `${count}`);
  const expander = new WorkerExpander();
  try {
    assertEquals(expander.size, count);
  } finally {
    expander.close();
  }
});

Deno.test("worker expander: a simulated round masked on workers is exact", async () => {
  await withExpander(2, async (expander) => {
    // d + 1 = 270 001 words: every member's 4 terms and the leader's 6 exceed the split threshold.
    const report = await simulate({
      nodes: 4,
      dim: 270_000,
      dropout: 0.25,
      dropStage: "masked",
      graph: "complete",
      seed: 3,
      pq: false,
      rounds: 1,
      expander,
    });
    const round = report.rounds[0];
    assert(round.exact && round.verified, JSON.stringify({ ...round, timings: undefined }));
    assertEquals(round.survivors, 3);
    assert(expander.counters.jobsPosted > 0, "the masks were applied on the workers");
  });
});

/**
 * A worker module that runs the real mask worker but dies (uncaught error, which ends a Deno
 * worker) on any job of 7 terms. Written to a temporary file, removed once `fn` settles.
 */
function withCrashingWorker(fn: (module: URL) => Promise<void>): Promise<void> {
  return withTempDir("fedagg-worker-", async (dir) => {
    const real = new URL("../../node/mask_worker.ts", import.meta.url).href;
    const module = new URL(`file://${dir}/crashing_worker.js`);
    await Deno.writeTextFile(
      module,
      `import ${JSON.stringify(real)};
const realHandler = self.onmessage;
self.onmessage = (e) => {
  if (e.data.negate.length === 7) throw new Error("crashing on request");
  realHandler(e);
};
`,
    );
    await fn(module);
  });
}

Deno.test("worker expander: a crashed worker's slice is redone and the worker replaced", async () => {
  await withCrashingWorker(async (module) => {
    const e = expanderOf(2, { module });
    try {
      const target = words("crash", 2 ** 18 + 3);
      const healthy = terms("crash/healthy", 4);
      const fatal = terms("crash/fatal", 7);
      const v = target.slice();
      await e.apply(v, healthy); // both workers answer once
      assertSameWords(v, await inline(target, healthy));
      assertEquals(e.counters.jobsPosted, 2);
      // Both workers die with their slice: the job still completes, bit-identical.
      const w = target.slice();
      await e.apply(w, fatal);
      assertSameWords(w, await inline(target, fatal), "the crashed slices, redone inline");
      assertEquals(e.counters.workersCrashed, 2);
      assertEquals(e.size, 2, "both replaced");
      // A later job goes to the replacements and completes (the dead workers would never answer).
      const x = target.slice();
      await e.apply(x, healthy);
      assertSameWords(x, await inline(target, healthy));
      assertEquals(e.counters.jobsPosted, 6, "posted to the replacement workers");
      assertEquals(e.counters.workersCrashed, 2);
    } finally {
      e.close();
    }
  });
});

Deno.test("worker expander: workers that crash before answering are dropped; then jobs run inline", async () => {
  await withCrashingWorker(async (module) => {
    const e = expanderOf(2, { module });
    try {
      const target = words("crash-first", 2 ** 18 + 5);
      const fatal = terms("crash-first/fatal", 7);
      const v = target.slice();
      await e.apply(v, fatal);
      assertSameWords(v, await inline(target, fatal));
      assertEquals(e.counters.workersCrashed, 2);
      assertEquals(e.size, 0, "not restarted: a worker that never answered may not start at all");
      const healthy = terms("crash-first/healthy", 4);
      const w = target.slice();
      await e.apply(w, healthy);
      assertSameWords(w, await inline(target, healthy));
      assertEquals(e.counters.jobsPosted, 2, "the later job ran inline");
    } finally {
      e.close();
    }
  });
});
