/**
 * Triggers (server.md §16) with real scripts in a temporary trigger dir: arguments and
 * environment, naming, safety checks, timeout, concurrency, order, the queue bound, logging, and
 * the server never waiting; then `launch` and `recv.transferComplete` on real servers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { sendExtension } from "../../src/api/send-extension.js";
import { systemClock } from "../../src/server/clock.js";
import { receiveService } from "../../src/server/engine/receive-service.js";
import { ServerEvents } from "../../src/server/events.js";
import type { Logger } from "../../src/server/logger.js";
import { silentLogger } from "../../src/server/logger.js";
import {
  isTriggerName,
  triggerArguments,
  TriggerService,
  type TriggerSettings,
} from "../../src/server/triggers/index.js";
import { eventually, sendDirectory, startTestServer } from "../api/helpers.js";

interface LogRecord {
  level: string;
  msg: string;
  [field: string]: unknown;
}

function capturingLogger(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const logger = pino(
    { level: "debug", base: undefined, formatters: { level: (label) => ({ level: label }) } },
    { write: (line: string) => void records.push(JSON.parse(line) as LogRecord) },
  );
  return { logger, records };
}

async function script(dir: string, name: string, body: string, mode = 0o755): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, mode);
  return path;
}

interface Setup {
  dir: string;
  events: ServerEvents;
  service: TriggerService;
  records: LogRecord[];
  emit(name: string, fields?: Record<string, unknown>): void;
  cleanup(): Promise<void>;
}

async function setup(overrides: Partial<TriggerSettings> = {}): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), "slipstream-triggers-"));
  const { logger, records } = capturingLogger();
  const events = new ServerEvents({
    log: null,
    serverId: "f".repeat(32),
    clock: systemClock,
    logger: silentLogger(),
  });
  const service = new TriggerService({
    dir,
    logEveryRun: false,
    timeoutSeconds: 10,
    concurrency: 4,
    serverId: "f".repeat(32),
    apiPort: () => 8443,
    logger,
    killGraceMs: 100,
    ...overrides,
  });
  service.attach(events);
  return {
    dir,
    events,
    service,
    records,
    emit: (name, fields = {}) => void events.emit(name, fields),
    async cleanup() {
      service.stop();
      await service.idle();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const lines = async (path: string) => (await readFile(path, "utf8")).split("\n").filter((l) => l !== "");

test("trigger arguments follow api.md §7; absent values are empty strings", () => {
  assert.deepEqual(
    triggerArguments("recv.transferComplete", {
      transferId: "t1",
      sourceIP: "10.0.0.1",
      sourcePort: 4000,
      rootPath: "/data/in",
      totalFiles: 3,
      totalSize: 1024,
    }),
    ["t1", "10.0.0.1:4000", "/data/in", "3", "1024"],
  );
  assert.deepEqual(triggerArguments("launch", { apiPort: 8443, serverId: "s", serverUid: "u" }), [
    "8443",
    "s",
    "u",
  ]);
  assert.deepEqual(
    triggerArguments("recv.transferError", { transferId: "t", sourceIP: "::1", sourcePort: 9 }),
    ["t", "[::1]:9", "", ""],
  );
  // `dest` of an event that names only the destination comes from the lookup
  assert.deepEqual(
    triggerArguments(
      "send.transferQueued",
      { transferId: "t", destinationId: "d", destinationPath: "/in" },
      (id) => (id === "d" ? "192.0.2.7:8886" : null),
    ),
    ["t", "192.0.2.7:8886", "/in"],
  );
  assert.deepEqual(triggerArguments("server.apiTokenCreated", { tokenPrefix: "abcd1234", owner: "bob" }), [
    "abcd1234",
    "bob",
  ]);
  assert.deepEqual(triggerArguments("no.suchEvent", { a: 1 }), []);
  assert.deepEqual(triggerArguments("constructor", {}), []);
});

test("trigger names: the event name, or it plus one extension", () => {
  assert.ok(isTriggerName("recv.transferComplete", "recv.transferComplete", "linux"));
  assert.ok(isTriggerName("recv.transferComplete.sh", "recv.transferComplete", "linux"));
  assert.ok(!isTriggerName("recv.transferComplete.sh.bak", "recv.transferComplete", "linux"));
  assert.ok(!isTriggerName("recv.transferComplete.sh~", "recv.transferComplete", "linux"));
  assert.ok(!isTriggerName("recv.transferCompleted", "recv.transferComplete", "linux"));
  assert.ok(!isTriggerName("recv.transferComplete.", "recv.transferComplete", "linux"));
  assert.ok(!isTriggerName("launch", "recv.transferComplete", "linux"));
  assert.ok(isTriggerName("launch.CMD", "launch", "win32"));
  assert.ok(!isTriggerName("launch", "launch", "win32"));
  assert.ok(!isTriggerName("launch.sh", "launch", "win32"));
});

test("a script runs with the event's arguments, the extra environment, the trigger dir as cwd", async () => {
  const s = await setup({ env: { ...process.env, SLIPSTREAM_API_PASSWORD: "secret", KEEP_ME: "yes" } });
  try {
    const out = join(s.dir, "out.txt");
    await script(
      s.dir,
      "recv.transferComplete",
      [
        `out=${JSON.stringify(out)}`,
        `printf '%s\\n' "$#" "$1" "$2" "$3" "$4" "$5" > "$out"`,
        `printf '%s\\n' "$SLIPSTREAM_EVENT" "$SLIPSTREAM_API_PORT" "$SLIPSTREAM_SERVER_ID" >> "$out"`,
        `printf '%s\\n' "pwd=$(pwd)" "password=\${SLIPSTREAM_API_PASSWORD:-none}" "keep=$KEEP_ME" >> "$out"`,
        `printf 'stdin=%s\\n' "$(cat)" >> "$out"`,
        `printf '%s' "$SLIPSTREAM_EVENT_JSON" > "$out.json"`,
      ].join("\n"),
    );
    s.emit("recv.transferComplete", {
      transferId: "abc",
      sourceIP: "127.0.0.1",
      sourcePort: 5000,
      rootPath: "/srv/in dir",
      totalFiles: 2,
      totalSize: 77,
      receivingUser: "bob",
    });
    await s.service.idle();
    assert.deepEqual(await lines(out), [
      "5",
      "abc",
      "127.0.0.1:5000",
      "/srv/in dir",
      "2",
      "77",
      "recv.transferComplete",
      "8443",
      "f".repeat(32),
      `pwd=${s.dir}`,
      "password=none",
      "keep=yes",
      "stdin=",
    ]);
    const entry = JSON.parse(await readFile(`${out}.json`, "utf8")) as Record<string, unknown>;
    assert.equal(entry._event, "recv.transferComplete");
    assert.equal(entry.receivingUser, "bob");
    assert.equal(typeof entry._seq, "number");
    assert.equal(s.records.filter((r) => r.level === "warn").length, 0);
  } finally {
    await s.cleanup();
  }
});

test("every matching script runs, in name order; other names do not", async () => {
  const s = await setup({ concurrency: 1 });
  try {
    const out = join(s.dir, "order.txt");
    for (const name of ["ev.b", "ev", "ev.a", "ev.a.bak", "evx", "other"])
      await script(s.dir, name, `echo ${name} >> ${JSON.stringify(out)}`);
    s.emit("ev");
    await s.service.idle();
    assert.deepEqual(await lines(out), ["ev", "ev.a", "ev.b"]);
    // the directory is read again at each event
    await rm(join(s.dir, "ev.a"));
    await script(s.dir, "ev.c", `echo ev.c >> ${JSON.stringify(out)}`);
    s.emit("ev");
    await s.service.idle();
    assert.deepEqual((await lines(out)).slice(3), ["ev", "ev.b", "ev.c"]);
  } finally {
    await s.cleanup();
  }
});

test("unsafe scripts are skipped with a warning", async () => {
  const s = await setup();
  try {
    const out = join(s.dir, "ran.txt");
    await script(s.dir, "ev.groupwritable", `echo bad >> ${JSON.stringify(out)}`, 0o775);
    await script(s.dir, "ev.otherwritable", `echo bad >> ${JSON.stringify(out)}`, 0o757);
    await script(s.dir, "ev.noexec", `echo bad >> ${JSON.stringify(out)}`, 0o644);
    await mkdir(join(s.dir, "ev.dir"));
    if (process.getuid?.() === 0) {
      const foreign = await script(s.dir, "ev.foreign", `echo bad >> ${JSON.stringify(out)}`);
      await chown(foreign, 4321, 4321);
    }
    await script(s.dir, "ev.good", `echo good >> ${JSON.stringify(out)}`);
    s.emit("ev");
    await s.service.idle();
    assert.deepEqual(await lines(out), ["good"]);
    const skipped = s.records.filter((r) => r.msg === "trigger script skipped");
    const reasons = new Map(skipped.map((r) => [String(r.script).split(".").pop(), String(r.reason)]));
    assert.match(reasons.get("groupwritable") ?? "", /writable by group or others/);
    assert.match(reasons.get("otherwritable") ?? "", /writable by group or others/);
    assert.match(reasons.get("noexec") ?? "", /not executable/);
    assert.match(reasons.get("dir") ?? "", /not a regular file/);
    if (process.getuid?.() === 0) assert.match(reasons.get("foreign") ?? "", /owned by uid 4321/);
    assert.ok(skipped.every((r) => r.level === "warn" && r.event === "ev"));
  } finally {
    await s.cleanup();
  }
});

test("a run past the timeout gets SIGTERM, and SIGKILL after the grace period", async () => {
  const s = await setup({ timeoutSeconds: 0.2, killGraceMs: 100 });
  try {
    const marker = join(s.dir, "child.pid");
    await script(s.dir, "slow", `sleep 30 & echo $! > ${JSON.stringify(marker)}; wait`);
    await script(s.dir, "stubborn", "trap '' TERM\nwhile :; do sleep 0.05; done");
    s.emit("slow");
    s.emit("stubborn");
    await s.service.idle();
    const timedOut = s.records.filter((r) => r.msg === "trigger timed out");
    assert.equal(timedOut.length, 2);
    const bySignal = new Map(timedOut.map((r) => [String(r.script).split("/").pop(), r.signal]));
    assert.equal(bySignal.get("slow"), "SIGTERM");
    assert.equal(bySignal.get("stubborn"), "SIGKILL");
    assert.ok(timedOut.every((r) => r.level === "warn" && r.timedOut === true));
    // what the script started went with it (its process group got the signal)
    const childPid = Number((await readFile(marker, "utf8")).trim());
    await eventually(() => !alive(childPid));
  } finally {
    await s.cleanup();
  }
});

/** A process that exists and is not a zombie (an orphan waits for init to reap it). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = `/proc/${pid}/stat`;
  return !existsSync(stat) || readFileSync(stat, "utf8").split(" ")[2] !== "Z";
}

test("at most --trigger-concurrency scripts run at once; the rest wait and then run", async () => {
  const s = await setup({ concurrency: 2 });
  try {
    const started = join(s.dir, "started");
    const release = join(s.dir, "release");
    await mkdir(started);
    await script(
      s.dir,
      "ev",
      `touch ${JSON.stringify(started)}/$$\nwhile [ ! -e ${JSON.stringify(release)} ]; do sleep 0.02; done`,
    );
    for (let i = 1; i <= 5; i++) s.emit("ev", { n: i });
    const startedCount = () => readdirSync(started).length;
    await eventually(() => startedCount() >= 2);
    // give a third run the chance to start if the bound did not hold
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(startedCount(), 2, "only two run while they block");
    await writeFile(release, "");
    await s.service.idle();
    assert.equal(startedCount(), 5);
  } finally {
    await s.cleanup();
  }
});

test("runs start in event order, even when events come in a burst", async () => {
  const s = await setup({ concurrency: 1 });
  try {
    const out = join(s.dir, "seq.txt");
    await script(
      s.dir,
      "ev.sh",
      `echo "$SLIPSTREAM_EVENT_JSON" | sed 's/.*"n":\\([0-9]*\\).*/\\1/' >> ${JSON.stringify(out)}`,
    );
    for (let i = 1; i <= 20; i++) s.emit("ev", { n: i });
    await s.service.idle();
    assert.deepEqual(
      await lines(out),
      Array.from({ length: 20 }, (_, i) => String(i + 1)),
    );
  } finally {
    await s.cleanup();
  }
});

test("beyond the waiting limit runs are dropped with a warning", async () => {
  const s = await setup({ concurrency: 1, maxWaiting: 3 });
  try {
    const out = join(s.dir, "ran.txt");
    const release = join(s.dir, "release");
    await script(
      s.dir,
      "ev",
      `echo "$SLIPSTREAM_EVENT" >> ${JSON.stringify(out)}\nwhile [ ! -e ${JSON.stringify(release)} ]; do sleep 0.02; done`,
    );
    for (let i = 0; i < 10; i++) s.emit("ev");
    await s.service.lookupsDone();
    await writeFile(release, "");
    await s.service.idle();
    assert.equal((await lines(out)).length, 4, "one running and three waiting");
    const warnings = s.records.filter((r) => r.level === "warn").map((r) => r.msg);
    assert.ok(warnings.includes("too many trigger runs waiting: dropping new ones"), warnings.join());
    assert.equal(s.records.find((r) => r.msg === "trigger runs were dropped")?.dropped, 6);
  } finally {
    await s.cleanup();
  }
});

test("failures are warnings; --trigger-log logs every run with its first 4 KiB of output", async () => {
  const s = await setup({ logEveryRun: true });
  try {
    await script(s.dir, "ok", `printf 'x%.0s' $(seq 1 5000); echo done >&2`);
    await script(s.dir, "fails", "echo oops; exit 3");
    await writeFile(join(s.dir, "badinterpreter"), "#!/nonexistent/interpreter\n");
    await chmod(join(s.dir, "badinterpreter"), 0o755);
    s.emit("ok", { a: "1" });
    s.emit("fails");
    s.emit("badinterpreter");
    await s.service.idle();
    const ran = s.records.find((r) => r.msg === "trigger ran");
    assert.ok(ran);
    assert.equal(ran.level, "info");
    assert.equal(ran.event, "ok");
    assert.equal(ran.exitCode, 0);
    assert.equal(typeof ran.durationMs, "number");
    assert.deepEqual(ran.args, []);
    assert.equal(String(ran.output).length, 4096);
    assert.equal(ran.outputTruncated, true);
    const failed = s.records.find((r) => r.msg === "trigger failed");
    assert.ok(failed);
    assert.equal(failed.level, "warn");
    assert.equal(failed.exitCode, 3);
    assert.equal(failed.output, "oops\n");
    const notStarted = s.records.find((r) => r.msg === "trigger could not start");
    assert.ok(notStarted);
    assert.equal(notStarted.level, "warn");
    assert.match(String(notStarted.startError), /ENOENT/);
  } finally {
    await s.cleanup();
  }
});

test("the server never waits: a login completes while its trigger is still running", async () => {
  const dir = await mkdtemp(join(tmpdir(), "slipstream-triggers-"));
  const started = join(dir, "started");
  const release = join(dir, "release");
  await script(
    dir,
    "auth.login",
    `touch ${JSON.stringify(started)}\nwhile [ ! -e ${JSON.stringify(release)} ]; do sleep 0.02; done`,
  );
  const server = await startTestServer({ triggerDir: dir });
  try {
    const client = await server.admin();
    const echoed = await client.call("echo", { text: "still answering" });
    assert.equal(echoed, "still answering");
    await eventually(() => existsSync(started));
    assert.equal(existsSync(release), false);
    client.close();
  } finally {
    await writeFile(release, "");
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test("launch runs at server start with $1 = the API port", async () => {
  const dir = await mkdtemp(join(tmpdir(), "slipstream-triggers-"));
  const out = join(dir, "launch.txt");
  await script(
    dir,
    "launch.sh",
    `printf '%s\\n' "$1" "$2" "$3" "$SLIPSTREAM_API_PORT" > ${JSON.stringify(out)}`,
  );
  const server = await startTestServer({ triggerDir: dir });
  try {
    await eventually(() => existsSync(out) && readFileText(out).split("\n").length >= 4);
    const [port, serverId, serverUid, envPort] = readFileText(out).split("\n");
    assert.equal(port, String(server.handle.apiPort));
    assert.equal(serverId, server.handle.serverId);
    assert.equal(serverUid, server.handle.serverUid);
    assert.equal(envPort, String(server.handle.apiPort));
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

function readFileText(path: string): string {
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

test("recv.transferComplete fires on the receiver after a real loopback transfer", async () => {
  const base = await mkdtemp(join(tmpdir(), "slipstream-triggers-"));
  const triggerDir = join(base, "triggers");
  await mkdir(triggerDir);
  const out = join(base, "complete.txt");
  await script(
    triggerDir,
    "recv.transferComplete.sh",
    `printf '%s\\n' "$1" "$2" "$3" "$4" "$5" "$SLIPSTREAM_EVENT" > ${JSON.stringify(out)}.tmp && mv ${JSON.stringify(out)}.tmp ${JSON.stringify(out)}`,
  );
  const receiver = await startTestServer(
    { recvPorts: [0], recvAllowAnonymous: true, sandboxDir: join(base, "recv", "%u"), triggerDir },
    { extensions: [receiveService(), sendExtension()] },
  );
  const sender = await startTestServer({}, { extensions: [receiveService(), sendExtension()] });
  try {
    const rc = await receiver.admin();
    const info = (await rc.call("getServerInfo", {})) as { receiver: { recvPorts: { port: number }[] } };
    const recvPort = info.receiver.recvPorts[0]!.port;
    const src = join(base, "src");
    await mkdir(src);
    await writeFile(join(src, "a.txt"), "hello");
    await writeFile(join(src, "b.txt"), "world!");
    const api = await sender.admin();
    const end = await sendDirectory(api, recvPort, src);

    assert.equal(end.status, "complete");
    await eventually(() => existsSync(out), 5000);
    const [id, source, rootPath, files, bytes, event] = readFileText(out).split("\n");
    assert.equal(id, end.transferId);
    assert.match(source ?? "", /^127\.0\.0\.1:\d+$/);
    assert.equal(rootPath, join(base, "recv", "anonymous", "drop"));
    assert.equal(files, "2");
    assert.equal(bytes, "11");
    assert.equal(event, "recv.transferComplete");
    rc.close();
    api.close();
  } finally {
    await sender.stop();
    await receiver.stop();
    await rm(base, { recursive: true, force: true });
  }
});
