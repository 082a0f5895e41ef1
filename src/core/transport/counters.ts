import type { Micros } from "../time.js";

/** Monotonic counters of one connection, read by the 1-second snapshots. */
export class ConnectionCounters {
  packetsSent = 0;
  bytesSent = 0;
  dataPacketsSent = 0;
  /** data packets that carried a block sent before */
  dataPacketsRetransmitted = 0;
  dataPacketsLost = 0;
  packetsRecv = 0;
  bytesRecv = 0;
  dataPacketsRecv = 0;
  /** datagrams dropped as malformed, unauthentic or of an unknown version */
  packetsInvalid = 0;
  packetsDuplicate = 0;
  /** ACKs naming packets never sent */
  acksInvalid = 0;
  acksSent = 0;
  pingsSent = 0;
  ptoCount = 0;
  lastSendTime: Micros | null = null;
  /** the latest valid (checksum-correct or authenticated) datagram from the peer */
  lastRecvTime: Micros | null = null;
}
