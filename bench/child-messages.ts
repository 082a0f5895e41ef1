import type { ChildProcess } from "node:child_process";

/** The next IPC message of `type` from a benchmark's child process (rejects if it exits first). */
export function nextMessage<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string }): void => {
      if (m.type !== type) return;
      child.off("message", onMessage);
      resolve(m as T);
    };
    child.on("message", onMessage);
    child.once("exit", (code) => reject(new Error(`child exited (${code}) before "${type}"`)));
  });
}
