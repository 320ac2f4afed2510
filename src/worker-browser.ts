// A browser Web Worker: one reducer, reached through comlink.

import { expose } from "comlink";
import { makeWorker } from "./reducer.js";

expose(makeWorker());
