/**
 * The strict request-head parser (node/http_head.ts), byte strings in, heads or typed refusals
 * out: what it accepts (origin-form targets, HTTP/1.0 and 1.1, Content-Length, keep-alive and
 * 100-continue) and each rule it refuses by, with the code the server answers.
 */
import { assertEquals, assertThrows } from "../_assert.ts";
import { headEnd, HeadError, parseHead } from "../../node/http_head.ts";

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function refused(head: string, code: string, max = 64): string {
  const err = assertThrows(() => parseHead(bytes(head), max), HeadError);
  assertEquals((err as HeadError).code, code, head);
  return err.message;
}

Deno.test("http head: a well-formed head", () => {
  const h = parseHead(
    bytes(
      "POST /v1/rounds/3/update?num_samples=2 HTTP/1.1\r\nHost: x\r\nContent-Length:  24 \r\n" +
        "X-Empty:\r\nExpect: 100-continue\r\nX-Latin: caf\xe9\r\n\r\n",
    ),
    64,
  );
  assertEquals(h.method, "POST");
  assertEquals(h.target, "/v1/rounds/3/update?num_samples=2");
  assertEquals(h.version, "1.1");
  assertEquals(h.contentLength, 24);
  assertEquals(h.keepAlive, true);
  assertEquals(h.expectContinue, true);
  assertEquals(h.headers, [
    ["host", "x"],
    ["content-length", "24"],
    ["x-empty", ""],
    ["expect", "100-continue"],
    ["x-latin", "caf\xe9"],
  ]);
});

Deno.test("http head: keep-alive by version and Connection", () => {
  const keep = (s: string) => parseHead(bytes(s), 64).keepAlive;
  assertEquals(keep("GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"), false);
  assertEquals(keep("GET / HTTP/1.1\r\nhost: x\r\nconnection: TE, Close\r\n\r\n"), false);
  assertEquals(keep("GET / HTTP/1.0\r\n\r\n"), false);
  assertEquals(keep("GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n"), true);
  assertEquals(parseHead(bytes("GET / HTTP/1.0\r\n\r\n"), 64).contentLength, 0);
});

Deno.test("http head: Expect: 100-continue is ignored from an HTTP/1.0 client (RFC 9110, 10.1.1)", () => {
  const expects = (s: string) => parseHead(bytes(s), 64).expectContinue;
  assertEquals(expects("POST / HTTP/1.1\r\nhost: x\r\nexpect: 100-Continue\r\n\r\n"), true);
  assertEquals(expects("POST / HTTP/1.0\r\nexpect: 100-continue\r\n\r\n"), false);
});

Deno.test("http head: each rule refuses with its code", () => {
  refused("GET / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n", "length-required");
  refused("GET / HTTP/1.1\r\nhost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "length-required");
  refused("GET / HTTP/1.1\r\nhost: x\r\na: 1\r\nb: 2\r\n\r\n", "header-too-large", 2);
  for (
    const head of [
      "GET / HTTP/1.1\nhost: x\r\n\r\n",
      "GET / HTTP/1.1\r\nhost: x\rx\r\n\r\n",
      "GET  / HTTP/1.1\r\nhost: x\r\n\r\n",
      "GET / HTTP/1.1 \r\nhost: x\r\n\r\n",
      "G(T / HTTP/1.1\r\nhost: x\r\n\r\n",
      "GET / HTTP/2.0\r\nhost: x\r\n\r\n",
      "GET / HTTP/1.2\r\nhost: x\r\n\r\n",
      "GET x HTTP/1.1\r\nhost: x\r\n\r\n",
      "GET * HTTP/1.1\r\nhost: x\r\n\r\n",
      "GET http://x/ HTTP/1.1\r\nhost: x\r\n\r\n",
      "GET /\x7f HTTP/1.1\r\nhost: x\r\n\r\n",
      "GET / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nhost: x\r\nhost: y\r\n\r\n",
      "GET / HTTP/1.1\r\nhost: x\r\n folded\r\n\r\n",
      "GET / HTTP/1.1\r\nhost: x\r\nx-a : 1\r\n\r\n",
      "GET / HTTP/1.1\r\nhost: x\r\n: 1\r\n\r\n",
      "GET / HTTP/1.1\r\nhost: x\r\nno-colon\r\n\r\n",
      "GET / HTTP/1.1\r\nhost: x\r\nx-a: 1\x002\r\n\r\n",
      "GET / HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 1\r\n\r\n",
      "GET / HTTP/1.1\r\nhost: x\r\ncontent-length: +1\r\n\r\n",
      "GET / HTTP/1.1\r\nhost: x\r\ncontent-length: 1,1\r\n\r\n",
      "GET / HTTP/1.1\r\nhost: x\r\ncontent-length: 1234567890123456\r\n\r\n",
      "GET / HTTP/1.1\r\nhost: x\r\n\r\n\r\n",
    ]
  ) refused(head, "bad-request");
});

Deno.test("http head: headEnd finds the blank line across searches", () => {
  const b = bytes("GET / HTTP/1.1\r\nhost: x\r\n\r\nrest");
  assertEquals(headEnd(b, 0, b.length), b.length - 4);
  assertEquals(headEnd(b, 0, b.length - 5), -1);
  // A search resumed inside the terminator backs up to find it.
  assertEquals(headEnd(b, b.length - 6, b.length), b.length - 4);
  assertEquals(headEnd(b, 0, 3), -1);
});
