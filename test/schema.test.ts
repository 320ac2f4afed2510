// The schema, the core's column layout (src/core/abi.ts) and docs/columns.md agree: every column the core
// writes is in the schema exactly once, every schema column is documented, in order.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ColI64, ColU16, ColU32, ColU8, ColBytes } from "../src/core/abi.js";
import { DataType, Schema, TimeUnit } from "apache-arrow";
import { COLUMNS, EVENT_COLUMNS, EVENT_SCHEMA, PACKET_COLUMNS, PACKET_SCHEMA, PACKET_STATS_COLUMNS, SCHEMA, STATS_COLUMNS, STATS_SCHEMA } from "../src/output/schema.js";
import { analyze } from "../src/node.js";
import { writePcap } from "../src/synth/capture.js";
import { Conversation } from "../src/synth/conversation.js";
import { LINKTYPE } from "../src/synth/packet.js";

/** Core columns that feed other columns instead of being columns themselves. */
const INTERNAL_U8 = new Set([ColU8.HistoryLen]);
const INTERNAL_U16 = [ColU16.Present];
/** Where a row was written, for merging workers' rows (docs/workers.md); not in the schema. */
const INTERNAL_I64 = [ColI64.EmitAt, ColI64.EmitKey, ColI64.EmitTie];

/** The core columns of one width group that the connection row's columns (with packetStats's) read. */
function sourcesOf(group: "i64" | "u32" | "u16" | "u8"): number[] {
  const kinds = {
    i64: ["timestamp", "duration", "seconds", "u64", "f64"],
    u32: ["u32"],
    u16: ["u16"],
    u8: ["u8", "bool", "enum"],
  }[group];
  return STATS_COLUMNS.filter((c) => kinds.includes(c.source.kind)).map((c) => (c.source as { col: number }).col);
}

function enumValues(e: Record<string, string | number>): number[] {
  return Object.entries(e).filter(([k, v]) => typeof v === "number" && k !== "Count").map(([, v]) => v as number);
}

describe("schema and core layout", () => {
  it("maps every 8-, 4- and 2-byte core column to exactly one schema column, but for the merge keys", () => {
    expect([...sourcesOf("i64"), ...INTERNAL_I64].sort((a, b) => a - b)).toEqual(enumValues(ColI64));
    expect(sourcesOf("u32").sort((a, b) => a - b)).toEqual(enumValues(ColU32));
    expect([...sourcesOf("u16"), ...INTERNAL_U16].sort((a, b) => a - b)).toEqual(enumValues(ColU16));
  });

  it("maps every 1-byte core column to one schema column, but for the internal ones", () => {
    const used = sourcesOf("u8");
    expect(new Set(used).size).toBe(used.length);
    expect([...used, ...INTERNAL_U8].sort((a, b) => a - b)).toEqual(enumValues(ColU8).sort((a, b) => a - b));
    expect(COLUMNS.filter((c) => c.source.kind === "address").map((c) => (c.source as { col: ColBytes }).col)).toEqual([ColBytes.OrigAddr, ColBytes.RespAddr]);
  });

  it("gives every column a unique name and the Arrow field the same name", () => {
    const names = STATS_COLUMNS.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    expect(STATS_SCHEMA.fields.map((f) => f.name)).toEqual(names);
    expect(SCHEMA.fields.map((f) => f.name)).toEqual(COLUMNS.map((c) => c.name));
  });

  it("is the schema of the tables analyze returns", async () => {
    const packets = new Conversation({ client: "10.0.0.1", server: "10.0.0.2", clientPort: 40000, serverPort: 80 }).handshake().close("client").packets();
    const { table } = await analyze(writePcap(packets, { linkType: LINKTYPE.ETHERNET }));
    expect(table.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual(SCHEMA.fields.map((f) => `${f.name}:${f.type}`));
  });
});

describe("README and docs/", () => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const columnsPage = readFileSync(new URL("../docs/columns.md", import.meta.url), "utf8");

  it("starts with the two quick-start commands", () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1]?.trim().split("\n");
    expect(firstBlock).toEqual(["npm install && npm start", "npm test"]);
  });

  /** Names in the first column of the Markdown tables between two headings. */
  const documentedIn = (from: string, to: string | undefined) => {
    const section = columnsPage.slice(columnsPage.indexOf(from), to === undefined ? undefined : columnsPage.indexOf(to));
    return [...section.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
  };

  it("documents every column, in schema order", () => {
    expect(documentedIn("# Columns", "## Packet statistics")).toEqual(COLUMNS.map((c) => c.name));
  });

  it("documents every packet statistics column, in schema order", () => {
    expect(documentedIn("## Packet statistics", "## Events")).toEqual(PACKET_STATS_COLUMNS.map((c) => c.name));
  });

  it("documents every events column, in schema order", () => {
    expect(documentedIn("## Events", "## Packets")).toEqual(EVENT_COLUMNS.map((c) => c.name));
  });

  it("documents every packets column, in schema order", () => {
    expect(documentedIn("## Packets", undefined)).toEqual(PACKET_COLUMNS.map((c) => c.name));
  });
});

/** The TypeScript type src/public.ts must name for a column of this Arrow type. */
function tsTypeName(type: DataType): string {
  if (DataType.isDictionary(type)) return `Dictionary<Utf8, ${type.indices.constructor.name}>`;
  if (DataType.isTimestamp(type)) return `Timestamp${TimeUnit[type.unit]!.charAt(0)}${TimeUnit[type.unit]!.slice(1).toLowerCase()}`;
  if (DataType.isDuration(type)) return `Duration${TimeUnit[type.unit]!.charAt(0)}${TimeUnit[type.unit]!.slice(1).toLowerCase()}`;
  return type.constructor.name;
}

/** `name: Type;` members of one type literal in src/public.ts, in order. */
function declaredColumns(typeName: string): [string, string][] {
  const text = readFileSync(new URL("../src/public.ts", import.meta.url), "utf8");
  const body = new RegExp(`export type ${typeName} = \\{\\n([^}]*)\\};`).exec(text);
  expect(body, typeName).not.toBeNull();
  return body![1]!.trim().split("\n").map((line) => /^\s*(\w+): (.+);$/.exec(line)!.slice(1, 3) as [string, string]);
}

describe("the rows' types (src/public.ts)", () => {
  it.each([["ConnectionColumns", SCHEMA], ["EventColumns", EVENT_SCHEMA], ["PacketColumns", PACKET_SCHEMA], ["PacketStatsColumns", new Schema(STATS_SCHEMA.fields.slice(SCHEMA.fields.length))]] as const)("%s names every column of the schema, in order, with its Arrow type", (typeName, schema) => {
    expect(declaredColumns(typeName)).toEqual(schema.fields.map((f) => [f.name, tsTypeName(f.type)]));
  });
});
