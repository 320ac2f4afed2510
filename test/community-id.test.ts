// The Community ID digest of src/core/community-id.ts against node:crypto's SHA-1 of the message
// the spec defines, for random addresses and ports (equal addresses and equal ports included: the
// ordering's ties).

import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { COMMUNITY_DIGEST_BYTES, communityDigest } from "../src/core/community-id.js";

/** The spec's message for TCP with seed 0: seed, ordered addresses, protocol, pad, ordered ports. */
function expected(a: Uint8Array, aPort: number, b: Uint8Array, bPort: number): Buffer {
  let [x, y, px, py] = [a, b, aPort, bPort];
  const order = Buffer.compare(x, y);
  if (order > 0 || (order === 0 && px > py)) [x, y, px, py] = [b, a, bPort, aPort];
  const message = Uint8Array.from([0, 0, ...x, ...y, 6, 0, px >> 8, px & 0xff, py >> 8, py & 0xff]);
  return createHash("sha1").update(message).digest();
}

/** The digest communityDigest makes for the two addresses placed in one buffer, as the columns hold them. */
function digestOf(a: Uint8Array, aPort: number, b: Uint8Array, bPort: number): Buffer {
  const bytes = new Uint8Array(40);
  bytes.set(a, 3);
  bytes.set(b, 21);
  const digest = new Uint8Array(COMMUNITY_DIGEST_BYTES);
  communityDigest(bytes, 3, aPort, 21, bPort, a.length, digest);
  return Buffer.from(digest);
}

const port = fc.integer({ min: 0, max: 65535 });
/** Addresses that often share leading bytes or are equal, so that every comparison step is met. */
const pair = (len: number) => fc.tuple(fc.uint8Array({ minLength: len, maxLength: len }), fc.uint8Array({ minLength: len, maxLength: len }), fc.nat(len))
  .map(([a, b, keep]) => [a, Uint8Array.from(b.map((v, i) => (i < keep ? a[i]! : v)))] as const);

describe("communityDigest", () => {
  it("is the spec's TCP example", () => {
    const digest = digestOf(Uint8Array.of(128, 232, 110, 120), 34855, Uint8Array.of(66, 35, 250, 204), 80);
    expect("1:" + digest.toString("base64")).toBe("1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
  });

  for (const len of [4, 16]) {
    it(`is SHA-1 of the spec's message for IPv${len === 4 ? 4 : 6} addresses, in either order`, () => {
      fc.assert(fc.property(pair(len), port, port, ([a, b], aPort, bPort) => {
        const want = expected(a, aPort, b, bPort);
        expect(digestOf(a, aPort, b, bPort)).toEqual(want);
        expect(digestOf(b, bPort, a, aPort)).toEqual(want);
      }), { numRuns: 500 });
    });
  }
});
