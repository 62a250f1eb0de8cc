/**
 * The addresses a node listens on, checked before it starts: the libp2p listen multiaddrs (the
 * TCP transport listens on `/ip4/ADDR/tcp/PORT` and `/ip6/ADDR/tcp/PORT` only) and the trainer
 * API's `HOST:PORT`; and {@link probeListen}, which tells whether such an address is free by
 * binding it and letting it go.
 *
 * The probe has a small race: another process may take the port between the probe and the
 * node's own bind. The node then fails to bind: the caller reports that as its own one-line
 * start-up failure; the probe exists so that the usual case (a port already taken, most often by
 * a second node) is refused before the node joins the mesh.
 *
 * @module
 */
import { multiaddr } from "npm:@multiformats/multiaddr@13.0.3";
import { NodeError, type SetupErrorCode } from "./errors.ts";

/** A TCP address to listen on. Port 0 asks the system for a free port. */
export interface ListenAddress {
  /** An IPv4 or IPv6 address (no brackets) or, for the API, a host name. */
  readonly hostname: string;
  /** 0..65535. */
  readonly port: number;
}

/** A libp2p listen address: the multiaddr as given and the TCP address it names. */
export interface ListenMultiaddr extends ListenAddress {
  readonly multiaddr: string;
}

/**
 * The listen multiaddrs in `values`, each checked to be `/ip4/ADDR/tcp/PORT` or
 * `/ip6/ADDR/tcp/PORT`. Refuses (NodeError `code`, the message starting with `source`) a value
 * that is not a non-empty list of strings, and any entry that does not parse as a multiaddr or is
 * not of those forms.
 */
export function parseListenMultiaddrs(
  values: unknown,
  source: string,
  code: SetupErrorCode,
): ListenMultiaddr[] {
  if (!Array.isArray(values) || values.length === 0) {
    throw new NodeError(code, `${source} must be a non-empty list of multiaddrs`);
  }
  return values.map((value, i) => {
    const where = `${source}[${i}]`;
    if (typeof value !== "string") throw new NodeError(code, `${where} must be a string`);
    let components: { name: string; value?: string }[];
    try {
      components = multiaddr(value).getComponents();
    } catch {
      throw new NodeError(code, `${where} is not a multiaddr: ${JSON.stringify(value)}`);
    }
    const [ip, tcp] = components;
    const port = Number(tcp?.value);
    if (
      components.length !== 2 || (ip.name !== "ip4" && ip.name !== "ip6") ||
      ip.value === undefined || tcp.name !== "tcp" || !Number.isInteger(port) ||
      port < 0 || port > 65535
    ) {
      throw new NodeError(
        code,
        `${where} must be /ip4/ADDR/tcp/PORT or /ip6/ADDR/tcp/PORT, got ${JSON.stringify(value)}`,
      );
    }
    return { multiaddr: value, hostname: ip.value, port };
  });
}

/**
 * `HOST:PORT` (an IPv6 address may be in brackets: `[::1]:8421`) as a listen address. Refuses (NodeError
 * `usage`, the message naming `option`) anything else, and ports outside 0..65535.
 */
export function parseHostPort(text: string, option: string): ListenAddress {
  const m = /^(?:\[([^\]\s]+)\]|([^\s/\[\]]+)):(\d{1,5})$/.exec(text);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || port > 65535) {
    throw new NodeError(
      "usage",
      `${option} must be HOST:PORT (IPv6 as [ADDR]:PORT, port 0..65535), got ${text}`,
    );
  }
  return { hostname: m[1] ?? m[2], port };
}

/**
 * Returns when `address` can be listened on now (it binds a TCP listener there and closes it at
 * once; port 0 is not probed: the system picks a free one). Refuses with NodeError
 * `port-in-use` when another socket holds the port, and `address-invalid` when the address
 * cannot be bound for another reason (not an address of this machine, an unknown host name);
 * the message starts with `what`, which names the address.
 */
export function probeListen(address: ListenAddress, what: string): void {
  if (address.port === 0) return;
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ hostname: address.hostname, port: address.port, transport: "tcp" });
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new NodeError(
        "port-in-use",
        `${what} is in use by another process: stop it or choose another port`,
      );
    }
    throw new NodeError(
      "address-invalid",
      `cannot listen on ${what}: ${firstLine((err as Error).message)}`,
    );
  }
  listener.close();
}

/**
 * Returns when every address of `named` (an address and the words naming it) can be listened on
 * now, alone and all at once: each is probed alone ({@link probeListen}), then all are bound
 * together, in order, and released. So whether two of them clash is what the system says, not
 * what their host strings suggest (`localhost` and `127.0.0.1` clash; `0.0.0.0` and `::1` do
 * not). Port 0 is not probed. Refuses as {@link probeListen} does, and with `address-invalid`
 * naming both when two of them cannot be bound together.
 */
export function probeListenAll(named: readonly (readonly [ListenAddress, string])[]): void {
  for (const [address, what] of named) probeListen(address, what);
  const held: Deno.Listener[] = [];
  const bind = (a: ListenAddress) =>
    Deno.listen({ hostname: a.hostname, port: a.port, transport: "tcp" });
  try {
    for (const [i, [address, what]] of named.entries()) {
      if (address.port === 0) continue;
      try {
        held.push(bind(address));
      } catch (err) {
        for (const l of held.splice(0)) l.close();
        const other = err instanceof Deno.errors.AddrInUse
          ? named.slice(0, i).find(([earlier]) => clash(earlier, address, bind))
          : undefined;
        if (other !== undefined) {
          throw new NodeError("address-invalid", `${what} uses the same port as ${other[1]}`);
        }
        // Taken (or gone) since it was probed alone a moment ago.
        probeListen(address, what);
        throw new NodeError(
          "address-invalid",
          `cannot listen on ${what}: ${firstLine((err as Error).message)}`,
        );
      }
    }
  } finally {
    for (const l of held) l.close();
  }
}

/** Whether `b` cannot be bound while `a` is (each bound by `bind`). */
function clash(
  a: ListenAddress,
  b: ListenAddress,
  bind: (a: ListenAddress) => Deno.Listener,
): boolean {
  if (a.port === 0) return false;
  let first: Deno.Listener;
  try {
    first = bind(a);
  } catch {
    return false;
  }
  try {
    bind(b).close();
    return false;
  } catch (err) {
    return err instanceof Deno.errors.AddrInUse;
  } finally {
    first.close();
  }
}

/** `address` as `HOST:PORT` (an IPv6 address in brackets). */
export function showAddress(address: ListenAddress): string {
  return address.hostname.includes(":")
    ? `[${address.hostname}]:${address.port}`
    : `${address.hostname}:${address.port}`;
}

/** The first line of `text` (error messages from the runtime can span several). */
export function firstLine(text: string): string {
  return text.split("\n", 1)[0].trim();
}
