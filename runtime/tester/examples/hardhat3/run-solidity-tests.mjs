// Runs a Hardhat 3 project's Solidity tests in-process and times the test
// phase alone, for `cargo run -p forja-tester --example bench`.
//
//   node run-solidity-tests.mjs <project root> <result.json> <timed runs> [exclude regex]
//
// Must live in the Hardhat 3 install (the bench copies it there) so that
// `hardhat/hre` resolves from its node_modules. Compiles first (untimed:
// Hardhat's cache makes it a no-op after the first time), then runs
// `test solidity --no-compile` once untimed as a warm-up (EDR's context and
// the artifacts' first load) and `<timed runs>` times timed, skipping the
// tests whose name matches `[exclude regex]` (`--grep-exclude`). The
// reporter's output goes to stdout; the figures go to <result.json>.

import { writeFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

const [rootArgument, resultPath, timedRunsArgument, grepExclude] = process.argv.slice(2);
if (rootArgument === undefined || resultPath === undefined) {
  console.error(
    "usage: node run-solidity-tests.mjs <project root> <result.json> [timed runs] [exclude regex]",
  );
  process.exit(2);
}
const root = path.resolve(rootArgument);
const timedRuns = Number(timedRunsArgument ?? "3");
process.chdir(root);

const { createHardhatRuntimeEnvironment } = await import("hardhat/hre");
const started = performance.now();
const config = (await import(pathToFileURL(path.join(root, "hardhat.config.js")).href)).default;
const hre = await createHardhatRuntimeEnvironment(config, {}, root);
const hreMs = performance.now() - started;

const buildStarted = performance.now();
await hre.tasks.getTask("build").run({ quiet: true });
const buildMs = performance.now() - buildStarted;

/** One `test solidity --no-compile`: wall time and the counts EDR reported. */
async function testRun() {
  const runStarted = performance.now();
  const cpuStarted = process.cpuUsage();
  const result = await hre.tasks.getTask(["test", "solidity"]).run({ noCompile: true, grepExclude });
  const taskMs = performance.now() - runStarted;
  // CPU time of the whole process (EDR's worker threads included): less
  // sensitive than wall time to other work on a shared machine.
  const cpu = process.cpuUsage(cpuStarted);
  const cpuMs = (cpu.user + cpu.system) / 1e3;
  // Counted from EDR's results: the task's own summary is the reporter's,
  // which it fills only when printing to a terminal.
  const { suiteResults } = result.success ? result.value : result.error;
  const counts = { Success: 0, Failure: 0, Skipped: 0 };
  const failures = [];
  const tests = [];
  let suiteNs = 0n;
  for (const suite of suiteResults) {
    suiteNs += suite.durationNs;
    for (const test of suite.testResults) {
      counts[test.status] += 1;
      tests.push({ suite: suite.id.name, test: test.name, ms: Number(test.durationNs) / 1e6 });
      if (test.status === "Failure") {
        failures.push({ suite: suite.id.name, test: test.name, reason: test.reason ?? "" });
      }
    }
  }
  return {
    taskMs,
    cpuMs,
    suites: suiteResults.length,
    passed: counts.Success,
    failed: counts.Failure,
    skipped: counts.Skipped,
    suiteMs: Number(suiteNs) / 1e6,
    failures,
    tests,
  };
}

const warmup = await testRun();
const runs = [];
for (let i = 0; i < timedRuns; i++) {
  runs.push(await testRun());
}
writeFileSync(resultPath, JSON.stringify({ hreMs, buildMs, warmup, runs }, null, 2));
