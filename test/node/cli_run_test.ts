/**
 * `fedagg run`'s start-up, as real processes (the entry point under `deno run` with the binary's
 * permissions, through `LocalNet`): every failure a start-up check finds — a garbage or invalid
 * `node.json`, a short or malformed or missing API token, an API or libp2p port in use, a bad
 * `--api` — exits 2 with exactly one line on stderr (no stack trace, no log line of a started
 * node, never the token), and nothing is written; a second `fedagg run` on a running node's
 * directory (with its ports, or with free ones) exits 2 at once naming the running process's
 * PID, while the first keeps serving; after the first is SIGKILLed the directory runs again.
 * Ports clash when the system says so, not by their host strings: `--api localhost:P` next to a
 * libp2p listen on 127.0.0.1:P is refused before the start, the API on 0.0.0.0:P next to libp2p on
 * [::1]:P starts. A clean stop removes `api.json`; when `api.json` cannot be written, the node
 * stops what it started, then reports one line and exits 2.
 */
import "../../node/shims.ts";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import {
  freePort,
  LocalNet,
  type LocalNode,
  ROOT,
  waitFor,
} from "../../scripts/testnet/local_net.ts";
import { nodeCommand } from "../../scripts/permissions.ts";
import { exists } from "./_helpers.ts";
import { parseWithPrometheusClient } from "./_prometheus.ts";

/** How long a start-up failure may take to exit (deno start-up under a loaded machine). */
const EXIT_DEADLINE_MS = 90_000;

interface Outcome {
  /** The exit code, or "running" when the process had not exited by the deadline. */
  readonly code: number | "running";
  readonly stderr: string;
}

/**
 * Runs `fedagg run` for `node` with `extra` options (`--api` defaults to the node's port); kills
 * it if it has not exited within {@link EXIT_DEADLINE_MS} (a start that should have been refused).
 */
async function runOnce(net: LocalNet, node: LocalNode, extra: string[] = []): Promise<Outcome> {
  const args = ["run", "--dir", node.dir, "--roster", net.rosterPath];
  if (!extra.includes("--api")) args.push("--api", `127.0.0.1:${node.apiPort}`);
  const child = new Deno.Command(Deno.execPath(), {
    args: [...nodeCommand(ROOT), ...args, ...extra],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"running">((resolve) => {
    timer = setTimeout(() => resolve("running"), EXIT_DEADLINE_MS);
  });
  const status = await Promise.race([child.status, deadline]);
  clearTimeout(timer);
  if (status === "running") {
    child.kill("SIGKILL");
    await child.status;
    return { code: "running", stderr: await stderr };
  }
  return { code: status.code, stderr: await stderr };
}

/**
 * Asserts the start-up refusal: exit 2, one line on stderr matching `pattern` (no stack trace,
 * no log line of a started node), without the token; returns the line.
 */
function assertRefused(outcome: Outcome, pattern: RegExp, token: string, what: string): string {
  const text = outcome.stderr.trimEnd();
  assertEquals(outcome.code, 2, `${what}: exit code\n${outcome.stderr}`);
  assertEquals(text.split("\n").length, 1, `${what}: one line on stderr\n${outcome.stderr}`);
  assert(!/^\s+at /m.test(outcome.stderr), `${what}: no stack trace\n${outcome.stderr}`);
  assertMatch(
    text,
    /^fedagg run: |^--(api|metrics|log-level|keep-rounds|keep-bytes|peer-loss-grace) /,
    what,
  );
  assertMatch(text, pattern, what);
  assert(!outcome.stderr.includes(token), `${what}: the token is not printed`);
  return text;
}

async function withNet(fn: (net: LocalNet) => Promise<void>): Promise<void> {
  const out = await Deno.makeTempDir({ prefix: "fedagg-run-" });
  const net = await LocalNet.create(out, 3, { dim: 4 });
  try {
    await fn(net);
  } finally {
    await net.stopAll();
    await Deno.remove(out, { recursive: true });
  }
}

/** One start-up failure: the files it writes, the port it holds, the options it adds. */
interface Case {
  readonly what: string;
  /** Files of the node directory to overwrite (undefined: remove) for the run, by name. */
  readonly files?: Record<string, string | undefined>;
  /** Hold this port of 127.0.0.1 during the run: "api" or "listen". */
  readonly hold?: "api" | "listen";
  readonly extra?: (ports: { api: number; listen: number }) => string[];
  /** What stderr's one line says, given the ports. */
  readonly says: (ports: { api: number; listen: number }) => RegExp;
  /** A secret the run must not print (the node's token unless given). */
  readonly secret?: string;
}

const SHORT_TOKEN = "Sh0rtSecret15ch"; // 15 characters
const SPACED_TOKEN = "Secret with spaces inside";

const CASES: readonly Case[] = [
  {
    what: "peer-loss grace not a number of ms",
    extra: () => ["--peer-loss-grace", "1s"],
    says: () => /--peer-loss-grace must be an integer ≥ 0, got 1s/,
  },
  {
    what: "garbage node.json",
    files: { "node.json": "garbage {" },
    says: () => /node\.json is not valid JSON/,
  },
  {
    what: "node.json listen not a list",
    files: { "node.json": '{"listen": "/ip4/127.0.0.1/tcp/4001"}' },
    says: () => /node\.json: listen must be a non-empty list/,
  },
  {
    what: "node.json listen empty",
    files: { "node.json": '{"listen": []}' },
    says: () => /node\.json: listen must be a non-empty list/,
  },
  {
    what: "node.json listen on udp",
    files: { "node.json": '{"listen": ["/ip4/127.0.0.1/udp/4001"]}' },
    says: () => /listen\[0\] must be \/ip4\/ADDR\/tcp\/PORT/,
  },
  {
    what: "node.json listen not a multiaddr",
    files: { "node.json": '{"listen": ["/ip4/300.0.0.1/tcp/4001"]}' },
    says: () => /listen\[0\] is not a multiaddr/,
  },
  {
    what: "short token",
    files: { "api.token": `${SHORT_TOKEN}\n` },
    says: () => /api\.token must hold a token of 16 to 1024 characters/,
    secret: SHORT_TOKEN,
  },
  {
    what: "token with spaces",
    files: { "api.token": SPACED_TOKEN },
    says: () => /api\.token must hold one token of the characters/,
    secret: SPACED_TOKEN,
  },
  { what: "no token", files: { "api.token": undefined }, says: () => /api\.token not found/ },
  {
    what: "node.json listen on an address of another machine",
    files: { "node.json": '{"listen": ["/ip4/192.0.2.1/tcp/4001"]}' },
    says: () => /cannot listen on the libp2p listen address \/ip4\/192\.0\.2\.1\/tcp\/4001: /,
  },
  {
    what: "API port in use",
    hold: "api",
    says: ({ api }) =>
      new RegExp(`trainer API address 127\\.0\\.0\\.1:${api} \\(--api\\) is in use`),
  },
  {
    what: "listen port in use",
    hold: "listen",
    says: ({ listen }) =>
      new RegExp(`libp2p listen address /ip4/127\\.0\\.0\\.1/tcp/${listen} is in use`),
  },
  {
    what: "malformed --api",
    extra: () => ["--api", "8421"],
    says: () => /--api must be HOST:PORT/,
  },
  {
    what: "--listen not TCP on an IP",
    extra: () => ["--listen", "/dns4/example.org/tcp/1"],
    says: () => /--listen\[0\] must be \/ip4\/ADDR\/tcp\/PORT/,
  },
  {
    what: "API on the libp2p port",
    extra: ({ listen }) => ["--api", `127.0.0.1:${listen}`],
    says: () => /uses the same port as/,
  },
  {
    what: "a log level that is none of the four",
    extra: () => ["--log-level", "verbose"],
    says: () => /^--log-level must be one of debug, info, warn, error, got "verbose"$/,
  },
  {
    what: "the metrics listener on the API's port",
    extra: ({ api }) => ["--metrics", `127.0.0.1:${api}`],
    says: () => /metrics address 127\.0\.0\.1:\d+ \(--metrics\) uses the same port as/,
  },
  {
    what: "a malformed --metrics",
    extra: () => ["--metrics", "9464"],
    says: () => /--metrics must be HOST:PORT/,
  },
  {
    what: "a --keep-bytes that is no size",
    extra: () => ["--keep-bytes", "lots"],
    says: () => /--keep-bytes must be a size like 500M/,
  },
  {
    what: "--keep-rounds 0",
    extra: () => ["--keep-rounds", "0"],
    says: () => /--keep-rounds must be an integer ≥ 1, got 0/,
  },
  {
    // localhost is 127.0.0.1 here: a clash the host strings do not show.
    what: "API on localhost at the libp2p port of 127.0.0.1",
    extra: ({ listen }) => ["--api", `localhost:${listen}`],
    says: ({ listen }) =>
      new RegExp(
        `trainer API address localhost:${listen} \\(--api\\) uses the same port as the libp2p ` +
          `listen address /ip4/127\\.0\\.0\\.1/tcp/${listen}$`,
      ),
  },
];

Deno.test({
  name: "run: every start-up failure is one line on stderr and exit 2, before the node starts",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: (t) =>
    withNet(async (net) => {
      const node = net.nodes[0];
      const config = await Deno.readTextFile(`${node.dir}/node.json`);
      const ports = {
        api: node.apiPort,
        listen: Number(JSON.parse(config).listen[0].split("/").pop()),
      };
      for (const c of CASES) {
        await t.step(c.what, async () => {
          const saved: [string, string][] = [];
          for (const [name, text] of Object.entries(c.files ?? {})) {
            const path = `${node.dir}/${name}`;
            saved.push([path, await Deno.readTextFile(path)]);
            if (text === undefined) await Deno.remove(path);
            else await Deno.writeTextFile(path, text);
          }
          const holder = c.hold === undefined
            ? undefined
            : Deno.listen({ hostname: "127.0.0.1", port: ports[c.hold] });
          try {
            const outcome = await runOnce(net, node, c.extra?.(ports));
            assertRefused(outcome, c.says(ports), c.secret ?? node.token, c.what);
          } finally {
            holder?.close();
            for (const [path, text] of saved) await Deno.writeTextFile(path, text);
          }
          assert(!await exists(`${node.dir}/api.json`), "a failed start writes no api.json");
        });
      }
    }),
});

/** Whether this machine can listen on ::1. */
function hasIpv6(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

/** `fedagg run` for `node` with `extra` options, as a child whose stderr is collected. */
function spawnRun(net: LocalNet, node: LocalNode, extra: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...nodeCommand(ROOT), "run", "--dir", node.dir, "--roster", net.rosterPath, ...extra],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let exit: number | undefined;
  const status = child.status.then((s) => exit = s.code);
  return { child, stderr: new Response(child.stderr).text(), status, exited: () => exit };
}

Deno.test({
  name: "run: API on 0.0.0.0 and libp2p on ::1 at the same port start (no clash); a clean stop " +
    "removes api.json",
  ignore: !hasIpv6(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withNet(async (net) => {
      const node = net.nodes[0];
      const port = node.apiPort;
      const run = spawnRun(net, node, [
        "--api",
        `0.0.0.0:${port}`,
        "--listen",
        `/ip6/::1/tcp/${port}`,
      ]);
      try {
        const url = await waitFor("the node to write api.json", async () => {
          if (run.exited() !== undefined) {
            throw new Error(`fedagg run exited ${run.exited()}: ${await run.stderr}`);
          }
          try {
            const json = JSON.parse(await Deno.readTextFile(`${node.dir}/api.json`));
            return json.pid === run.child.pid ? json.url as string : undefined;
          } catch {
            return undefined;
          }
        }, EXIT_DEADLINE_MS);
        assertEquals(url, `http://0.0.0.0:${port}`);
        const res = await fetch(`http://127.0.0.1:${port}/v1/status`, {
          headers: { authorization: `Bearer ${node.token}` },
        });
        assertEquals(res.status, 200);
        assertEquals((await res.json()).peerId, node.id);
        run.child.kill("SIGTERM");
        assertEquals(await run.status, 0, await run.stderr);
        assert(!await exists(`${node.dir}/api.json`), "a clean stop removes api.json");
      } finally {
        if (run.exited() === undefined) {
          run.child.kill("SIGKILL");
          await run.status;
        }
        await run.stderr;
      }
    }),
});

Deno.test({
  name: "run: when api.json cannot be written, the API and the node stop, then one line and exit 2",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withNet(async (net) => {
      const node = net.nodes[0];
      // A non-empty directory in its place: the atomic rename onto it fails.
      await Deno.mkdir(`${node.dir}/api.json/occupied`, { recursive: true });
      const run = spawnRun(net, node, ["--api", `127.0.0.1:${node.apiPort}`]);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const code = await Promise.race([
        run.status,
        new Promise<"running">((r) => timer = setTimeout(() => r("running"), EXIT_DEADLINE_MS)),
      ]);
      clearTimeout(timer);
      if (code === "running") {
        run.child.kill("SIGKILL");
        await run.status;
      }
      const stderr = await run.stderr;
      assertEquals(code, 2, stderr);
      const lines = stderr.trimEnd().split("\n");
      assertMatch(
        lines.at(-1)!,
        new RegExp(
          `^fedagg run: cannot write ${
            node.dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
          }/api\\.json: `,
        ),
        stderr,
      );
      assert(!/^\s+at /m.test(stderr), `no stack trace\n${stderr}`);
      assert(!stderr.includes(node.token), "the token is not printed");
      // It stopped what it had started before it reported.
      const stopping = lines.findIndex((l) => l.includes("cannot write api.json; stopping"));
      assert(stopping >= 0 && stopping < lines.length - 1, stderr);
      // The API's port is free again and the directory's lock is released (a clean stop).
      Deno.listen({ hostname: "127.0.0.1", port: node.apiPort }).close();
      assertEquals(await Deno.readTextFile(`${node.dir}/lock`), "");
    }),
});

Deno.test({
  name: "run: a second run on the same directory exits 2 naming the PID; the lock survives SIGKILL",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: (t) =>
    withNet(async (net) => {
      const node = net.nodes[0];
      const up = () =>
        waitFor(`${node.name} to serve its API`, async () => {
          return (await net.status(node)) !== undefined ? true : undefined;
        }, 90_000);
      await net.start(node);
      await up();
      const pid = node.child!.pid;
      const apiJson = await Deno.readTextFile(`${node.dir}/api.json`);
      assertEquals(JSON.parse(apiJson).pid, pid);
      const pattern = new RegExp(`is in use by another fedagg process \\(PID ${pid}\\)`);
      // The same ports (the usual mistake: the same command twice) and free ones (which would
      // otherwise join the mesh with the same PeerId and journal).
      await t.step("same ports", async () => {
        assertRefused(await runOnce(net, node), pattern, node.token, "second run, same ports");
      });
      await t.step("free ports", async () => {
        assertRefused(
          await runOnce(net, node, ["--api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0"]),
          pattern,
          node.token,
          "second run, free ports",
        );
      });
      assert((await net.status(node)) !== undefined, "the first keeps serving");
      assertEquals(await Deno.readTextFile(`${node.dir}/api.json`), apiJson, "api.json kept");
      assertEquals(await Deno.readTextFile(`${node.dir}/lock`), `${pid}\n`);

      // SIGKILL leaves no stale lock: the kernel drops the lock with the process.
      await net.stop(node, "SIGKILL");
      await net.start(node);
      await up();
      const restarted = node.child!.pid;
      assert(restarted !== pid);
      assertEquals(await Deno.readTextFile(`${node.dir}/lock`), `${restarted}\n`);
      // A clean stop clears the PID (the file stays: it is the lock's name). Stopped here rather
      // than by LocalNet.stop, which SIGKILLs a process slow to stop under load.
      const child = node.child!;
      node.child = undefined;
      child.kill("SIGTERM");
      assertEquals((await child.status).code, 0, "a clean stop");
      assertEquals(await Deno.readTextFile(`${node.dir}/lock`), "");
    }),
});

Deno.test({
  name: "run: --metrics serves the open metrics without a token; --log-level warn drops info lines",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withNet(async (net) => {
      const node = net.nodes[0];
      const port = freePort();
      const run = spawnRun(net, node, [
        "--api",
        `127.0.0.1:${node.apiPort}`,
        "--metrics",
        `127.0.0.1:${port}`,
        "--log-level",
        "warn",
      ]);
      try {
        const text = await waitFor("the metrics listener", async () => {
          if (run.exited() !== undefined) {
            throw new Error(`fedagg run exited ${run.exited()}: ${await run.stderr}`);
          }
          try {
            const res = await fetch(`http://127.0.0.1:${port}/metrics`);
            return res.status === 200 ? await res.text() : undefined;
          } catch {
            return undefined;
          }
        }, EXIT_DEADLINE_MS);
        const families = await parseWithPrometheusClient(text);
        const info = families.find((f) => f.name === "fedagg_roster_info")!;
        assertEquals(info.samples[0].labels.members, "3");
        assert(families.some((f) => f.name === "fedagg_bytes_sent" && f.type === "counter"));
        // The status shows the journal and its limits.
        const status = await net.cli(["status", "--dir", node.dir]);
        assertEquals(status.code, 0, status.stderr);
        assertMatch(
          status.stdout,
          /^journal +\d+\.\d MB in \d+ rounds \(keeps 100 rounds, 1074 MB\)$/m,
        );
        assertMatch(status.stdout, /^roster +[0-9a-f]{16} \(fedagg \d+\.\d+\.\d+\)$/m);
        // The API's own /metrics still wants the token.
        const api = await fetch(`http://127.0.0.1:${node.apiPort}/metrics`);
        assertEquals(api.status, 401);
        await api.body?.cancel();
        run.child.kill("SIGTERM");
        assertEquals(await run.status, 0);
        const lines = (await run.stderr).trimEnd().split("\n").filter((l) => l !== "");
        const levels = lines.map((l) => JSON.parse(l).level);
        assert(!levels.includes("info") && !levels.includes("debug"), lines.join("\n"));
      } finally {
        if (run.exited() === undefined) {
          run.child.kill("SIGKILL");
          await run.status;
        }
        await run.stderr;
      }
    }),
});
