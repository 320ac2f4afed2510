// A browser Web Worker: a mapper and reducer, or a replica over a Blob, reached through comlink.

import { expose } from "comlink";
import { makeWorker } from "./reducer.js";
import { replicaWorker } from "./replica-worker.js";
import { openBlobReplica } from "../input/sources.js";

expose({ ...makeWorker(), ...replicaWorker(openBlobReplica) });
