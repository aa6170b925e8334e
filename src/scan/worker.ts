// A scan worker: reads its share of the files and posts the results back.
import { parentPort, workerData } from "node:worker_threads";
import { scanFiles, type FileTask } from "./files.js";

parentPort!.postMessage(scanFiles(workerData as FileTask[]));
