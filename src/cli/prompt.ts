import { CliExit, EXIT } from "./exit.js";

/** Read a line from the terminal without echoing it. Throws `noTerminalExit` when there is no terminal. */
export function promptHidden(question: string, noTerminalStatus: number = EXIT.USAGE): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    return Promise.reject(new CliExit(noTerminalStatus, "no terminal to prompt for a password on"));
  }
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let answer = "";
    input.setRawMode(true);
    input.resume();
    input.setEncoding("utf8");
    const finish = (error?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off("data", onData);
      process.stderr.write("\n");
      if (error) reject(error);
      else resolve(answer);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") return finish();
        if (ch === "\u0003") return finish(new CliExit(EXIT.INTERRUPTED, ""));
        if (ch === "\u007f" || ch === "\b") answer = answer.slice(0, -1);
        else answer += ch;
      }
    };
    input.on("data", onData);
  });
}

/** All of standard input, first line only (trailing newline removed). */
export async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8").split(/\r?\n/)[0];
}
