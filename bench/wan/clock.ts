/** Milliseconds of CLOCK_MONOTONIC: the same clock in every process, so timestamps compare across them. */
export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
