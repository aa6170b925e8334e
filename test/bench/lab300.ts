import { join } from "node:path";
import { repoRoot } from "../helpers/env.js";
import { makePackage, staticProgram, syntheticLayers, wrapPackage } from "../helpers/wrapped.js";
const step = staticProgram("step", join(repoRoot, "test/bench/step.c"));
const synth = syntheticLayers(298);
const pkg = wrapPackage(makePackage({ "bin/step": { from: step } }, "step300lab"), synth);
console.log(pkg);
