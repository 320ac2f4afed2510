// The history column's dictionary (src/core/batch.ts) finds rows by a hash of their bytes: two
// histories whose hashes collide must still be two entries, and a history seen before must come
// back as the same entry, with its text added once.

import { describe, expect, it } from "vitest";
import { HistoryDictionary, historyHash } from "../src/core/batch.js";

const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

describe("the history dictionary", () => {
  it("keeps histories whose hashes collide apart", () => {
    // Two histories of Zeek's letters with the same hash (found by searching all five-letter ones).
    const a = ascii("aiRwf"), b = ascii("aQTSh");
    expect(historyHash(a, 0, a.length)).toBe(historyHash(b, 0, b.length));
    const dictionary = new HistoryDictionary();
    const fresh: string[] = [];
    const ia = dictionary.indexOf(a, 0, a.length, fresh);
    const ib = dictionary.indexOf(b, 0, b.length, fresh);
    expect(ib).not.toBe(ia);
    expect(dictionary.indexOf(a, 0, a.length, fresh)).toBe(ia);
    expect(dictionary.indexOf(b, 0, b.length, fresh)).toBe(ib);
    expect([fresh[ia], fresh[ib]]).toEqual(["aiRwf", "aQTSh"]);
    expect(fresh).toHaveLength(2);
  });

  it("numbers histories in order of first sight, each once, wherever they lie in the buffer", () => {
    const rows = ["ShADadFf", "", "S", "ShADadFf", "ShADadfF", "S", "", "ShADadFfR"];
    const width = 40;
    const bytes = new Uint8Array(rows.length * width);
    rows.forEach((row, i) => bytes.set(ascii(row), i * width));
    const dictionary = new HistoryDictionary();
    const fresh: string[] = [];
    const indices = rows.map((row, i) => dictionary.indexOf(bytes, i * width, row.length, fresh));
    expect(indices).toEqual([0, 1, 2, 0, 3, 2, 1, 4]);
    expect(fresh).toEqual(["ShADadFf", "", "S", "ShADadfF", "ShADadFfR"]);
  });
});
