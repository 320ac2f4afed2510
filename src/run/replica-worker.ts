// A replica worker (replicated decode, src/run/replica.ts): opens the capture again in its own thread,
// runs a core of part Replica over all of it in steps of one input buffer, and hands back each
// step's rows as a reducer does. Loads no Arrow: it only copies rows out of the core.

import { transfer } from "comlink";
import { Status } from "../core/abi.js";
import { Core, Part, type CoreOptions } from "../core/core.js";
import { FileFeed } from "../input/feed.js";
import { drain, failure, type Reply } from "./reducer.js";
import type { RowBlock } from "../core/rows.js";
import type { ByteSource, SourceReplica, Stats } from "../public.js";

/** What a replica is asked to do: open these sources and keep the flows whose hash lies in `hashes`. */
export interface ReplicaRequest {
  options: CoreOptions;
  /** The first and last flow hash of its share (32-bit, inclusive). */
  hashes: [number, number];
  sources: SourceReplica[];
  chunkSize: number;
}

/** One step of a replica: the rows it finished, as a reducer returns them, and where it is. */
export interface ReplicaStep {
  blocks: RowBlock[];
  /** First packets of the flows it created in this step. */
  created: Float64Array;
  /** The first packet of its oldest live flow (Infinity when none is). */
  oldestLive: number;
  /** Records framed so far: the same in every replica after the same step. */
  records: number;
  /** Bytes read so far, and the source being read. */
  bytesRead: number;
  file: string;
  /** After the last step: the replica's counts. */
  stats?: Stats;
}

/** The worker side: `start` opens the sources, each `step` runs one buffer's worth on. */
export interface ReplicaApi {
  replicate(module: WebAssembly.Module, request: ReplicaRequest): Promise<Reply<null>>;
  /** The next step, or null after the last. Calls are answered in order, one at a time. */
  step(): Promise<Reply<ReplicaStep | null>>;
}

/** A replica worker's API; `open` opens a source again in this thread. */
export function replicaWorker(open: (replica: SourceReplica) => ByteSource): ReplicaApi {
  let steps: AsyncGenerator<ReplicaStep> | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  return {
    async replicate(module, request) {
      try {
        const core = await Core.create(module, { ...request.options, events: false, packets: false, packetStats: false });
        core.setParallel(Part.Replica);
        core.ownHashes(request.hashes[0], request.hashes[1]);
        steps = replicaSteps(core, request.sources.map(open), request.chunkSize);
        return null;
      } catch (e) {
        return failure(e);
      }
    },
    step() {
      const answer = queue.then(async (): Promise<Reply<ReplicaStep | null>> => {
        try {
          const next = await steps!.next();
          if (next.done) return null;
          const s = next.value;
          return transfer(s, [...s.blocks.map((b) => b.buffer), s.created.buffer as ArrayBuffer]);
        } catch (e) {
          return failure(e);
        }
      });
      queue = answer;
      return answer;
    },
  };
}

/** The replica's run: one step per input buffer, then the end of input. */
async function* replicaSteps(core: Core, sources: ByteSource[], chunkSize: number): AsyncGenerator<ReplicaStep> {
  let bytesRead = 0;
  let file = sources[0]?.name ?? "input";
  const step = (blocks: RowBlock[], last: boolean): ReplicaStep => {
    drain(core, blocks);
    const stats = core.stats();
    return { blocks, created: core.takeCreated(), oldestLive: last ? Infinity : core.oldestLive(), records: stats.records, bytesRead, file, stats: last ? stats : undefined };
  };
  try {
    for (const source of sources) {
      file = source.name;
      const feed = new FileFeed(core, source, chunkSize, (n) => { bytesRead += n; });
      do {
        await feed.fill();
        const blocks: RowBlock[] = [];
        while (true) {
          const framed = feed.frame();
          feed.consume(framed.consumed);
          if (framed.status !== Status.OutputFull) break;
          drain(core, blocks);
        }
        yield step(blocks, false);
      } while (feed.next());
      await source.close();
    }
    const blocks: RowBlock[] = [];
    while (core.finish() === Status.OutputFull) drain(core, blocks);
    yield step(blocks, true);
  } finally {
    await Promise.all(sources.map((s) => s.close().catch(() => undefined)));
  }
}
