/**
 * `probeListenAll` (node/listen_address.ts) on real sockets: addresses that clash are refused
 * because the system refuses to bind them together, whatever their host strings say
 * (`localhost` and `127.0.0.1`); addresses that can coexist pass (`0.0.0.0` and `::1`, when this
 * machine has IPv6); a port another process holds is `port-in-use`; nothing stays bound.
 */
import { assertEquals, assertMatch, assertThrows } from "../_assert.ts";
import { NodeError } from "../../node/errors.ts";
import { type ListenAddress, probeListenAll } from "../../node/listen_address.ts";
import { freePort } from "../../scripts/testnet/local_net.ts";

function hasIpv6(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

function refused(named: [ListenAddress, string][]): NodeError {
  return assertThrows(() => probeListenAll(named), NodeError) as NodeError;
}

/** Binding `address` works (the probe released it). */
function bindable(address: ListenAddress): void {
  Deno.listen({ ...address, transport: "tcp" }).close();
}

Deno.test("probeListenAll: localhost and 127.0.0.1 on one port clash", () => {
  const port = freePort();
  const err = refused([
    [{ hostname: "127.0.0.1", port }, "the listen address"],
    [{ hostname: "localhost", port }, "the API address"],
  ]);
  assertEquals(err.code, "address-invalid");
  assertMatch(err.message, /^the API address uses the same port as the listen address$/);
  bindable({ hostname: "127.0.0.1", port });
});

Deno.test({
  name: "probeListenAll: 0.0.0.0 and ::1 on one port do not clash",
  ignore: !hasIpv6(),
  fn: () => {
    const port = freePort();
    const named: [ListenAddress, string][] = [
      [{ hostname: "::1", port }, "the listen address"],
      [{ hostname: "0.0.0.0", port }, "the API address"],
    ];
    probeListenAll(named);
    for (const [a] of named) bindable(a);
  },
});

Deno.test("probeListenAll: a port another socket holds is port-in-use; port 0 is not probed", () => {
  const holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (holder.addr as Deno.NetAddr).port;
    const err = refused([
      [{ hostname: "127.0.0.1", port: 0 }, "a free one"],
      [{ hostname: "127.0.0.1", port }, "the API address"],
    ]);
    assertEquals(err.code, "port-in-use");
    assertMatch(err.message, /^the API address is in use by another process/);
    probeListenAll([
      [{ hostname: "127.0.0.1", port: 0 }, "one"],
      [{ hostname: "127.0.0.1", port: 0 }, "two"],
    ]);
  } finally {
    holder.close();
  }
});
