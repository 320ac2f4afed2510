// A Node worker thread (worker_threads): one reducer, reached through comlink's Node adapter.

import { parentPort } from "node:worker_threads";
import { expose } from "comlink";
import nodeEndpoint from "comlink/dist/esm/node-adapter.mjs";
import { makeWorker } from "./reducer.js";

expose(makeWorker(), nodeEndpoint(parentPort!));
