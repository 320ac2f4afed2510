// Type-checked by `npm test` (its `tsc -p tsconfig.json`): the package as its users import it, by
// its name through package.json "exports", whose "types" must exist and describe the API (it
// named a dist/index.d.ts that was never built). Nothing here runs.

import { analyze, connections, replayEvents, SynfinError, type AnalyzeOptions, type AnalyzeResult, type Stats } from "synfin";

export async function rowsAndStats(path: string): Promise<[number, Stats]> {
  const options: AnalyzeOptions = { workers: 1, flushInterval: 1, maxFlows: 10_000 };
  const result: AnalyzeResult = await analyze(path, options);
  let streamed = 0;
  for await (const batch of connections(path)) streamed += batch.numRows;
  return [result.table.numRows + streamed, result.stats];
}

export function offsetOf(e: unknown): number | undefined {
  return e instanceof SynfinError ? e.offset : undefined;
}

/** docs/columns.md's replayEvents example: the rows of the events table are what it takes. */
export async function replayFirst(path: string): Promise<boolean> {
  const { table, events } = await analyze(path, { events: true });
  const first = table.get(0)!;
  const replayed = replayEvents([...events!].filter((e) => e.conn_id === first.conn_id));
  return replayed.closed_ts === first.closed_ts && replayed.orig_state === first.orig_state;
}
