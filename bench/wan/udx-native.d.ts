// The parts of udx-native (no bundled types) that the WAN bench uses.
declare module "udx-native" {
  import type { Duplex } from "node:stream";

  interface UdxSocket {
    bind(port: number, host: string): void;
    address(): { host: string; family: number; port: number };
    setRecvBufferSize(size: number): number;
    setSendBufferSize(size: number): number;
    close(): Promise<void>;
  }

  interface UdxStream extends Duplex {
    connect(socket: UdxSocket, remoteId: number, port: number, host: string): void;
    readonly mtu: number;
    readonly rtt: number;
    readonly retransmits: number;
    readonly packetsTransmitted: number;
    readonly bytesTransmitted: number;
  }

  class UDX {
    createSocket(options?: Record<string, unknown>): UdxSocket;
    createStream(id: number, options?: Record<string, unknown>): UdxStream;
  }

  export default UDX;
}
