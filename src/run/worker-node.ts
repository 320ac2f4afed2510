// A Node worker thread (worker_threads): a mapper and reducer, or a replica, reached through
// comlink's Node adapter.

import { parentPort } from "node:worker_threads";
import { expose } from "comlink";
import nodeEndpoint from "comlink/dist/esm/node-adapter.mjs";
import { openReplica } from "../input/file-source.js";
import { makeWorker } from "./reducer.js";
import { replicaWorker } from "./replica-worker.js";

expose({ ...makeWorker(), ...replicaWorker(openReplica) }, nodeEndpoint(parentPort!));
